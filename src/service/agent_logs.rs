//! The record of agent runs. Reading needs agents:read, writing agents:execute. A log is
//! visible to the user who ran it, the owner of its message's conversation, and company
//! admins.

use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::agent_logs::{self, AgentLog, AgentLogFilter, NewAgentLog};
use crate::store::company::{Listing, Page, messages, new_time_ordered_uuid};
use crate::store::db::write_tx;
use crate::tenant::context;

/// A page of the runs the actor may see, newest first; `message` (a public id the actor
/// must see) fills in `filter.message_id`.
pub async fn list(
    actor: Actor,
    message: Option<String>,
    mut filter: AgentLogFilter,
    page: Page,
) -> Result<Listing<AgentLog>, Error> {
    actor.require("agents:read")?;
    context::run(move |conn| {
        if let Some(m) = &message {
            filter.message_id = Some(
                messages::row_id_visible(conn, &actor.viewer(), m)?
                    .ok_or_else(|| Error::not_found("message"))?,
            );
        }
        let (items, total) = agent_logs::list(conn, &actor.viewer(), &filter, page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await
}

/// Records a run by the actor; `message` (a public id the actor must see) fills in
/// `new.message_id`.
pub async fn record(
    actor: Actor,
    message: Option<String>,
    mut new: NewAgentLog,
) -> Result<AgentLog, Error> {
    actor.require("agents:execute")?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        if let Some(m) = &message {
            new.message_id = Some(
                messages::row_id_visible(&tx, &actor.viewer(), m)?
                    .ok_or_else(|| Error::NotFound("message_id: no such message".into()))?,
            );
        }
        let row = agent_logs::insert(&tx, &new_time_ordered_uuid(), &actor.user_uuid, &new)?;
        let log = agent_logs::get(&tx, row)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted log vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(log)
    })
    .await
}
