//! A corpus of near-duplicate chunks, each holding one unique term: chunk `i` is one of four
//! templates about the same maintenance job, around term `i` (an invoice id, an error code,
//! a SKU, a made-up surname or a plain made-up word, in turn). Used by the exact-term test
//! (tests/it/exact_terms.rs) and the search latency benchmark (examples/bench_search.rs).

/// The unique term of chunk `i`.
pub fn term(i: usize) -> String {
    match i % 5 {
        0 => format!("INV-2024-{:05}", 10_000 + i),
        1 => format!("ERR_QUEUE_{}", base26(i).to_uppercase()),
        2 => format!("SKU{:06}X", 300_000 + i * 7),
        3 => format!("{}son", capitalised(&base26(i))),
        _ => format!("zeph{}", base26(i)),
    }
}

/// The text of chunk `i`: the same words everywhere but its term.
pub fn text(i: usize) -> String {
    let t = term(i);
    match i % 4 {
        0 => format!(
            "Maintenance of the cooling system at the north plant, reference {t}, was completed on schedule."
        ),
        1 => format!(
            "The cooling system maintenance at the north plant is tracked under {t} and completed on schedule."
        ),
        2 => format!(
            "Reference {t}: maintenance of the north plant cooling system, completed on schedule by the site team."
        ),
        _ => format!(
            "North plant cooling system maintenance, completed on schedule; see {t} for the report."
        ),
    }
}

fn base26(mut n: usize) -> String {
    let mut s = String::new();
    loop {
        s.insert(0, (b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Stores chunks `0..n` of the corpus in a migrated company database, one document each,
/// with `embedder`'s vectors (embedded 64 at a time). Chunk `i` has rowid `i + 1` and the
/// UUID `c{i}`.
pub fn store(
    conn: &mut rusqlite::Connection,
    n: usize,
    embedder: &dyn silo::embed::Embedder,
) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    let texts: Vec<String> = (0..n).map(text).collect();
    for (b, batch) in texts.chunks(64).enumerate() {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        let mut rows = Vec::new();
        for (j, (content, v)) in batch.iter().zip(embedder.embed(&refs)?).enumerate() {
            let i = b * 64 + j;
            tx.execute(
                "INSERT INTO documents (uuid, filename, file_path, scope, uploaded_by)
                 VALUES (?1, ?1, ?1, 'company', 'u')",
                [format!("d{i}")],
            )?;
            tx.execute(
                "INSERT INTO document_chunks (uuid, document_id, content, chunk_index)
                 VALUES (?1, ?2, ?3, 0)",
                rusqlite::params![format!("c{i}"), tx.last_insert_rowid(), content],
            )?;
            rows.push((tx.last_insert_rowid(), v));
        }
        silo::store::company::embeddings::set_embeddings(&tx, embedder.id(), &rows)?;
    }
    tx.commit()?;
    Ok(())
}
