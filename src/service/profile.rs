//! The company's one profile: read with profile:read (the defaults until it is first
//! saved), changed with profile:update by merging only the fields given.

use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::profile::{self, Profile, ProfilePatch};
use crate::store::db::write_tx;
use crate::tenant::context;

/// The company profile.
pub async fn get(actor: Actor) -> Result<Profile, Error> {
    actor.require("profile:read")?;
    context::read(|conn| Ok::<_, Error>(profile::get(conn)?.unwrap_or_default())).await
}

/// Merges `patch` into the company profile (or the defaults) and saves it.
pub async fn save(actor: Actor, patch: ProfilePatch) -> Result<Profile, Error> {
    actor.require("profile:update")?;
    context::run(move |conn| {
        // Read, merge and write under one write lock: two concurrent saves of different
        // fields both survive.
        let tx = write_tx(conn)?;
        let merged = patch.apply(profile::get(&tx)?.unwrap_or_default());
        profile::upsert(&tx, &merged)?;
        let p = profile::get(&tx)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("profile vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(p)
    })
    .await
}
