//! Conversations and their messages. Conversations are personal: only their owner reaches
//! them (others are told they do not exist). Chatting needs chat:use; writing a message in
//! another role than `user` (an assistant's answer, a system prompt) also agents:execute.

use rusqlite::Connection;

use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::conversations::{
    self, Conversation, ConversationPatch, NewConversation,
};
use crate::store::company::messages::{self, Message, NewMessage};
use crate::store::company::{Listing, Page, documents, new_uuid};
use crate::store::db::write_tx;
use crate::tenant::context;

/// Every selected document must exist and be visible to the actor.
fn check_documents_visible(conn: &Connection, actor: &Actor, ids: &[String]) -> Result<(), Error> {
    // One query for the common case; a lookup per id only to name the one that is missing.
    let viewer = actor.viewer();
    let found = documents::visible_ids(conn, &viewer, Some(ids))?;
    if found.is_some_and(|found| found.len() == ids.len()) {
        return Ok(());
    }
    for (i, id) in ids.iter().enumerate() {
        if documents::get_visible(conn, &viewer, id)?.is_none() {
            return Err(Error::NotFound(format!(
                "selected_document_ids[{i}]: no such document"
            )));
        }
    }
    Ok(())
}

/// The actor's conversation `id`, or not found.
fn owned(conn: &Connection, actor: &Actor, id: &str) -> Result<Conversation, Error> {
    conversations::get_owned(conn, &actor.user_uuid, id)?
        .ok_or_else(|| Error::not_found("conversation"))
}

/// Starts a conversation of the actor, limited to documents they may see.
pub async fn start(actor: Actor, new: NewConversation) -> Result<Conversation, Error> {
    actor.require("chat:use")?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        check_documents_visible(
            &tx,
            &actor,
            new.selected_document_ids.as_deref().unwrap_or_default(),
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
    actor: Actor,
    id: String,
    patch: ConversationPatch,
) -> Result<Conversation, Error> {
    actor.require("chat:use")?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let c = owned(&tx, &actor, &id)?;
        if let Some(Some(ids)) = &patch.selected_document_ids {
            check_documents_visible(&tx, &actor, ids)?;
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
