//! The `saved_reports` table. Saved reports are company artefacts: everyone with
//! `reports:read` sees them; changing or deleting one is for its author and company admins.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};
use serde_json::Value;

use super::{JsonCol, Page, json_opt, to_json};
use crate::store::db::now;

#[derive(Clone, Debug)]
pub struct Report {
    pub row_id: i64,
    pub uuid: String,
    pub title: String,
    pub report_type: String,
    pub report_data: Value,
    pub tags: Vec<String>,
    pub confidence: Option<f64>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, uuid, title, report_type, report_data, tags, confidence, created_by, created_at, updated_at";

impl Report {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Report {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            title: row.get(2)?,
            report_type: row.get(3)?,
            report_data: row.get::<_, JsonCol<Value>>(4)?.0,
            tags: json_opt(row, 5)?.unwrap_or_default(),
            confidence: row.get(6)?,
            created_by: row.get(7)?,
            created_at: row.get(8)?,
            updated_at: row.get(9)?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct NewReport {
    pub title: String,
    pub report_type: String,
    pub report_data: Value,
    pub tags: Vec<String>,
    pub confidence: Option<f64>,
}

pub fn insert(conn: &Connection, uuid: &str, author: &str, r: &NewReport) -> rusqlite::Result<i64> {
    let ts = now();
    conn.prepare_cached(
        "INSERT INTO saved_reports (uuid, title, report_type, report_data, tags, confidence,
             created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        uuid,
        r.title,
        r.report_type,
        to_json(&r.report_data),
        to_json(&r.tags),
        r.confidence,
        author,
        ts
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn get_by_uuid(conn: &Connection, uuid: &str) -> rusqlite::Result<Option<Report>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM saved_reports WHERE uuid = ?1 AND deleted_at IS NULL"
    ))?
    .query_row([uuid], Report::from_row)
    .optional()
}

/// A page of reports, newest first, optionally of one type.
pub fn list(
    conn: &Connection,
    report_type: Option<&str>,
    page: Page,
) -> rusqlite::Result<(Vec<Report>, u64)> {
    let mut args: Vec<&dyn ToSql> = Vec::new();
    let condition = match &report_type {
        Some(t) => {
            args.push(t);
            "report_type = ? AND deleted_at IS NULL"
        }
        None => "deleted_at IS NULL",
    };
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM saved_reports WHERE {condition}"
        ))?
        .query_row(args.as_slice(), |r| r.get(0))?;
    args.push(&page.limit);
    args.push(&page.offset);
    let items = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM saved_reports WHERE {condition}
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        ))?
        .query_map(args.as_slice(), Report::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// Changes; `None` keeps a field, `confidence: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ReportPatch {
    pub title: Option<String>,
    pub report_type: Option<String>,
    pub report_data: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub confidence: Option<Option<f64>>,
}

pub fn update(conn: &Connection, row_id: i64, p: &ReportPatch) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE saved_reports SET
                 title = COALESCE(?2, title),
                 report_type = COALESCE(?3, report_type),
                 report_data = COALESCE(?4, report_data),
                 tags = COALESCE(?5, tags),
                 confidence = CASE WHEN ?6 THEN ?7 ELSE confidence END,
                 updated_at = ?8
             WHERE id = ?1",
        )?
        .execute(params![
            row_id,
            p.title,
            p.report_type,
            p.report_data.as_ref().map(to_json),
            p.tags.as_ref().map(to_json),
            p.confidence.is_some(),
            p.confidence.flatten(),
            now()
        ])?
        > 0)
}

pub fn delete(conn: &Connection, row_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM saved_reports WHERE id = ?1", [row_id])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::testdb;
    use serde_json::json;

    #[test]
    fn crud() {
        let db = testdb::open();
        let c = &db.conn;
        let r = NewReport {
            title: "Q3 energy".into(),
            report_type: "energy_mix".into(),
            report_data: json!({"sections": [1, 2]}),
            tags: vec!["q3".into()],
            confidence: Some(0.8),
        };
        let id = insert(c, "r1", "alice", &r).unwrap();
        insert(
            c,
            "r2",
            "bob",
            &NewReport {
                report_type: "price".into(),
                ..r.clone()
            },
        )
        .unwrap();
        assert_eq!(list(c, None, Page::default()).unwrap().1, 2);
        assert_eq!(list(c, Some("price"), Page::default()).unwrap().1, 1);
        let p = ReportPatch {
            title: Some("Renamed".into()),
            confidence: Some(None),
            ..Default::default()
        };
        assert!(update(c, id, &p).unwrap());
        let got = get_by_uuid(c, "r1").unwrap().unwrap();
        assert_eq!((got.title.as_str(), got.confidence), ("Renamed", None));
        assert_eq!(got.report_data, json!({"sections": [1, 2]}));
        assert!(delete(c, id).unwrap());
        assert!(get_by_uuid(c, "r1").unwrap().is_none());
    }
}
