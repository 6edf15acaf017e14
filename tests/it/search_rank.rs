//! POST /api/search's library path, without HTTP: real chunks, the lexical embedder, all
//! three modes, visibility filters, and what happens without a usable index.

use std::collections::HashSet;

use rusqlite::Connection;
use silo::embed::{Embedder, LexicalEmbedder};
use silo::index::VectorIndex;
use silo::search::{SearchError, SearchMode, SearchRequest, rank, search};
use silo::store::company::embeddings as store;
use silo::store::company::{Viewer, documents::visible_ids};
use silo::store::db::migrations::{MigrationSet, migrate};

const DOCS: &[(&str, &str, &str, &[&str])] = &[
    (
        "d1",
        "company",
        "u1",
        &[
            "Quarterly revenue grew twelve percent in Europe",
            "Operating costs fell after the office move",
        ],
    ),
    (
        "d2",
        "user",
        "u2",
        &[
            "Engineering hiring plans for next year",
            "Revenue targets for the sales team",
        ],
    ),
    (
        "d3",
        "user",
        "u1",
        &["Holiday schedule and office closures"],
    ),
];

fn setup() -> (tempfile::TempDir, Connection, VectorIndex) {
    let tmp = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(tmp.path().join("company.db")).unwrap();
    migrate(&mut conn, MigrationSet::Company).unwrap();
    for (uuid, scope, user, chunks) in DOCS {
        conn.execute(
            "INSERT INTO documents (uuid, filename, file_path, title, scope, uploaded_by)
             VALUES (?1, ?1, ?1, upper(?1), ?2, ?3)",
            [uuid, scope, user],
        )
        .unwrap();
        let doc = conn.last_insert_rowid();
        let vectors = LexicalEmbedder.embed(chunks).unwrap();
        for (i, (text, v)) in chunks.iter().zip(vectors).enumerate() {
            conn.execute(
                "INSERT INTO document_chunks (uuid, document_id, content, chunk_index)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![format!("{uuid}-c{i}"), doc, text, i as i64],
            )
            .unwrap();
            store::set_embeddings(
                &conn,
                LexicalEmbedder.id(),
                &[(conn.last_insert_rowid(), v)],
            )
            .unwrap();
        }
    }
    let index = VectorIndex::open_or_rebuild(
        &tmp.path().join("vectors"),
        &conn,
        LexicalEmbedder.id(),
        LexicalEmbedder.dimensions(),
    )
    .unwrap();
    (tmp, conn, index)
}

fn req<'a>(
    query: &'a str,
    mode: SearchMode,
    allowed: Option<&'a HashSet<i64>>,
) -> SearchRequest<'a> {
    SearchRequest {
        query,
        k: 10,
        mode,
        allowed,
    }
}

fn chunk_uuids(conn: &Connection, index: &VectorIndex, r: SearchRequest<'_>) -> Vec<String> {
    search(conn, Some(index), &LexicalEmbedder, r)
        .unwrap()
        .into_iter()
        .map(|h| h.chunk_id)
        .collect()
}

#[test]
fn three_modes_rank_the_obvious_chunk_first() {
    let (_tmp, conn, index) = setup();
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let got = chunk_uuids(&conn, &index, req("revenue grew in Europe", mode, None));
        assert_eq!(
            got.first().map(String::as_str),
            Some("d1-c0"),
            "{mode:?}: {got:?}"
        );
    }
    let hits = search(
        &conn,
        Some(&index),
        &LexicalEmbedder,
        req("europe revenue", SearchMode::Hybrid, None),
    )
    .unwrap();
    assert_eq!(hits[0].document_title, "D1");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // Keyword mode only returns chunks that contain a query word.
    let kw = chunk_uuids(&conn, &index, req("revenue", SearchMode::Keyword, None));
    assert_eq!(
        kw.iter().collect::<HashSet<_>>(),
        ["d1-c0", "d2-c1"]
            .iter()
            .map(|s| s.to_string())
            .collect::<HashSet<_>>()
            .iter()
            .collect()
    );
}

const U1: Viewer<'static> = Viewer {
    user_uuid: "u1",
    is_admin: false,
};

#[test]
fn visibility_and_document_filters_hold_in_every_mode() {
    let (_tmp, conn, index) = setup();
    let u1 = visible_ids(&conn, &U1, None).unwrap().unwrap();
    assert_eq!(u1.len(), 2, "d1 (company scope) and d3 (own)");
    assert_eq!(visible_ids(&conn, &Viewer::EVERYTHING, None).unwrap(), None);
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let got = chunk_uuids(
            &conn,
            &index,
            req("revenue targets sales team hiring", mode, Some(&u1)),
        );
        assert!(
            got.iter().all(|c| !c.starts_with("d2")),
            "{mode:?}: {got:?}"
        );
        let only_d3 = visible_ids(&conn, &U1, Some(&["d3".to_string(), "d2".to_string()]))
            .unwrap()
            .unwrap();
        let got = chunk_uuids(&conn, &index, req("office", mode, Some(&only_d3)));
        assert!(got.iter().all(|c| c.starts_with("d3")), "{mode:?}: {got:?}");
        let none = HashSet::new();
        assert!(chunk_uuids(&conn, &index, req("office", mode, Some(&none))).is_empty());
    }
}

#[test]
fn without_a_usable_index_hybrid_degrades_and_vector_refuses() {
    let (tmp, conn, _index) = setup();
    let hybrid = rank(
        &conn,
        None,
        &LexicalEmbedder,
        req("office", SearchMode::Hybrid, None),
    )
    .unwrap();
    assert_eq!(hybrid.len(), 2);
    assert!(matches!(
        rank(
            &conn,
            None,
            &LexicalEmbedder,
            req("office", SearchMode::Vector, None)
        ),
        Err(SearchError::NoIndex(_))
    ));
    let other = VectorIndex::open_or_rebuild(&tmp.path().join("v2"), &conn, "other", 384).unwrap();
    assert!(matches!(
        rank(
            &conn,
            Some(&other),
            &LexicalEmbedder,
            req("office", SearchMode::Vector, None)
        ),
        Err(SearchError::NoIndex(_))
    ));
    // Hostile input is just words.
    for q in ["\"", "NEAR(", "*", "", "office\" OR \"x"] {
        search(
            &conn,
            Some(&_index),
            &LexicalEmbedder,
            req(q, SearchMode::Hybrid, None),
        )
        .unwrap();
    }
}
