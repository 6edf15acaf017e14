//! Loading a company's archive, after checking all of it.
//!
//! The archive is unpacked into a staging directory of the data directory
//! (`companies/.tmp-import-<uuid>/`, removed on any failure, and by the start-up cleanup
//! after a crash). While it streams in, every member is checked before a byte of it is
//! written: a regular file (no links, devices or directories but `uploads/`), a path that
//! is `manifest.json`, `company.db` or a plain name in `uploads/` (nothing that could
//! escape), no duplicates, and sizes within [`ImportLimits`] (from the headers, so an
//! oversized member is refused before it is read). zstd's frame checksum catches a changed
//! byte of the compressed stream. Then:
//! - the manifest must be this format, list exactly the members present, with their sizes
//!   and sha256s;
//! - `company.db` must pass `integrity_check`, be a company database whose schema is not
//!   newer than this binary, hold exactly the manifest's fingerprint, and every document's
//!   stored file must be in the archive (or listed missing by the export) under a safe
//!   path;
//! - only then is the company created, through the same atomic provisioning as a new one
//!   (`tenant::provision::create_company_with`): its row, its directory filled from the
//!   staging one (the database migrated to this binary's schema, the vector index rebuilt
//!   from the stored embeddings), one rename. A name or slug already taken is refused then,
//!   with nothing left behind.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::export::Hashing;
use super::{
    ArchivedCompany, ArchivedFile, ArchivedUser, FORMAT, FORMAT_VERSION, MAX_MANIFEST_BYTES,
    Manifest, Member,
};
use crate::identity::accounts;
use crate::index::VectorIndex;
use crate::ops::open_existing;
use crate::store::company::{documents, embeddings};
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::db::{DbError, Pool, fingerprint, integrity};
use crate::store::primary::companies::Company;
use crate::store::primary::{roles, users};
use crate::tenant::provision::{
    self, COMPANIES_DIR, DB_FILE, NewCompany, ProvisionError, UPLOADS_DIR, VECTORS_DIR,
};

/// How much an archive may unpack to.
#[derive(Clone, Copy, Debug)]
pub struct ImportLimits {
    /// Total bytes of all members, uncompressed.
    pub max_bytes: u64,
    /// Number of members.
    pub max_members: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_bytes: 16 << 30,
            max_members: 1_000_000,
        }
    }
}

/// How to import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The new company's name (default: the archived one's).
    pub name: Option<String>,
    /// Its slug (default: the archived one's, or derived from `name` when that is given).
    pub slug: Option<String>,
    /// Leave the archived users out (by default they are created, keeping their ids,
    /// roles and passwords, and an email already used in this install is refused).
    pub without_users: bool,
    pub limits: ImportLimits,
}

/// Why an import did not happen. Nothing was created in any case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The archive is damaged, changed, unsafe or not one this binary can load.
    #[error("{0}")]
    Refused(String),
    /// The archive unpacks to more than the limits allow.
    #[error("{0}")]
    TooLarge(String),
    /// The company could not be created (name invalid or taken).
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// An archived user cannot be created here (email or id taken, role unknown).
    #[error("{0}; import with --without-users to leave the users out")]
    UserConflict(String),
    #[error("import failed: {0:#}")]
    Failed(#[from] anyhow::Error),
}

fn refused(message: impl Into<String>) -> ImportError {
    ImportError::Refused(message.into())
}

fn damaged(e: io::Error) -> ImportError {
    refused(format!("the archive is damaged or truncated: {e}"))
}

/// What an import made.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// The new company's public id.
    pub id: String,
    pub name: String,
    pub slug: String,
    /// The company the archive was made from.
    pub from: ArchivedCompany,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// The archived schema version, and the one after migrating.
    pub archived_schema_version: i64,
    pub schema_version: i64,
    pub documents: u64,
    pub chunks: u64,
    pub conversations: u64,
    pub messages: u64,
    pub usage_rows: u64,
    /// Stored files unpacked, and the bytes of every member.
    pub files: usize,
    pub bytes: u64,
    /// Chunks in the rebuilt vector index.
    pub indexed: usize,
    /// Users created with the company.
    pub users: usize,
    pub warnings: Vec<String>,
}

