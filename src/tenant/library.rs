//! The global document library: documents a super admin publishes to every company. It is
//! its own database beside primary.db (`library/library.db`, the company schema, with its own
//! `vectors/` and `uploads/`), opened through the registry like a company under the reserved
//! id [`LIBRARY_ID`], which no company row can have (SQLite row ids start at 1). Everything
//! that works on a company's documents (upload, the ingestion pipeline, the vector index,
//! the trash) therefore works on the library unchanged; who may do what there is decided by
//! `service::library`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::provision::{self, COMPANIES_DIR};
use crate::store::primary::companies::Company;

/// The registry id of the library.
pub const LIBRARY_ID: i64 = 0;
/// The library's directory, relative to the data directory.
pub const LIBRARY_DIR: &str = "library";
/// The library's database file, in [`LIBRARY_DIR`].
pub const LIBRARY_DB: &str = "library.db";
/// The name search results and the API give the library.
pub const LIBRARY_SLUG: &str = "library";

/// The library's database path, relative to the data directory.
pub fn db_path() -> String {
    format!("{LIBRARY_DIR}/{LIBRARY_DB}")
}

/// The library as the registry sees a company: a row made up here, never stored.
pub fn row() -> Company {
    Company {
        id: LIBRARY_ID,
        uuid: LIBRARY_SLUG.into(),
        name: "Global library".into(),
        slug: LIBRARY_SLUG.into(),
        industry: None,
        db_path: db_path(),
        is_active: true,
        created_at: String::new(),
        updated_at: String::new(),
        integrity_checked_at: None,
        damaged_at: None,
        damage: None,
    }
}

/// The library's directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LIBRARY_DIR)
}

/// Whether the library has been created.
pub fn exists(data_dir: &Path) -> bool {
    dir(data_dir).join(LIBRARY_DB).is_file()
}

/// Creates the library if it does not exist yet: built in a temporary directory under
/// `companies/` (removed at the next start if a crash leaves it) and renamed into place, so
/// the library is either whole or absent. Blocking.
pub fn ensure(data_dir: &Path) -> anyhow::Result<()> {
    static CREATING: Mutex<()> = Mutex::new(());
    let _one = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    if exists(data_dir) {
        return Ok(());
    }
    let tmp = data_dir
        .join(COMPANIES_DIR)
        .join(format!(".tmp-library-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(data_dir.join(COMPANIES_DIR))?;
    let built = provision::build_files(&tmp, &dir(data_dir), LIBRARY_DB, &mut |tmp| {
        provision::new_database_file(&tmp.join(LIBRARY_DB))
    });
    if built.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    built
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_made_once_and_whole() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!exists(tmp.path()));
        ensure(tmp.path()).unwrap();
        assert!(exists(tmp.path()));
        assert!(dir(tmp.path()).join("uploads").is_dir());
        assert!(dir(tmp.path()).join("vectors").is_dir());
        ensure(tmp.path()).unwrap();
        let leftovers = std::fs::read_dir(tmp.path().join(COMPANIES_DIR))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0, "no temporary directory is left");
    }
}
