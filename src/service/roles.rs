//! What each role may do: the roles with their permissions, and replacing a role's set.

use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::store::db::write_tx;
use crate::store::primary::audit;
use crate::store::primary::roles::{self, Role};

/// Permissions only super admins hold; no other role may be given them.
const RESERVED: [&str; 4] = [
    "admin:full",
    "companies:manage",
    "roles:manage",
    "system:config",
];

/// Every role and its permissions; needs roles:manage.
pub async fn list(app: &AppState, actor: &Actor) -> Result<Vec<Role>, Error> {
    actor.require("roles:manage")?;
    app.read_primary(|conn| Ok(roles::list(conn)?)).await
}

/// Replaces the permissions of role `name` (not super_admin's, which are fixed) with
/// `permissions`, all known and none reserved to super admins; needs roles:manage.
/// Returns every role with its permissions.
pub async fn set_permissions(
    app: &AppState,
    actor: &Actor,
    name: String,
    permissions: Vec<String>,
) -> Result<Vec<Role>, Error> {
    actor.require("roles:manage")?;
    if name == "super_admin" {
        return Err(Error::Conflict(
            "the super_admin role's permissions are fixed".into(),
        ));
    }
    let (role_name, actor_id) = (name.clone(), actor.user_id);
    let roles = app
        .with_primary(move |conn| {
            let known = roles::all_permissions(conn)?;
            if let Some(unknown) = permissions.iter().find(|p| !known.contains(*p)) {
                return Err(Error::invalid(
                    "permissions",
                    format!("unknown permission {unknown:?}"),
                ));
            }
            if let Some(p) = permissions.iter().find(|p| RESERVED.contains(&p.as_str())) {
                return Err(Error::invalid(
                    "permissions",
                    format!("{p} belongs to super admins only"),
                ));
            }
            // The change and its audit row commit together.
            let tx = write_tx(conn)?;
            if !roles::set_permissions(&tx, &name, &permissions)? {
                return Err(Error::not_found("role"));
            }
            let detail = serde_json::json!({"permissions": permissions});
            audit::record(&tx, actor_id, "role.permissions", &name, &detail)?;
            tx.commit()?;
            Ok(roles::list(conn)?)
        })
        .await?;
    app.principals.invalidate();
    tracing::info!(by = %actor.email, role = %role_name, "role permissions changed");
    Ok(roles)
}