/// The staging directory, removed when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Checks the archive read from `archive` and creates a company from it (blocking).
pub fn import_company(
    primary: &Pool,
    data_dir: &Path,
    archive: &mut dyn Read,
    opts: &ImportOptions,
) -> Result<(Company, ImportReport), ImportError> {
    let staging = Staging(
        data_dir
            .join(COMPANIES_DIR)
            .join(format!(".tmp-import-{}", uuid::Uuid::new_v4())),
    );
    fs::create_dir_all(staging.0.join(UPLOADS_DIR)).map_err(anyhow::Error::from)?;
    let (manifest, unpacked) = unpack(archive, &staging.0, &opts.limits)?;
    check_members(&manifest, &unpacked)?;
    let db = staging.0.join(DB_FILE);
    let (archived_version, schema_version) = check_database(&db, &manifest, &unpacked)?;

    let derived_slug = opts.name.is_some() && opts.slug.is_none();
    let input = NewCompany {
        name: opts
            .name
            .clone()
            .unwrap_or_else(|| manifest.company.name.clone()),
        slug: if derived_slug {
            None
        } else {
            Some(
                opts.slug
                    .clone()
                    .unwrap_or_else(|| manifest.company.slug.clone()),
            )
        },
        industry: manifest.company.industry.clone(),
    };
    let mut indexed = 0;
    let mut warnings = Vec::new();
    let mut fill = |dir: &Path| -> anyhow::Result<()> {
        fs::rename(&db, dir.join(DB_FILE))?;
        for name in unpacked.keys().filter_map(|p| p.strip_prefix("uploads/")) {
            let rel = format!("{UPLOADS_DIR}/{name}");
            fs::rename(staging.0.join(&rel), dir.join(&rel))?;
        }
        // The index is derived data: a failure here is a warning, and the first search
        // rebuilds it.
        match build_index(dir) {
            Ok(n) => indexed = n,
            Err(e) => warnings.push(format!("the vector index was not rebuilt: {e:#}")),
        }
        Ok(())
    };
    let users: &[ArchivedUser] = if opts.without_users {
        &[]
    } else {
        &manifest.users
    };
    check_users(&*primary.get().map_err(anyhow::Error::from)?, users)?;
    let mut add_users =
        |tx: &rusqlite::Connection, company_id: i64| add_users(tx, company_id, users);
    let company =
        provision::create_company_with(primary, data_dir, &input, &mut fill, &mut add_users)?;
    let report = ImportReport {
        id: company.uuid.clone(),
        name: company.name.clone(),
        slug: company.slug.clone(),
        from: manifest.company.clone(),
        exported_at: manifest.exported_at,
        archived_schema_version: archived_version,
        schema_version,
        documents: manifest.rows("documents"),
        chunks: manifest.rows("document_chunks"),
        conversations: manifest.rows("conversations"),
        messages: manifest.rows("messages"),
        usage_rows: manifest.rows("token_usage"),
        files: unpacked.len().saturating_sub(1),
        bytes: unpacked.values().map(|f| f.size).sum(),
        indexed,
        users: users.len(),
        warnings,
    };
    Ok((company, report))
}

/// Every archived user can be created here: id, email and username free, role known.
fn check_users(conn: &rusqlite::Connection, archived: &[ArchivedUser]) -> Result<(), ImportError> {
    let failed = |e: DbError| ImportError::Failed(e.into());
    for u in archived {
        // The manifest is input like any other: the same rules as for a new account.
        let valid = accounts::parse_email(&u.email).is_ok_and(|e| e == u.email)
            && accounts::parse_full_name(u.full_name.as_deref()).is_ok()
            && accounts::check_role(&u.role, true).is_ok()
            && !u.username.is_empty()
            && u.username.chars().count() <= 254
            && crate::text::forbidden_in(&u.username).is_none()
            && u.hashed_password.starts_with("$argon2");
        if !valid {
            return Err(refused(format!(
                "the manifest's user {:?} is not a valid company account",
                u.email
            )));
        }
        if users::get_by_uuid(conn, &u.id).map_err(failed)?.is_some() {
            return Err(ImportError::UserConflict(format!(
                "user {} ({}) already exists in this install",
                u.email, u.id
            )));
        }
        if users::email_or_username_taken(conn, &u.email, &u.username).map_err(failed)? {
            return Err(ImportError::UserConflict(format!(
                "the email {} or username {} is already used in this install",
                u.email, u.username
            )));
        }
        if !roles::exists(conn, &u.role).map_err(failed)? {
            return Err(ImportError::UserConflict(format!(
                "user {} has the role {:?}, which this install does not have",
                u.email, u.role
            )));
        }
    }
    Ok(())
}

