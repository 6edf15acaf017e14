//! Metering: recording model calls (metering:write) and summarising them (metering:read).
//! The cost is estimated when a call is recorded, from the configured price table, so every
//! row keeps the price in force at the time.

use crate::app::App;
use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::usage::{
    self, NewUsage, SummaryQuery, UsageGroup, UsageRecord, UsageTotals,
};
use crate::store::company::{agent_logs, conversations, messages};
use crate::store::db::write_tx;
use crate::tenant::context;

/// One model call as its caller reports it, fields already checked. The rows it is linked
/// to are named by public ids, each of which the actor must see.
#[derive(Clone, Debug, Default)]
pub struct Call {
    pub provider: String,
    pub model: String,
    pub operation_type: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub embedding_tokens: i64,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub agent_log_id: Option<String>,
}

/// Records the actor's model call, priced now; answers the stored row.
pub async fn record(app: &App, actor: Actor, call: Call) -> Result<UsageRecord, Error> {
    actor.require("metering:write")?;
    let mut new = NewUsage {
        prompt_tokens: call.prompt_tokens,
        completion_tokens: call.completion_tokens,
        embedding_tokens: call.embedding_tokens,
        ..NewUsage::new(
            &actor.user_uuid,
            &call.provider,
            &call.model,
            &call.operation_type,
        )
    }
    .priced(&app.workspace.prices);
    let links =
        call.conversation_id.is_some() || call.message_id.is_some() || call.agent_log_id.is_some();
    if !links {
        // The hot path: no ids to resolve, so the row joins the company's group commit.
        let row = app.usage_writer.insert(new.clone()).await?;
        return Ok(stored(row, new));
    }
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        if let Some(c) = &call.conversation_id {
            let row = conversations::row_id_visible(&tx, &actor.viewer(), c)?;
            new.conversation_id =
                Some(row.ok_or_else(|| {
                    Error::NotFound("conversation_id: no such conversation".into())
                })?);
        }
        if let Some(m) = &call.message_id {
            new.message_id = Some(
                messages::row_id_visible(&tx, &actor.viewer(), m)?
                    .ok_or_else(|| Error::NotFound("message_id: no such message".into()))?,
            );
        }
        if let Some(l) = &call.agent_log_id {
            new.agent_log_id = Some(
                agent_logs::row_id_visible(&tx, &actor.viewer(), l)?
                    .ok_or_else(|| Error::NotFound("agent_log_id: no such agent log".into()))?,
            );
        }
        let row = usage::insert(&tx, &new)?;
        tx.commit()?;
        usage::get(conn, row)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted usage vanished")))
    })
    .await
}

/// The stored row of an unlinked record, echoed without reading it back.
fn stored(row_id: i64, new: NewUsage) -> UsageRecord {
    UsageRecord {
        row_id,
        total_tokens: new.total_tokens(),
        uuid: new.uuid,
        user_id: new.user_id,
        conversation_id: None,
        message_id: None,
        agent_log_id: None,
        provider: new.provider,
        model: new.model,
        operation_type: new.operation_type,
        prompt_tokens: new.prompt_tokens,
        completion_tokens: new.completion_tokens,
        embedding_tokens: new.embedding_tokens,
        estimated_cost: new.estimated_cost,
        currency: new.currency,
        created_at: new.created_at,
    }
}

/// Sums of tokens and cost over the query's range, grouped as it asks.
pub async fn summary(
    actor: Actor,
    query: SummaryQuery,
) -> Result<(Vec<UsageGroup>, UsageTotals), Error> {
    actor.require("metering:read")?;
    context::run(move |conn| Ok::<_, Error>(usage::summary(conn, &query)?)).await
}
