//! Sessions on primary.db: logging in (rate limited, argon2 on the hashing threads),
//! trading a refresh token for a new pair, logging out, the caller's own account and
//! changing its password.

use crate::app::AppState;
use crate::error::Error;
use crate::identity::{Actor, password};
use crate::store::db::write_tx;
use crate::store::primary::refresh_tokens::{self, Rotation};
use crate::store::primary::users::{self, User, UserChanges};

/// A session just opened or renewed: the user and its new tokens.
pub struct Session {
    pub user: User,
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

/// The caller's account and its permissions, sorted.
pub struct Me {
    pub user: User,
    pub permissions: Vec<String>,
}

/// Logs in with email and password, from client `address`. Failed attempts are rate
/// limited per email and address; unknown emails cost what known ones cost.
pub async fn login(
    app: &AppState,
    email: &str,
    secret: String,
    address: &str,
) -> Result<Session, Error> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.chars().count() > 254 {
        return Err(Error::invalid("email", "must be an email address"));
    }
    if secret.chars().count() > password::MAX_PASSWORD_CHARS {
        return Err(Error::invalid("password", "is too long"));
    }
    let attempt = app
        .login_limiter
        .reserve(&email, address)
        .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })?;
    let user = app
        .read_primary(move |conn| Ok(users::get_by_email(conn, &email)?))
        .await?;
    // Unknown emails are verified against a dummy hash: the same cost, no timing oracle.
    let verified = match user.clone() {
        Some(user) => {
            app.hash_work(move || password::verify(&user.hashed_password, &secret))
                .await?
        }
        None => {
            // The same cost as a real check; the result does not matter.
            app.hash_work(move || password::verify_dummy(&secret))
                .await?;
            false
        }
    };
    let user = match user {
        Some(user) if verified => user,
        _ => {
            app.login_limiter.settle(attempt, false);
            return Err(Error::Unauthorized("wrong email or password".into()));
        }
    };
    if !user.is_active {
        return Err(Error::Unauthorized("this account is deactivated".into()));
    }
    if user.company_active == Some(false) {
        return Err(Error::company_inactive());
    }
    app.login_limiter.settle(attempt, true);
    let family = uuid::Uuid::new_v4().to_string();
    let (user_id, fam) = (user.id, family.clone());
    let refresh_token = app
        .with_primary(move |conn| {
            users::touch_last_login(conn, user_id)?;
            Ok(refresh_tokens::issue(conn, user_id, &fam)?)
        })
        .await?;
    open(app, user, &family, refresh_token)
}

/// Trades a refresh token for a new pair: the old one is spent, and presenting it again
/// revokes its whole session.
pub async fn refresh(app: &AppState, token: String) -> Result<Session, Error> {
    let rotation = app
        .with_primary(move |conn| Ok(refresh_tokens::rotate(conn, &token)?))
        .await?;
    let (user_id, family, new_token) = match rotation {
        Rotation::Rotated {
            user_id,
            family,
            token,
        } => (user_id, family, token),
        Rotation::Invalid => {
            return Err(Error::Unauthorized(
                "invalid or expired refresh token".into(),
            ));
        }
        Rotation::Reused => {
            app.principals.invalidate();
            tracing::warn!("refresh token reused; its session family was revoked");
            return Err(Error::Unauthorized(
                "refresh token already used; the session has been revoked, log in again".into(),
            ));
        }
    };
    let user = app
        .with_primary(move |conn| Ok(users::get_by_id(conn, user_id)?))
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired refresh token".into()))?;
    if !user.is_active || user.company_active == Some(false) {
        let fam = family.clone();
        app.with_primary(move |conn| Ok(refresh_tokens::revoke_family(conn, &fam)?))
            .await?;
        app.principals.invalidate();
        return Err(Error::Unauthorized(
            "this account or its company is deactivated".into(),
        ));
    }
    open(app, user, &family, new_token)
}

/// Issues the access token of `user`'s session `family`.
fn open(app: &AppState, user: User, family: &str, refresh_token: String) -> Result<Session, Error> {
    let (access_token, expires_in) = app
        .keys
        .issue(&user.uuid, user.company_uuid.as_deref(), &user.role, family)
        .map_err(Error::internal)?;
    Ok(Session {
        user,
        access_token,
        expires_in,
        refresh_token,
    })
}