/// Creates the archived users in the company `company_id` (inside its creation).
fn add_users(
    tx: &rusqlite::Connection,
    company_id: i64,
    archived: &[ArchivedUser],
) -> Result<(), DbError> {
    for u in archived {
        let id = users::insert(
            tx,
            &users::NewUser {
                uuid: &u.id,
                email: &u.email,
                username: &u.username,
                hashed_password: &u.hashed_password,
                full_name: u.full_name.as_deref(),
                company_id: Some(company_id),
                role: &u.role,
            },
        )?;
        if !u.is_active {
            let changes = users::UserChanges {
                is_active: Some(false),
                ..Default::default()
            };
            users::update(tx, id, &changes)?;
        }
    }
    Ok(())
}

/// Streams the members into `dir`, checking each before it is written; returns the parsed
/// manifest and what was unpacked (by path: `company.db`, `uploads/<name>`).
fn unpack(
    archive: &mut dyn Read,
    dir: &Path,
    limits: &ImportLimits,
) -> Result<(Manifest, BTreeMap<String, ArchivedFile>), ImportError> {
    // zstd's magic number first, so that a file of another kind gets a plain answer.
    let mut magic = [0u8; 4];
    archive.read_exact(&mut magic).map_err(damaged)?;
    if magic != [0x28, 0xb5, 0x2f, 0xfd] {
        return Err(refused(
            "the archive is not zstd-compressed: expected a .silo.tar.zst written by \
             `silo company export`",
        ));
    }
    let stream = io::Cursor::new(magic).chain(archive);
    let decoder = zstd::Decoder::new(stream)
        .map_err(|e| refused(format!("the archive is not zstd-compressed: {e}")))?;
    let mut tar = tar::Archive::new(decoder);
    let mut manifest: Option<Vec<u8>> = None;
    let mut unpacked = BTreeMap::new();
    let (mut total, mut members) = (0u64, 0u64);
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() && (raw == b"uploads" || raw == b"uploads/") {
            continue;
        }
        if !kind.is_file() {
            return Err(refused(format!(
                "archive member {shown:?} is not a regular file ({kind:?}): only files are \
                 allowed"
            )));
        }
        members += 1;
        if members > limits.max_members {
            return Err(ImportError::TooLarge(format!(
                "the archive has more than {} members (the limit)",
                limits.max_members
            )));
        }
        let member = Member::parse(&raw).map_err(|e| refused(format!("archive member {e}")))?;
        let size = entry.size();
        total = total.saturating_add(size);
        if total > limits.max_bytes {
            return Err(ImportError::TooLarge(format!(
                "the archive unpacks to more than {} bytes (the limit), at member {shown:?} \
                 of {size} bytes",
                limits.max_bytes
            )));
        }
        let path = member.path();
        if unpacked.contains_key(&path) || (member == Member::Manifest && manifest.is_some()) {
            return Err(refused(format!("archive member {path:?} appears twice")));
        }
        if member == Member::Manifest {
            if size > MAX_MANIFEST_BYTES {
                return Err(ImportError::TooLarge(format!(
                    "the manifest is {size} bytes, more than {MAX_MANIFEST_BYTES}"
                )));
            }
            let mut body = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut body).map_err(damaged)?;
            manifest = Some(body);
            continue;
        }
        let dest = dir.join(&path);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(anyhow::Error::from)?;
        let mut reader = Hashing {
            inner: &mut entry,
            hash: Sha256::new(),
            count: 0,
        };
        io::copy(&mut reader, &mut file).map_err(damaged)?;
        if reader.count != size {
            return Err(refused(format!("archive member {path:?} is truncated")));
        }
        file.sync_all().map_err(anyhow::Error::from)?;
        let sha256 = hex::encode(reader.hash.finalize());
        unpacked.insert(path.clone(), ArchivedFile { path, size, sha256 });
    }
    let body = manifest.ok_or_else(|| refused("the archive has no manifest.json"))?;
    let manifest: Manifest = serde_json::from_slice(&body)
        .map_err(|e| refused(format!("manifest.json is not a valid manifest: {e}")))?;
    Ok((manifest, unpacked))
}

