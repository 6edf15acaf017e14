//! Existing accounts: listing them, changing, deleting, and ending their sessions.

use crate::app::AppState;
use crate::error::Error;
use crate::identity::accounts::{COMPANY_ROLES, parse_full_name};
use crate::identity::password;
use crate::store::company::Page;
use crate::store::db::write_tx;
use crate::store::primary::users::{self, User, UserChanges, UserFilter};
use crate::store::primary::{audit, refresh_tokens};

use super::{Scope, company_id_of, hash_password};

/// Which accounts a listing holds. In a company scope `company` is ignored: the listing
/// holds the users of the actor's company.
#[derive(Debug, Default)]
pub struct Filter {
    /// The company's id or slug (unknown → 404).
    pub company: Option<String>,
    pub role: Option<String>,
}

/// Changes to an account as given; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// `Some(None)` clears the name.
    pub full_name: Option<Option<String>>,
    pub role: Option<String>,
    pub is_active: Option<bool>,
    /// Only for every account's scope (a company admin never sets a password).
    pub password: Option<String>,
}

/// One page of the scope's accounts matching `filter`, and how many match in all.
pub async fn list(
    app: &AppState,
    scope: &Scope<'_>,
    filter: Filter,
    page: Page,
) -> Result<(Vec<User>, u64), Error> {
    let company_id = match (scope.company, filter.company) {
        (Some(own), _) => Some(own),
        (None, Some(key)) => Some(company_id_of(app, key).await?),
        (None, None) => None,
    };
    let filter = UserFilter {
        company_id,
        role: filter.role,
    };
    app.with_primary(move |conn| Ok(users::list(conn, &filter, page.limit, page.offset)?))
        .await
}

/// The scope's account with public id `id`.
pub async fn get(app: &AppState, scope: &Scope<'_>, id: String) -> Result<User, Error> {
    scope.target(app, id).await
}

/// Applies `changes` to the scope's account `id`. Deactivating it or setting a password
/// ends its sessions; a company admin changes neither its own role nor its active flag,
/// and nobody deactivates the last active super admin.
pub async fn update(
    app: &AppState,
    scope: &Scope<'_>,
    id: String,
    changes: AccountChanges,
) -> Result<User, Error> {
    let target = scope.target(app, id).await?;
    let company_scope = scope.company.is_some();
    if company_scope
        && target.id == scope.actor.user_id
        && (changes.role.is_some() || changes.is_active == Some(false))
    {
        return Err(Error::Conflict(
            "you cannot change your own role or deactivate yourself".into(),
        ));
    }
    let full_name = match &changes.full_name {
        Some(name) => Some(parse_full_name(name.as_deref())?),
        None => None,
    };
    if let Some(role) = &changes.role {
        let ok = if target.company_id.is_some() {
            COMPANY_ROLES.contains(&role.as_str())
        } else {
            role == "super_admin"
        };
        // The role exists (the schema says which) but does not fit this account: a
        // conflict with the account's state, not a malformed field.
        if !ok {
            return Err(Error::Conflict(if target.company_id.is_some() {
                "a company user's role must be admin, analyst or viewer".into()
            } else {
                "a super admin cannot be given a company role".into()
            }));
        }
    }
    let hashed = match changes.password {
        Some(_) if company_scope => {
            return Err(Error::invalid("password", "cannot be set here"));
        }
        Some(secret) => {
            password::check_strength(&secret).map_err(|m| Error::invalid("password", m))?;
            Some(hash_password(app, secret).await?)
        }
        None => None,
    };
    let (role, is_active) = (changes.role, changes.is_active);
    let actor_id = scope.actor.user_id;
    app.with_primary(move |conn| {
        let tx = write_tx(conn)?;
        if target.role == "super_admin"
            && (is_active == Some(false))
            && users::other_active_super_admins(&tx, target.id)? == 0
        {
            return Err(Error::Conflict(
                "cannot deactivate the last active super admin".into(),
            ));
        }
        let changes = UserChanges {
            full_name: full_name.as_ref().map(|n| n.as_deref()),
            role: role.as_deref(),
            is_active,
            hashed_password: hashed.as_deref(),
        };
        users::update(&tx, target.id, &changes)?;
        // A deactivated account or a new password ends every session at once.
        if is_active == Some(false) || hashed.is_some() {
            refresh_tokens::revoke_all_for_user(&tx, target.id, None)?;
        }
        let detail = serde_json::json!({"role": role, "is_active": is_active,
            "full_name_changed": full_name.is_some(), "password_changed": hashed.is_some()});
        audit::record(&tx, actor_id, "user.update", &target.uuid, &detail)?;
        let user = users::get_by_id(&tx, target.id)?.ok_or_else(|| Error::not_found("user"))?;
        tx.commit()?;
        Ok(user)
    })
    .await
    .inspect(|_| app.principals.invalidate())
}

/// Deletes the scope's account `id`: never the actor itself, nor the last active super
/// admin.
pub async fn delete(app: &AppState, scope: &Scope<'_>, id: String) -> Result<(), Error> {
    let target = scope.target(app, id).await?;
    if target.id == scope.actor.user_id {
        return Err(Error::Conflict("you cannot delete yourself".into()));
    }
    let actor_id = scope.actor.user_id;
    app.with_primary(move |conn| {
        let tx = write_tx(conn)?;
        if target.role == "super_admin" && users::other_active_super_admins(&tx, target.id)? == 0 {
            return Err(Error::Conflict(
                "cannot delete the last active super admin".into(),
            ));
        }
        users::delete(&tx, target.id)?;
        let detail = serde_json::json!({"email": target.email});
        audit::record(&tx, actor_id, "user.delete", &target.uuid, &detail)?;
        tx.commit()?;
        Ok(())
    })
    .await
    .inspect(|_| app.principals.invalidate())
}

/// Ends every session of the scope's account `id`: its refresh tokens and the access
/// tokens issued for them stop working at once. Returns how many refresh tokens were
/// revoked.
pub async fn end_sessions(app: &AppState, scope: &Scope<'_>, id: String) -> Result<usize, Error> {
    let target = scope.target(app, id).await?;
    let actor_id = scope.actor.user_id;
    app.with_primary(move |conn| {
        let tx = write_tx(conn)?;
        let revoked = refresh_tokens::revoke_all_for_user(&tx, target.id, None)?;
        let detail = serde_json::json!({"revoked_refresh_tokens": revoked});
        audit::record(&tx, actor_id, "user.sessions_end", &target.uuid, &detail)?;
        tx.commit()?;
        Ok(revoked)
    })
    .await
    .inspect(|_| app.principals.invalidate())
}
