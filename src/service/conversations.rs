//! Conversations and their messages. A conversation may be limited to documents of the
//! company and of the global library. Conversations are personal: only their owner reaches
//! them (others are told they do not exist). Chatting needs chat:use; writing a message in
//! another role than `user` (an assistant's answer, a system prompt) also agents:execute.

use std::collections::HashSet;

use rusqlite::Connection;

use crate::app::App;
use crate::error::Error;
use crate::identity::Actor;
use crate::service::library;
use crate::store::company::conversations::{
    self, Conversation, ConversationPatch, NewConversation,
};
use crate::store::company::messages::{self, Message, NewMessage};
use crate::store::company::{Listing, Page, documents, new_uuid};
use crate::store::db::write_tx;
use crate::tenant::context;

/// Every selected document must exist and be visible to the actor, in the company or (the
/// ids in `in_library`) the global library.
fn check_documents_visible(
    conn: &Connection,
    actor: &Actor,
    ids: &[String],
    in_library: &HashSet<String>,
) -> Result<(), Error> {
    let wanted: Vec<String> = ids
        .iter()
        .filter(|id| !in_library.contains(*id))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let found = documents::visible_uuids(conn, &actor.viewer(), &wanted)?;
    let missing = ids
        .iter()
        .position(|id| !in_library.contains(id) && !found.contains(id));
    match missing {
        None => Ok(()),
        Some(i) => Err(Error::NotFound(format!(
            "selected_document_ids[{i}]: no such document"
        ))),
    }
}

/// Of the selected documents, those in the global library.
async fn library_selection(
    app: &App,
    actor: &Actor,
    ids: Option<&[String]>,
) -> Result<HashSet<String>, Error> {
    match ids {
        Some(ids) if !ids.is_empty() => library::visible(app, actor, ids).await,
        _ => Ok(HashSet::new()),
    }
}

/// The actor's conversation `id`, or not found.
fn owned(conn: &Connection, actor: &Actor, id: &str) -> Result<Conversation, Error> {
    conversations::get_owned(conn, &actor.user_uuid, id)?
        .ok_or_else(|| Error::not_found("conversation"))
}

/// Starts a conversation of the actor, limited to documents they may see.
pub async fn start(app: &App, actor: Actor, new: NewConversation) -> Result<Conversation, Error> {
    actor.require("chat:use")?;
    let in_library = library_selection(app, &actor, new.selected_document_ids.as_deref()).await?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        check_documents_visible(
            &tx,
            &actor,
            new.selected_document_ids.as_deref().unwrap_or_default(),
            &in_library,
        )?;
        let uuid = new_uuid();
        conversations::insert(&tx, &uuid, &actor.user_uuid, &new)?;
        let c = conversations::get_owned(&tx, &actor.user_uuid, &uuid)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted conversation vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(c)
    })
    .await
}

/// A page of the actor's conversations, most recently active first.
pub async fn list(actor: Actor, page: Page) -> Result<Listing<Conversation>, Error> {
    actor.require("chat:use")?;
    context::run(move |conn| {
        let (items, total) = conversations::list_owned(conn, &actor.user_uuid, page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await
}

/// The actor's conversation `id`.
pub async fn get(actor: Actor, id: String) -> Result<Conversation, Error> {
    actor.require("chat:use")?;
    context::read(move |conn| owned(conn, &actor, &id)).await
}

/// Changes the actor's conversation `id`; newly selected documents must be visible.
pub async fn update(
    app: &App,
    actor: Actor,
    id: String,
    patch: ConversationPatch,
) -> Result<Conversation, Error> {
    actor.require("chat:use")?;
    let selected = patch
        .selected_document_ids
        .as_ref()
        .and_then(|s| s.as_deref());
    let in_library = library_selection(app, &actor, selected).await?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let c = owned(&tx, &actor, &id)?;
        if let Some(Some(ids)) = &patch.selected_document_ids {
            check_documents_visible(&tx, &actor, ids, &in_library)?;
        }
        conversations::update(&tx, c.row_id, &patch)?;
        let c = owned(&tx, &actor, &id)?;
        tx.commit()?;
        Ok::<_, Error>(c)
    })
    .await
}

/// Stores a message in the actor's conversation `conversation`.
pub async fn add_message(
    actor: Actor,
    conversation: String,
    new: NewMessage,
) -> Result<Message, Error> {
    actor.require("chat:use")?;
    if new.role != "user" {
        actor.require("agents:execute")?;
    }
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let c = owned(&tx, &actor, &conversation)?;
        let row = messages::insert(&tx, &new_uuid(), c.row_id, &new)?;
        let m = messages::get(&tx, row)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted message vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(m)
    })
    .await
}

/// A page of the messages of the actor's conversation `conversation`, oldest first.
pub async fn list_messages(
    actor: Actor,
    conversation: String,
    page: Page,
) -> Result<Listing<Message>, Error> {
    actor.require("chat:use")?;
    context::run(move |conn| {
        let c = owned(conn, &actor, &conversation)?;
        let (items, total) = messages::list_for_conversation(conn, c.row_id, page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await
}
