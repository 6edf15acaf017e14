//! The global document library (`tenant::library`): super admins manage its documents, every
//! company's users read and search them.
//!
//! The library is opened like a company, so the document services (upload, listing,
//! metadata, chunks, the trash) run on it unchanged, inside its `TenantCtx` and as one of
//! two actors made here from the caller:
//!
//! - a super admin is the library's **librarian**: its admin, holding the document
//!   permissions there (and nowhere else: a super admin still reads no company's data);
//! - a company user is a **reader**: `documents:read` if their role has it, nothing more,
//!   and no admin rights, so they see what every company sees and can change nothing.
//!
//! Library documents always have the `company` scope inside the library (everyone who may
//! read the library sees them); the API shows them as `global`.

use std::collections::HashSet;
use std::sync::Arc;

use crate::app::{App, AppState};
use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::documents;
use crate::store::primary::users;
use crate::tenant::library::{self, LIBRARY_ID};
use crate::tenant::{TenantCtx, TenantDb, TenantError, context};

/// The scope a library document is stored with.
pub const STORED_SCOPE: &str = "company";
/// The scope the API shows for a library document.
pub const SHOWN_SCOPE: &str = "global";

/// The permissions of the librarian.
const LIBRARIAN: &[&str] = &[
    "documents:create",
    "documents:read",
    "documents:update",
    "documents:delete",
];

/// `actor` (a super admin) as the library's admin.
fn librarian(actor: &Actor) -> Actor {
    Actor {
        role: "admin".into(),
        company_id: None,
        company_uuid: None,
        permissions: Arc::new(LIBRARIAN.iter().map(|p| p.to_string()).collect()),
        ..actor.clone()
    }
}

/// `actor` (a company user) as a reader of the library.
fn reader(actor: &Actor) -> Actor {
    let read: HashSet<String> = actor
        .permissions
        .iter()
        .filter(|p| *p == "documents:read")
        .cloned()
        .collect();
    Actor {
        role: "viewer".into(),
        permissions: Arc::new(read),
        ..actor.clone()
    }
}

/// The super admin an operator's command acts as: the one with `email`, else the first
/// created. Their id is recorded as the uploader of what the command adds.
pub async fn operator(app: &AppState, email: Option<String>) -> Result<Actor, Error> {
    let user = app
        .read_primary(move |conn| {
            Ok(match &email {
                Some(email) => users::get_by_email(conn, email)?,
                None => users::first_active_super_admin(conn)?,
            })
        })
        .await?
        .filter(|u| u.is_active && u.role == "super_admin")
        .ok_or_else(|| {
            Error::NotFound("no active super admin with that email (see `silo user create`)".into())
        })?;
    Ok(Actor {
        user_id: user.id,
        user_uuid: user.uuid,
        email: user.email,
        role: user.role,
        company_id: None,
        company_uuid: None,
        session: "cli".into(),
        permissions: Arc::new(HashSet::new()),
    })
}

/// The open library, created first when `create` (else `None` while it does not exist).
pub async fn open(app: &App, create: bool) -> Result<Option<Arc<TenantDb>>, Error> {
    if create {
        let data_dir = app.data_dir.clone();
        tokio::task::spawn_blocking(move || library::ensure(&data_dir))
            .await?
            .map_err(Error::internal)?;
    }
    match app.registry.get(LIBRARY_ID).await {
        Ok(db) => Ok(Some(db)),
        Err(TenantError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The context a super admin works on the library in (the library created if need be).
pub async fn librarian_ctx(app: &App, actor: &Actor) -> Result<Arc<TenantCtx>, Error> {
    if !actor.is_super_admin() {
        return Err(Error::Forbidden(
            "the library is managed by super admins".into(),
        ));
    }
    let db = open(app, true)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the library vanished after creation")))?;
    Ok(TenantCtx::new(db, Some(librarian(actor))))
}

/// The context a company user reads the library in (created first when `create`), `None`
/// while there is no library.
pub async fn reader_ctx(
    app: &App,
    actor: &Actor,
    create: bool,
) -> Result<Option<Arc<TenantCtx>>, Error> {
    if actor.company_id.is_none() {
        return Err(Error::Forbidden(
            "the library is read by company users; super admins use /api/admin/library".into(),
        ));
    }
    actor.require("documents:read")?;
    Ok(open(app, create)
        .await?
        .map(|db| TenantCtx::new(db, Some(reader(actor)))))
}

/// Of `ids`, those naming library documents `actor` may read (in the library's context).
pub async fn visible(app: &App, actor: &Actor, ids: &[String]) -> Result<HashSet<String>, Error> {
    // Without documents:read the library shows nothing (the ids then name nothing), as a
    // company's documents do.
    if ids.is_empty() || actor.require("documents:read").is_err() {
        return Ok(HashSet::new());
    }
    let Some(ctx) = reader_ctx(app, actor, false).await? else {
        return Ok(HashSet::new());
    };
    let viewer = ctx.actor.clone().expect("a reader context has its actor");
    let ids = ids.to_vec();
    context::scope(
        ctx,
        context::run(move |conn| {
            Ok::<_, Error>(documents::visible_uuids(conn, &viewer.viewer(), &ids)?)
        }),
    )
    .await
}
