//! User accounts: who may manage which accounts ([`Scope`]), creating them (one insert,
//! shared by the APIs, the command line and the bootstrap), and listing, changing, deleting
//! and signing out the existing ones.

mod create;
mod manage;

pub use create::{NewAccount, create_by_operator, create_user, ensure_super_admin};
pub use manage::{AccountChanges, Filter, delete, end_sessions, get, list, update};

use crate::app::AppState;
use crate::error::Error;
use crate::identity::{Actor, password};
use crate::store::primary::companies;
use crate::store::primary::users::{self, User};

/// The accounts a call may manage, checked when the scope is made: every account (the
/// super-admin API) or those of the actor's own company (the company-admin API).
pub struct Scope<'a> {
    actor: &'a Actor,
    /// The actor's company in a company scope; None for every account.
    company: Option<i64>,
}

impl<'a> Scope<'a> {
    /// Every account of the installation; needs users:manage.
    pub fn installation(actor: &'a Actor) -> Result<Self, Error> {
        actor.require("users:manage")?;
        Ok(Scope {
            actor,
            company: None,
        })
    }

    /// The accounts of the actor's company; needs users:manage and a company.
    pub fn own_company(actor: &'a Actor) -> Result<Self, Error> {
        actor.require("users:manage")?;
        let company = actor.company_id.ok_or_else(|| {
            Error::Forbidden(
                "company administration is for company admins; super admins use /api/admin/users"
                    .into(),
            )
        })?;
        Ok(Scope {
            actor,
            company: Some(company),
        })
    }

    /// The account with public id `id` if the scope holds it; 404 otherwise (ids that are
    /// not UUIDs are simply not found).
    async fn target(&self, app: &AppState, id: String) -> Result<User, Error> {
        let user = app
            .read_primary(move |conn| Ok(users::get_by_uuid(conn, &id)?))
            .await?
            .ok_or_else(|| Error::not_found("user"))?;
        match self.company {
            Some(company) if user.company_id != Some(company) => Err(Error::not_found("user")),
            _ => Ok(user),
        }
    }
}

/// Resolves a company's public id (or slug) to its internal id; unknown → 404.
async fn company_id_of(app: &AppState, key: String) -> Result<i64, Error> {
    app.read_primary(move |conn| Ok(companies::find(conn, &key)?))
        .await?
        .map(|c| c.id)
        .ok_or_else(|| Error::not_found("company"))
}

/// Hashes a new password on the hashing threads.
async fn hash_password(app: &AppState, secret: String) -> Result<String, Error> {
    app.hash_work(move || password::hash(&secret))
        .await?
        .map_err(|e| Error::internal(anyhow::anyhow!("hashing: {e}")))
}
