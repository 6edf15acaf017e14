//! User management shared by the super-admin API (any company) and the company-admin API
//! (own company only): the response shape, input checks and the create/update/delete steps.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, Error};
use crate::app::AppState;
use crate::identity::Actor;
use crate::identity::accounts::{COMPANY_ROLES, check_role, parse_email, parse_full_name};
use crate::identity::password;
use crate::store::db::write_tx;
use crate::store::primary::users::{self, NewUser, User, UserChanges};
use crate::store::primary::{audit, refresh_tokens};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub role: String,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login: Option<String>,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        UserResponse {
            id: u.uuid,
            email: u.email,
            username: u.username,
            full_name: u.full_name,
            role: u.role,
            company_id: u.company_uuid,
            company_name: u.company_name,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login: u.last_login,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(pattern = "text:email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<String>,
    /// admin, analyst or viewer for a company user; super_admin for one without a company.
    #[schema(pattern = "^(admin|analyst|viewer|super_admin)$")]
    pub role: String,
    /// The company's id or slug (an unknown one answers 404).
    #[schema(min_length = 1, max_length = 100)]
    pub company_id: Option<String>,
}

/// A new user of the caller's own company (company admins: no company_id, no super admin).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompanyUser {
    #[schema(pattern = "text:email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<String>,
    #[schema(pattern = "^(admin|analyst|viewer)$")]
    pub role: String,
}

impl From<CreateCompanyUser> for CreateUser {
    fn from(u: CreateCompanyUser) -> Self {
        CreateUser {
            email: u.email,
            password: u.password,
            full_name: u.full_name,
            role: u.role,
            company_id: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// null clears it.
    #[serde(default, deserialize_with = "super::validate::double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<Option<String>>,
    #[schema(pattern = "^(admin|analyst|viewer|super_admin)$")]
    pub role: Option<String>,
    pub is_active: Option<bool>,
    /// Only for the super-admin API.
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
}

/// What a company admin may change about a user of its company: not the password (the user
/// changes it, or a super admin sets one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCompanyUser {
    /// null clears it.
    #[serde(default, deserialize_with = "super::validate::double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<Option<String>>,
    #[schema(pattern = "^(admin|analyst|viewer)$")]
    pub role: Option<String>,
    pub is_active: Option<bool>,
}

impl From<UpdateCompanyUser> for UpdateUser {
    fn from(u: UpdateCompanyUser) -> Self {
        UpdateUser {
            full_name: u.full_name,
            role: u.role,
            is_active: u.is_active,
            password: None,
        }
    }
}

/// Creates a user in `company_id` (None only for super admins) after checking the input.
///
/// A taken email answers the same 409 whether the address is in the caller's company or
/// another; a company admin gets at most [`App::email_probes`](crate::app::App) such
/// answers an hour, then 429.
pub async fn create_user(
    app: &AppState,
    actor: &Actor,
    body: CreateUser,
    company_id: Option<i64>,
) -> ApiResult<User> {
    let probe = match actor.company_id {
        Some(_) => Some(
            app.email_probes
                .reserve(&actor.user_uuid, "-")
                .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })?,
        ),
        None => None,
    };
    let created = insert_user(app, actor, body, company_id).await;
    if let Some(probe) = probe {
        let conflict = matches!(created, Err(Error::Conflict(_)));
        app.email_probes.settle(probe, !conflict);
    }
    created
}

async fn insert_user(
    app: &AppState,
    actor: &Actor,
    body: CreateUser,
    company_id: Option<i64>,
) -> ApiResult<User> {
    let email = parse_email(&body.email)?;
    let full_name = parse_full_name(body.full_name.as_deref())?;
    check_role(&body.role, company_id.is_some())?;
    password::check_strength(&body.password).map_err(|m| Error::invalid("password", m))?;
    let role = body.role;
    let secret = body.password;
    let hashed = app
        .hash_work(move || password::hash(&secret))
        .await?
        .map_err(|e| Error::internal(anyhow::anyhow!("hashing: {e}")))?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let actor_id = actor.user_id;
    app.with_primary(move |conn| {
        let tx = write_tx(conn)?;
        let new = NewUser {
            uuid: &uuid,
            email: &email,
            username: &email,
            hashed_password: &hashed,
            full_name: full_name.as_deref(),
            company_id,
            role: &role,
        };
        match users::insert(&tx, &new) {
            Ok(_) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(Error::Conflict(
                    "this email address cannot be used for a new account".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let detail = serde_json::json!({"email": email, "role": role});
        audit::record(&tx, actor_id, "user.create", &uuid, &detail)?;
        let user = users::get_by_uuid(&tx, &uuid)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("user vanished")))?;
        tx.commit()?;
        Ok(user)
    })
    .await
}

/// Applies `body` to `target`. `allow_password` is false for company admins.
pub async fn update_user(
    app: &AppState,
    actor: &Actor,
    target: User,
    body: UpdateUser,
    allow_password: bool,
) -> ApiResult<User> {
    let full_name = match &body.full_name {
        Some(name) => Some(parse_full_name(name.as_deref())?),
        None => None,
    };
    if let Some(role) = &body.role {
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
    let hashed = match body.password {
        Some(_) if !allow_password => {
            return Err(Error::invalid("password", "cannot be set here"));
        }
        Some(secret) => {
            password::check_strength(&secret).map_err(|m| Error::invalid("password", m))?;
            Some(
                app.hash_work(move || password::hash(&secret))
                    .await?
                    .map_err(|e| Error::internal(anyhow::anyhow!("hashing: {e}")))?,
            )
        }
        None => None,
    };
    let (role, is_active) = (body.role, body.is_active);
    let actor_id = actor.user_id;
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

pub async fn delete_user(app: &AppState, actor: &Actor, target: User) -> ApiResult<()> {
    let actor_id = actor.user_id;
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

/// Ends every session of `target`: its refresh tokens and the access tokens issued for them
/// stop working at once. Returns how many refresh tokens were revoked.
pub async fn end_sessions(app: &AppState, actor: &Actor, target: User) -> ApiResult<usize> {
    let actor_id = actor.user_id;
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

/// Loads a user by public id; ids that are not UUIDs are simply not found.
pub async fn find_user(app: &AppState, id: String) -> ApiResult<User> {
    app.read_primary(move |conn| Ok(users::get_by_uuid(conn, &id)?))
        .await?
        .ok_or_else(|| Error::not_found("user"))
}
