//! `Actor`: who is acting, and the permission checks made on them.

use std::collections::HashSet;
use std::sync::Arc;

use crate::store::company::Viewer;

/// A permission check that failed; the message names what was missing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// Who is acting, as loaded from primary.db for this request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub user_uuid: String,
    pub email: String,
    pub role: String,
    /// Internal and public ids of the user's company; None for super admins.
    pub company_id: Option<i64>,
    pub company_uuid: Option<String>,
    /// The refresh-token family of the login this request's token belongs to.
    pub session: String,
    pub permissions: Arc<HashSet<String>>,
}

impl Actor {
    /// Ok when the actor holds `permission`, else a 403 naming it.
    pub fn require(&self, permission: &str) -> Result<(), Denied> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(Denied(format!("this requires the {permission} permission")))
        }
    }

    /// Ok when the actor created the row (`owner` is its creator's user id) or is a company
    /// admin, else a 403: "only {creator} or a company admin may change {what}".
    pub fn require_owner(&self, owner: &str, creator: &str, what: &str) -> Result<(), Denied> {
        if self.is_company_admin() || owner == self.user_uuid {
            Ok(())
        } else {
            Err(Denied(format!(
                "only {creator} or a company admin may change {what}"
            )))
        }
    }

    pub fn is_super_admin(&self) -> bool {
        self.role == "super_admin"
    }

    /// Company admins see every document of their company, whatever its scope.
    pub fn is_company_admin(&self) -> bool {
        self.role == "admin"
    }

    /// What the company's repositories need to know of the actor to filter rows.
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            user_uuid: &self.user_uuid,
            is_admin: self.is_company_admin(),
        }
    }
}
