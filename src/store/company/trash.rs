//! The trash: documents, conversations and saved reports with `deleted_at` set. Every
//! other read of those tables leaves trashed rows out (`document_visible`, the
//! conversation and report queries, `trashed_chunks` for keyword search); this module is
//! the only one that sees them: to list, restore and purge them.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Page, Viewer};
use crate::store::db::now;

/// What can be in the trash.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Document,
    Conversation,
    Report,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Document, Kind::Conversation, Kind::Report];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Document => "document",
            Kind::Conversation => "conversation",
            Kind::Report => "report",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Kind::Document => "documents",
            Kind::Conversation => "conversations",
            Kind::Report => "saved_reports",
        }
    }

    /// The column naming the row's owner (uploader, the conversation's user, the author).
    fn owner(self) -> &'static str {
        match self {
            Kind::Document => "uploaded_by",
            Kind::Conversation => "user_id",
            Kind::Report => "created_by",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Document => "COALESCE(title, filename)",
            Kind::Conversation => "title",
            Kind::Report => "title",
        }
    }
}

/// A row in the trash.
#[derive(Clone, Debug)]
pub struct Trashed {
    pub kind: Kind,
    pub row_id: i64,
    pub uuid: String,
    pub title: Option<String>,
    pub owner: String,
    pub deleted_at: String,
    pub deleted_by: Option<String>,
}

fn select(kind: Kind) -> String {
    format!(
        "SELECT '{kind}', id, uuid, {title}, {owner}, deleted_at, deleted_by FROM {table}
          WHERE deleted_at IS NOT NULL",
        kind = kind.as_str(),
        title = kind.title(),
        owner = kind.owner(),
        table = kind.table()
    )
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Trashed> {
    let kind: String = row.get(0)?;
    Ok(Trashed {
        // The kind column is written by `select` from `Kind::as_str`.
        kind: Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .unwrap_or(Kind::Report),
        row_id: row.get(1)?,
        uuid: row.get(2)?,
        title: row.get(3)?,
        owner: row.get(4)?,
        deleted_at: row.get(5)?,
        deleted_by: row.get(6)?,
    })
}

/// Moves a live row to the trash; false when it is not live.
pub fn move_to_trash(
    conn: &Connection,
    kind: Kind,
    row_id: i64,
    by: &str,
) -> rusqlite::Result<bool> {
    let sql = format!(
        "UPDATE {} SET deleted_at = ?2, deleted_by = ?3 WHERE id = ?1 AND deleted_at IS NULL",
        kind.table()
    );
    Ok(conn.execute(&sql, params![row_id, now(), by])? > 0)
}

/// Takes a row out of the trash; false when it is not in it.
pub fn restore(conn: &Connection, kind: Kind, row_id: i64) -> rusqlite::Result<bool> {
    let sql = format!(
        "UPDATE {} SET deleted_at = NULL, deleted_by = NULL WHERE id = ?1 AND deleted_at IS NOT NULL",
        kind.table()
    );
    Ok(conn.execute(&sql, [row_id])? > 0)
}

/// The trashed row with this public id, if `viewer` may restore it (its owner, or a company
/// admin; a conversation only its owner, as chat history is personal).
pub fn find(
    conn: &Connection,
    viewer: &Viewer<'_>,
    kind: Kind,
    uuid: &str,
) -> rusqlite::Result<Option<Trashed>> {
    let admin = viewer.is_admin && kind != Kind::Conversation;
    let sql = format!(
        "{} AND uuid = ?1 AND (?2 OR {} = ?3)",
        select(kind),
        kind.owner()
    );
    conn.prepare_cached(&sql)?
        .query_row(params![uuid, admin, viewer.user_uuid], from_row)
        .optional()
}

/// What `viewer` may restore, most recently deleted first, with the total.
pub fn list(
    conn: &Connection,
    viewer: &Viewer<'_>,
    page: Page,
) -> rusqlite::Result<(Vec<Trashed>, u64)> {
    let parts: Vec<String> = Kind::ALL
        .iter()
        .map(|&kind| {
            let admin = if viewer.is_admin && kind != Kind::Conversation {
                "1"
            } else {
                "0"
            };
            format!("{} AND ({admin} OR {} = ?1)", select(kind), kind.owner())
        })
        .collect();
    let union = parts.join(" UNION ALL ");
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM ({union})"))?
        .query_row([viewer.user_uuid], |r| r.get(0))?;
    let items = conn
        .prepare_cached(&format!(
            "SELECT * FROM ({union}) ORDER BY 6 DESC, 3 LIMIT ?2 OFFSET ?3"
        ))?
        .query_map(params![viewer.user_uuid, page.limit, page.offset], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// Rows trashed before `cutoff` (a canonical timestamp): due for purging, oldest first.
pub fn due(
    conn: &Connection,
    kind: Kind,
    cutoff: &str,
    limit: u32,
) -> rusqlite::Result<Vec<Trashed>> {
    let sql = format!(
        "{} AND deleted_at < ?1 ORDER BY deleted_at LIMIT ?2",
        select(kind)
    );
    conn.prepare_cached(&sql)?
        .query_map(params![cutoff, limit], from_row)?
        .collect()
}

/// Whether document `row_id` is in the trash.
pub fn is_trashed(conn: &Connection, document_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM documents WHERE id = ?1 AND deleted_at IS NOT NULL)",
    )?
    .query_row([document_id], |r| r.get(0))
}

/// Whether the row is still in the trash since before `cutoff` (it may have been restored
/// since it was found due).
pub fn still_due(
    conn: &Connection,
    kind: Kind,
    row_id: i64,
    cutoff: &str,
) -> rusqlite::Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1 AND deleted_at IS NOT NULL AND deleted_at < ?2)",
        kind.table()
    );
    conn.prepare_cached(&sql)?
        .query_row(params![row_id, cutoff], |r| r.get(0))
}

