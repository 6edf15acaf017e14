//! Creating accounts: by an admin through a [`Scope`], by the operator on the command line,
//! and the first super admin of a new installation. All of them go through [`insert`].

use crate::app::AppState;
use crate::error::Error;
use crate::identity::accounts::{check_role, parse_email, parse_full_name};
use crate::identity::password;
use crate::store::db::write_tx;
use crate::store::primary::audit;
use crate::store::primary::users::{self, NewUser, User};

use super::{Scope, company_id_of, hash_password};

/// A new account as given; [`insert`] checks every field.
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub full_name: Option<String>,
    /// admin, analyst or viewer for a company user; super_admin for one without a company.
    pub role: String,
}

/// Creates a user in the scope: in a company scope, a user of the actor's company (never a
/// super admin); for every account, one of `company` (its id or slug; unknown → 404), or
/// a super admin without one.
///
/// A taken email answers the same 409 whether the address is in the caller's company or
/// another; a company admin gets at most [`App::email_probes`](crate::app::App) such
/// answers an hour, then 429.
pub async fn create_user(
    app: &AppState,
    scope: &Scope<'_>,
    account: NewAccount,
    company: Option<String>,
) -> Result<User, Error> {
    let company_id = match scope.company {
        Some(_) if account.role == "super_admin" => {
            return Err(Error::invalid(
                "role",
                "must be one of admin, analyst, viewer",
            ));
        }
        Some(own) => Some(own),
        // An unknown company is not found, like any id that names nothing.
        None => match company {
            Some(key) => Some(company_id_of(app, key).await?),
            None => None,
        },
    };
    let actor = scope.actor;
    let probe = match actor.company_id {
        Some(_) => Some(
            app.email_probes
                .reserve(&actor.user_uuid, "-")
                .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })?,
        ),
        None => None,
    };
    let created = insert(app, account, company_id, Some(actor.user_id)).await;
    if let Some(probe) = probe {
        let conflict = matches!(created, Err(Error::Conflict(_)));
        app.email_probes.settle(probe, !conflict);
    }
    created
}

/// Creates a user for the operator (the command line), who acts as no user: there is no
/// permission to check and, as for the bootstrap, no audit row.
pub async fn create_by_operator(
    app: &AppState,
    account: NewAccount,
    company_id: Option<i64>,
) -> Result<User, Error> {
    insert(app, account, company_id, None).await
}

/// Creates the first super admin when the installation has none. Returns the generated
/// password when none was given, for the caller to print once.
pub async fn ensure_super_admin(
    app: &AppState,
    email: &str,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let existing = app
        .read_primary(|conn| Ok(users::count_with_role(conn, "super_admin")?))
        .await?;
    if existing > 0 {
        return Ok(None);
    }
    let generated = password.is_none().then(password::generate);
    let secret = password
        .map(str::to_string)
        .or_else(|| generated.clone())
        .expect("one of them is set");
    let account = NewAccount {
        email: email.to_string(),
        password: secret,
        full_name: Some("Super Admin".into()),
        role: "super_admin".into(),
    };
    match insert(app, account, None, None).await {
        Ok(_) => {}
        Err(Error::Invalid { field, message }) if field == "password" => {
            anyhow::bail!("SILO_ADMIN_PASSWORD {message}")
        }
        Err(e) => return Err(anyhow::Error::from(e).context("creating the first super admin")),
    }
    tracing::info!(%email, "created the first super admin");
    Ok(generated)
}

/// The one insert of a user: checks the email, the name, the role (against having a
/// company or not) and the password's strength, hashes the password, and inserts the row
/// with its audit row (written when `by`, the acting user, is known). A taken email is a
/// 409 that does not say where the address is used.
async fn insert(
    app: &AppState,
    account: NewAccount,
    company_id: Option<i64>,
    by: Option<i64>,
) -> Result<User, Error> {
    let email = parse_email(&account.email)?;
    let full_name = parse_full_name(account.full_name.as_deref())?;
    check_role(&account.role, company_id.is_some())?;
    password::check_strength(&account.password).map_err(|m| Error::invalid("password", m))?;
    let role = account.role;
    let hashed = hash_password(app, account.password).await?;
    let uuid = uuid::Uuid::new_v4().to_string();
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
        if let Some(actor_id) = by {
            let detail = serde_json::json!({"email": email, "role": role});
            audit::record(&tx, actor_id, "user.create", &uuid, &detail)?;
        }
        let user = users::get_by_uuid(&tx, &uuid)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("user vanished")))?;
        tx.commit()?;
        Ok(user)
    })
    .await
}