/// Ends the actor's session of refresh token `token` (an unknown token is ignored): the
/// token and every access token issued for it stop working at once.
pub async fn logout(app: &AppState, actor: &Actor, token: String) -> Result<(), Error> {
    let user_id = actor.user_id;
    app.with_primary(move |conn| Ok(refresh_tokens::revoke_by_token(conn, user_id, &token)?))
        .await?;
    app.principals.invalidate();
    Ok(())
}

/// The actor's account and permissions.
pub async fn me(app: &AppState, actor: &Actor) -> Result<Me, Error> {
    let user_id = actor.user_id;
    let user = app
        .read_primary(move |conn| Ok(users::get_by_id(conn, user_id)?))
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired token".into()))?;
    let mut permissions: Vec<String> = actor.permissions.iter().cloned().collect();
    permissions.sort();
    Ok(Me { user, permissions })
}

/// Changes the actor's password after checking the current one; the actor's other
/// sessions end, this one keeps its refresh token.
pub async fn change_password(
    app: &AppState,
    actor: &Actor,
    current: String,
    new: String,
) -> Result<(), Error> {
    password::check_strength(&new).map_err(|m| Error::invalid("new_password", m))?;
    if current.chars().count() > password::MAX_PASSWORD_CHARS {
        return Err(Error::invalid("current_password", "is too long"));
    }
    let user_id = actor.user_id;
    let user = app
        .with_primary(move |conn| Ok(users::get_by_id(conn, user_id)?))
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired token".into()))?;
    let hashed = app
        .hash_work(move || {
            if !password::verify(&user.hashed_password, &current) {
                return Ok(None);
            }
            password::hash(&new).map(Some)
        })
        .await?
        .map_err(|e| Error::internal(anyhow::anyhow!("hashing: {e}")))?
        .ok_or_else(|| Error::Forbidden("current_password is wrong".into()))?;
    let session = actor.session.clone();
    app.with_primary(move |conn| {
        let tx = write_tx(conn)?;
        let changes = UserChanges {
            hashed_password: Some(&hashed),
            ..Default::default()
        };
        users::update(&tx, user_id, &changes)?;
        // Other sessions end; this one keeps its refresh token.
        refresh_tokens::revoke_all_for_user(&tx, user_id, Some(&session))?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    app.principals.invalidate();
    Ok(())
}

/// Who `token` (an access token) authenticates: the user, role and company rows from
/// primary.db (both active), reused from the principal cache for a moment. A deactivation,
/// a role change or an ended session takes effect on the next request through this
/// process at once.
pub async fn authenticate(app: &AppState, token: &str) -> Result<Actor, Error> {
    let claims = app
        .keys
        .verify(token)
        .ok_or_else(|| Error::unauthorized("invalid or expired token"))?;
    let loaded = match app.principals.get(&claims.sub, &claims.sid) {
        Some(loaded) => loaded,
        None => {
            let generation = app.principals.generation();
            let (sub, sid) = (claims.sub.clone(), claims.sid.clone());
            let principal = app
                .read_primary(move |conn| Ok(users::principal(conn, &sub, &sid)?))
                .await?
                .ok_or_else(|| Error::unauthorized("invalid or expired token"))?;
            app.principals
                .insert(&claims.sub, &claims.sid, generation, principal)
        }
    };
    let principal = &loaded.principal;
    if !principal.is_active {
        return Err(Error::unauthorized("this account is deactivated"));
    }
    // Logout, a password change or "end all sessions" ended this token's session.
    if !principal.session_live {
        return Err(Error::unauthorized("this session has ended; log in again"));
    }
    // A token minted for another company (the user was moved) is no longer valid.
    if principal.company_uuid.as_deref() != claims.company.as_deref() {
        return Err(Error::unauthorized("invalid or expired token"));
    }
    if principal.company_usable == Some(false) {
        return Err(Error::company_inactive());
    }
    Ok(Actor {
        user_id: principal.id,
        user_uuid: principal.uuid.clone(),
        email: principal.email.clone(),
        role: principal.role.clone(),
        company_id: principal.company_id,
        company_uuid: principal.company_uuid.clone(),
        session: claims.sid,
        permissions: loaded.permissions.clone(),
    })
}