/// The manifest is of this format and lists exactly the members unpacked.
fn check_members(
    manifest: &Manifest,
    unpacked: &BTreeMap<String, ArchivedFile>,
) -> Result<(), ImportError> {
    if manifest.format != FORMAT {
        return Err(refused(format!(
            "manifest.json is of format {:?}, not {FORMAT:?}",
            manifest.format
        )));
    }
    if manifest.format_version != FORMAT_VERSION {
        return Err(refused(format!(
            "the archive is of format version {}; this binary reads version {FORMAT_VERSION} \
             (upgrade silo to import it)",
            manifest.format_version
        )));
    }
    for listed in &manifest.files {
        match unpacked.get(&listed.path) {
            Some(found) if found == listed => {}
            Some(_) => {
                return Err(refused(format!(
                    "{}: its size or sha256 differs from the manifest's: the archive was \
                     changed or damaged",
                    listed.path
                )));
            }
            None => {
                return Err(refused(format!(
                    "the manifest lists {:?}, which is not in the archive",
                    listed.path
                )));
            }
        }
    }
    let listed: std::collections::HashSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    if let Some(extra) = unpacked.keys().find(|p| !listed.contains(p.as_str())) {
        return Err(refused(format!(
            "archive member {extra:?} is not in the manifest"
        )));
    }
    if !unpacked.contains_key(DB_FILE) {
        return Err(refused("the archive has no company.db"));
    }
    Ok(())
}

/// Checks the unpacked database against the manifest and this binary, then brings it to
/// this binary's schema. Returns (archived version, version now).
fn check_database(
    db: &Path,
    manifest: &Manifest,
    unpacked: &BTreeMap<String, ArchivedFile>,
) -> Result<(i64, i64), ImportError> {
    let not_company =
        |e: &dyn std::fmt::Display| refused(format!("company.db is not a company database: {e}"));
    let mut conn =
        open_existing(db, crate::ops::DEFAULT_BUSY_TIMEOUT).map_err(|e| not_company(&e))?;
    integrity::check(&conn, integrity::Depth::Full)
        .map_err(|e| refused(format!("company.db failed integrity_check: {e}")))?;
    let version =
        migrations::current_version(&conn, MigrationSet::Company).map_err(|e| not_company(&e))?;
    if version == 0 {
        return Err(not_company(&"it has no company migration history"));
    }
    let latest = MigrationSet::Company.latest();
    if version > latest {
        return Err(refused(format!(
            "company.db has schema version {version}, newer than this binary supports \
             ({latest}): upgrade silo to import it"
        )));
    }
    if version != manifest.schema_version {
        return Err(refused(format!(
            "company.db has schema version {version}, the manifest says {}",
            manifest.schema_version
        )));
    }
    let found = fingerprint::fingerprint(&conn).map_err(|e| not_company(&e))?;
    if found != manifest.fingerprint {
        let changed: Vec<String> = found
            .changes_since(&manifest.fingerprint)
            .iter()
            .map(|c| c.to_string())
            .collect();
        return Err(refused(format!(
            "company.db's rows differ from the manifest's fingerprint: {}",
            changed.join(", ")
        )));
    }
    let missing: std::collections::HashSet<&str> = manifest
        .missing_uploads
        .iter()
        .map(String::as_str)
        .collect();
    for path in documents::file_paths(&conn).map_err(|e| not_company(&e))? {
        let safe = matches!(Member::parse(path.as_bytes()), Ok(Member::Upload(_)));
        if !safe {
            return Err(refused(format!(
                "a document of company.db refers to the file {path:?}, outside {UPLOADS_DIR}/"
            )));
        }
        if !unpacked.contains_key(&path) && !missing.contains(path.as_str()) {
            return Err(refused(format!(
                "a document refers to {path:?}, which is neither in the archive nor listed \
                 as missing"
            )));
        }
    }
    let now = migrations::migrate(&mut conn, MigrationSet::Company).map_err(|e| {
        refused(format!(
            "company.db could not be migrated to this binary's schema: {e}"
        ))
    })?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .map_err(anyhow::Error::from)?;
    conn.close().map_err(|(_, e)| anyhow::Error::from(e))?;
    Ok((version, now))
}

/// Builds and saves the vector index of the company in `dir` from its stored embeddings
/// (for the embedder most of them are of); returns its size. A server whose embedder
/// differs discards it on first use and reindexes, as for any company.
fn build_index(dir: &Path) -> anyhow::Result<usize> {
    let conn = open_existing(&dir.join(DB_FILE), crate::ops::DEFAULT_BUSY_TIMEOUT)?;
    let Some((model, dims)) = embeddings::dominant_model(&conn)? else {
        return Ok(0);
    };
    let index = VectorIndex::open_or_rebuild(&dir.join(VECTORS_DIR), &conn, &model, dims)?;
    index.dump_if_dirty()?;
    Ok(index.len())
}
