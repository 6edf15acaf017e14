//! A company as one file: `silo company export` writes it, `silo company import` checks and
//! loads it (and the admin API streams both).
//!
//! The archive is a tar stream compressed with zstd (frame checksums on), holding exactly:
//! - `company.db`: an online backup of the company's database (one consistent state, one
//!   self-contained file, `integrity_check`ed when taken);
//! - `uploads/<name>`: every stored file a document of that state refers to;
//! - `manifest.json`, last (it is written once every member's hash is known, so the export
//!   is one pass that can stream): the [`Manifest`].
//!
//! Import trusts nothing in it: see [`import`]. The archive is checked for damage and
//! for anything that could escape or exhaust the data directory, not for authorship: a
//! consistent archive made by hand is a valid one.

pub mod export;
pub mod import;

use serde::{Deserialize, Serialize};

use crate::store::db::fingerprint::Fingerprint;
use crate::tenant::provision::{DB_FILE, UPLOADS_DIR};

/// `manifest.format`.
pub const FORMAT: &str = "silo-company-archive";
/// `manifest.format_version` this binary writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's member name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest is read into memory: it may not be larger than this.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// Suggested file name suffix.
pub const EXTENSION: &str = "silo.tar.zst";

/// What an archive holds, and how to check it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub format_version: u32,
    /// The version of the silo that wrote it.
    pub silo_version: String,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    pub company: ArchivedCompany,
    /// The company schema version of `company.db`.
    pub schema_version: i64,
    /// Row count and sha256 of each table of `company.db` (see `store::db::fingerprint`).
    #[schema(value_type = Object)]
    pub fingerprint: Fingerprint,
    /// Every other member, with its size and sha256.
    pub files: Vec<ArchivedFile>,
    /// Files documents refer to that were not in the data directory when exported.
    pub missing_uploads: Vec<String>,
    /// The company's users, password hashes included: an archive must be kept as safe as
    /// the data directory.
    #[serde(default)]
    pub users: Vec<ArchivedUser>,
}

/// A user of the company, as primary.db holds it (role by name).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArchivedUser {
    pub id: String,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub role: String,
    pub is_active: bool,
    /// The argon2 PHC string: the user keeps their password.
    pub hashed_password: String,
}

/// The company the archive was made from.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArchivedCompany {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub industry: Option<String>,
}

/// One member of the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArchivedFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    /// The number of rows of `table` in the archived database.
    pub fn rows(&self, table: &str) -> u64 {
        self.fingerprint.tables.get(table).map_or(0, |t| t.rows)
    }
}

/// What a member path names, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    Manifest,
    Database,
    /// A stored file, by its name inside `uploads/`.
    Upload(String),
}

impl Member {
    /// Checks a member (or a document's stored file) path: only `manifest.json`,
    /// `company.db` and `uploads/<name>`, `name` being a plain file name (letters, digits,
    /// `.`, `_`, `-`, not starting with a dot, at most 255 bytes). Anything else, `..`
    /// and absolute paths included, is refused with the reason.
    pub fn parse(path: &[u8]) -> Result<Member, String> {
        let shown = String::from_utf8_lossy(path);
        let text = std::str::from_utf8(path).map_err(|_| format!("{shown:?} is not UTF-8"))?;
        if text.starts_with('/') || text.split('/').any(|part| part == "..") {
            return Err(format!("{text:?} escapes the company directory"));
        }
        match text {
            MANIFEST => return Ok(Member::Manifest),
            DB_FILE => return Ok(Member::Database),
            _ => {}
        }
        let name = text
            .strip_prefix(UPLOADS_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                format!("{text:?} is not {MANIFEST}, {DB_FILE} or a file in {UPLOADS_DIR}/")
            })?;
        let plain = !name.is_empty()
            && name.len() <= 255
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain {
            return Err(format!(
                "{text:?} is not a plain file name in {UPLOADS_DIR}/ (letters, digits, '.', \
                 '_' and '-', not starting with '.')"
            ));
        }
        Ok(Member::Upload(name.to_string()))
    }

    /// The path inside the archive and inside the company directory.
    pub fn path(&self) -> String {
        match self {
            Member::Manifest => MANIFEST.to_string(),
            Member::Database => DB_FILE.to_string(),
            Member::Upload(name) => format!("{UPLOADS_DIR}/{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_kinds_of_member_pass() {
        assert_eq!(Member::parse(b"manifest.json"), Ok(Member::Manifest));
        assert_eq!(Member::parse(b"company.db"), Ok(Member::Database));
        assert_eq!(
            Member::parse(b"uploads/0b7e-1.pdf"),
            Ok(Member::Upload("0b7e-1.pdf".into()))
        );
        for bad in [
            &b"../company.db"[..],
            b"uploads/../../primary.db",
            b"/etc/passwd",
            b"uploads/",
            b"uploads/.hidden",
            b"uploads/a/b",
            b"uploads/a b",
            b"vectors/graph.hnsw",
            b"company.db-wal",
            b"uploads/\xff",
        ] {
            assert!(
                Member::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(Member::parse(b"../x").unwrap_err().contains("escapes"));
        assert!(Member::parse(&[b'a'; 300]).is_err());
    }
}