/// The chunks of trashed documents (the vector index keeps them as tombstones).
pub fn chunk_ids(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT id FROM trashed_chunks")?
        .query_map([], |r| r.get(0))?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::testdb;

    #[test]
    fn trashed_rows_are_hidden_listed_for_their_owner_and_restorable() {
        let db = testdb::open();
        let c = &db.conn;
        c.execute_batch(
            "INSERT INTO documents (id, uuid, filename, file_path, uploaded_by, scope)
                 VALUES (1, 'd1', 'a.txt', 'uploads/d1.txt', 'alice', 'company');
             INSERT INTO conversations (id, uuid, user_id, title) VALUES (1, 'c1', 'alice', 'Chat');
             INSERT INTO saved_reports (id, uuid, title, report_type, report_data, created_by)
                 VALUES (1, 'r1', 'Report', 'summary', '{}', 'bob');",
        )
        .unwrap();
        let alice = Viewer {
            user_uuid: "alice",
            is_admin: false,
        };
        let admin = Viewer {
            user_uuid: "root",
            is_admin: true,
        };
        for (kind, by) in [
            (Kind::Document, "alice"),
            (Kind::Conversation, "alice"),
            (Kind::Report, "bob"),
        ] {
            assert!(move_to_trash(c, kind, 1, by).unwrap());
            assert!(
                !move_to_trash(c, kind, 1, by).unwrap(),
                "already in the trash"
            );
        }
        assert!(
            crate::store::company::documents::get_visible(c, &alice, "d1")
                .unwrap()
                .is_none()
        );
        assert!(
            crate::store::company::conversations::get_owned(c, "alice", "c1")
                .unwrap()
                .is_none()
        );
        assert!(
            crate::store::company::reports::get_by_uuid(c, "r1")
                .unwrap()
                .is_none()
        );

        let (mine, total) = list(c, &alice, Page::default()).unwrap();
        assert_eq!(total, 2);
        let kinds: Vec<Kind> = mine.iter().map(|t| t.kind).collect();
        assert!(kinds.contains(&Kind::Document) && kinds.contains(&Kind::Conversation));
        // An admin restores documents and reports, never another user's conversation.
        let (theirs, total) = list(c, &admin, Page::default()).unwrap();
        assert_eq!(total, 2, "{theirs:?}");
        assert!(find(c, &admin, Kind::Conversation, "c1").unwrap().is_none());
        assert!(find(c, &alice, Kind::Report, "r1").unwrap().is_none());
        let report = find(c, &admin, Kind::Report, "r1").unwrap().unwrap();
        assert_eq!(report.deleted_by.as_deref(), Some("bob"));

        // A trashed conversation's messages are out of reach too.
        c.execute_batch(
            "INSERT INTO messages (uuid, conversation_id, role, content)
                 VALUES ('m1', 1, 'user', 'hi')",
        )
        .unwrap();
        let found = crate::store::company::messages::row_id_visible(c, &alice, "m1").unwrap();
        assert!(found.is_none());
        // Due until restored: the sweep re-checks before it purges.
        let far_future = "9999-01-01T00:00:00.000Z";
        let long_ago = "2000-01-01T00:00:00.000Z";
        assert!(still_due(c, Kind::Document, 1, far_future).unwrap());
        assert!(!still_due(c, Kind::Document, 1, long_ago).unwrap());
        assert!(is_trashed(c, 1).unwrap());
        assert!(restore(c, Kind::Document, 1).unwrap());
        assert!(!still_due(c, Kind::Document, 1, far_future).unwrap());
        assert!(!is_trashed(c, 1).unwrap());
        assert!(!restore(c, Kind::Document, 1).unwrap());
        assert!(
            crate::store::company::documents::get_visible(c, &alice, "d1")
                .unwrap()
                .is_some()
        );
        assert_eq!(due(c, Kind::Report, far_future, 10).unwrap().len(), 1);
        assert_eq!(due(c, Kind::Document, far_future, 10).unwrap().len(), 0);
        assert!(
            due(c, Kind::Report, "2000-01-01T00:00:00.000Z", 10)
                .unwrap()
                .is_empty()
        );
    }
}
