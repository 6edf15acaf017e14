//! Writing a company's archive (see the parent module for its layout).
//!
//! The database is first copied with the backup API into a scratch directory of the data
//! directory (`companies/.tmp-export-<uuid>/`, removed afterwards, and by the start-up
//! cleanup after a crash): that copy is the one consistent state the archive holds, taken
//! while the server keeps writing. The stored files are those the copy's documents refer
//! to; each is hashed as it is streamed. Nothing is read twice, and nothing is buffered
//! beyond tar's and zstd's blocks, so the output can be an HTTP response.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::{
    ArchivedCompany, ArchivedFile, ArchivedUser, FORMAT, FORMAT_VERSION, MANIFEST, Manifest, Member,
};
use crate::ops::backup;
use crate::store::company::documents;
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::db::{Pool, fingerprint};
use crate::store::primary::companies::Company;
use crate::store::primary::users::{self, UserFilter};
use crate::tenant::names::resolve_inside;
use crate::tenant::provision::{COMPANIES_DIR, DB_FILE};

/// zstd level: 3 is the library's default, ~4× on text at well over 100 MB/s per core.
const LEVEL: i32 = 3;

/// Writes `company`'s archive to `out` (blocking) and returns its manifest. On error,
/// what was written to `out` is not a valid archive (its manifest is missing).
pub fn export_company(
    primary: &Pool,
    data_dir: &Path,
    company: &Company,
    busy_timeout: Duration,
    out: &mut dyn Write,
) -> anyhow::Result<Manifest> {
    let filter = UserFilter {
        company_id: Some(company.id),
        role: None,
    };
    let (found, _) = users::list(&*primary.get()?, &filter, u32::MAX, 0)?;
    let users = found
        .into_iter()
        .map(|u| ArchivedUser {
            id: u.uuid,
            email: u.email,
            username: u.username,
            full_name: u.full_name,
            role: u.role,
            is_active: u.is_active,
            hashed_password: u.hashed_password,
        })
        .collect();
    let live = resolve_inside(data_dir, &company.db_path).map_err(anyhow::Error::msg)?;
    let company_dir = live.parent().context("company path has no directory")?;
    let scratch = data_dir
        .join(COMPANIES_DIR)
        .join(format!(".tmp-export-{}", uuid::Uuid::new_v4()));
    let outcome = (|| {
        let copy = scratch.join(DB_FILE);
        backup::backup_file(&live, &copy, busy_timeout)
            .with_context(|| format!("copying the database of company {}", company.slug))?;
        write_archive(company, users, company_dir, &copy, out)
    })();
    let _ = fs::remove_dir_all(&scratch);
    outcome
}

fn write_archive(
    company: &Company,
    users: Vec<ArchivedUser>,
    company_dir: &Path,
    copy: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<Manifest> {
    let (schema_version, fingerprint, stored) = {
        let conn = rusqlite::Connection::open_with_flags(
            copy,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        (
            migrations::current_version(&conn, MigrationSet::Company)?,
            fingerprint::fingerprint(&conn)?,
            documents::file_paths(&conn)?,
        )
    };
    let mut manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        silo_version: env!("CARGO_PKG_VERSION").to_string(),
        exported_at: chrono::Utc::now(),
        company: ArchivedCompany {
            id: company.uuid.clone(),
            name: company.name.clone(),
            slug: company.slug.clone(),
            industry: company.industry.clone(),
        },
        schema_version,
        fingerprint,
        files: Vec::new(),
        missing_uploads: Vec::new(),
        users,
    };
    let mtime = manifest.exported_at.timestamp().max(0) as u64;
    let encoder = zstd::Encoder::new(out, LEVEL)?;
    let mut tar = tar::Builder::new(encoder);
    manifest
        .files
        .push(append_file(&mut tar, DB_FILE, copy, mtime)?);
    let mut seen = std::collections::HashSet::new();
    for path in stored {
        // A path this binary would not write is not followed: it is reported missing.
        let member = match Member::parse(path.as_bytes()) {
            Ok(member @ Member::Upload(_)) => member,
            _ => {
                manifest.missing_uploads.push(path);
                continue;
            }
        };
        let name = member.path();
        if !seen.insert(name.clone()) {
            continue;
        }
        let file = company_dir.join(&name);
        if !file.is_file() {
            tracing::warn!(company = %company.slug, file = %name, "a stored file is missing; exported without it");
            manifest.missing_uploads.push(name);
            continue;
        }
        manifest
            .files
            .push(append_file(&mut tar, &name, &file, mtime)?);
    }
    let body = serde_json::to_vec_pretty(&manifest)?;
    let mut header = header(body.len() as u64, mtime);
    tar.append_data(&mut header, MANIFEST, body.as_slice())?;
    let encoder = tar.into_inner()?;
    encoder.finish()?.flush()?;
    Ok(manifest)
}

fn header(size: u64, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header
}

/// Appends the file at `src` as `name`, hashing it on the way.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    src: &Path,
    mtime: u64,
) -> anyhow::Result<ArchivedFile> {
    let file = fs::File::open(src).with_context(|| format!("opening {}", src.display()))?;
    let size = file.metadata()?.len();
    let mut reader = Hashing {
        inner: file.take(size),
        hash: Sha256::new(),
        count: 0,
    };
    let mut header = header(size, mtime);
    tar.append_data(&mut header, name, &mut reader)
        .with_context(|| format!("writing {name}"))?;
    // A file that shrank while read would leave its header's size unfilled.
    anyhow::ensure!(
        reader.count == size,
        "{name} changed while it was exported ({} of {size} bytes read)",
        reader.count
    );
    Ok(ArchivedFile {
        path: name.to_string(),
        size,
        sha256: hex::encode(reader.hash.finalize()),
    })
}

/// A reader that hashes and counts what passes through.
pub(super) struct Hashing<R> {
    pub inner: R,
    pub hash: Sha256,
    pub count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}
