//! Receiving an upload: the file part is streamed to a temporary file in the company's
//! `uploads/` (hashed and counted on the way, refused past the size limit), the text parts
//! are read with small limits. The temporary file is removed on every path that does not
//! end in a stored document.

use std::path::Path;

use axum::extract::Multipart;
use axum::extract::multipart::Field;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::multipart::field_error;
use crate::error::Error;
use crate::ingest::uploads::{StagedFile, TEMP_PREFIX};

/// Largest text part (title, description, tags, ...).
const MAX_TEXT_PART: usize = 64 * 1024;
/// Most parts a request may have.
const MAX_PARTS: usize = 16;

/// The parts of an upload, unvalidated.
#[derive(Default)]
pub struct UploadParts {
    pub file: Option<StagedFile>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<String>,
    pub scope: Option<String>,
}

/// Reads every part of `mp`: the file into `uploads_dir`, at most `limit` bytes.
pub async fn read_parts(
    mut mp: Multipart,
    uploads_dir: &Path,
    limit: u64,
) -> Result<UploadParts, Error> {
    let mut parts = UploadParts::default();
    let mut count = 0;
    while let Some(field) = mp.next_field().await.map_err(|e| field_error(e, limit))? {
        count += 1;
        if count > MAX_PARTS {
            return Err(Error::BadRequest(format!(
                "at most {MAX_PARTS} form parts are accepted"
            )));
        }
        let name = field.name().unwrap_or("").to_string();
        let slot = match name.as_str() {
            "file" => {
                if parts.file.is_some() {
                    return Err(Error::invalid(
                        "file",
                        "only one file may be uploaded at a time",
                    ));
                }
                parts.file = Some(stage_file(field, uploads_dir, limit).await?);
                continue;
            }
            "title" => &mut parts.title,
            "description" => &mut parts.description,
            "category" => &mut parts.category,
            "tags" => &mut parts.tags,
            "scope" => &mut parts.scope,
            "" => return Err(Error::BadRequest("a form part has no name".into())),
            other => return Err(Error::invalid(other, "is not a known field")),
        };
        if slot.is_some() {
            return Err(Error::invalid(name, "is given more than once"));
        }
        *slot = Some(read_text(field, &name, limit).await?);
    }
    Ok(parts)
}

async fn read_text(mut field: Field<'_>, name: &str, limit: u64) -> Result<String, Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| field_error(e, limit))? {
        if buf.len() + chunk.len() > MAX_TEXT_PART {
            return Err(Error::PayloadTooLarge(format!(
                "{name} is larger than {MAX_TEXT_PART} bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| Error::invalid(name, "must be UTF-8 text"))
}

/// The base name of a client's file name: no directories, no control characters.
fn clean_filename(raw: &str) -> Result<String, Error> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(Error::invalid("file", "must have a file name"));
    }
    if cleaned.chars().count() > 255 {
        return Err(Error::invalid(
            "file",
            "the file name must be at most 255 characters",
        ));
    }
    Ok(cleaned)
}

async fn stage_file(mut field: Field<'_>, dir: &Path, limit: u64) -> Result<StagedFile, Error> {
    let filename = clean_filename(
        field
            .file_name()
            .ok_or_else(|| Error::invalid("file", "must be a file part with a file name"))?,
    )?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(Error::internal)?;
    let path = dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
    let mut staged = StagedFile::new(path, filename);
    let mut out = tokio::fs::File::create(&staged.path)
        .await
        .map_err(Error::internal)?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| field_error(e, limit))? {
        staged.size += chunk.len() as u64;
        if staged.size > limit {
            return Err(Error::PayloadTooLarge(format!(
                "the file is larger than the limit of {limit} bytes"
            )));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(Error::internal)?;
    }
    out.flush().await.map_err(Error::internal)?;
    // The document row will point at this file: make it durable before the row commits.
    out.sync_all().await.map_err(Error::internal)?;
    if staged.size == 0 {
        return Err(Error::invalid("file", "is empty"));
    }
    staged.sha256 = hex::encode(hasher.finalize());
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::clean_filename;

    #[test]
    fn filenames_lose_their_directories() {
        assert_eq!(
            clean_filename("../../etc/passwd.txt").unwrap(),
            "passwd.txt"
        );
        assert_eq!(clean_filename("C:\\docs\\a.pdf").unwrap(), "a.pdf");
        assert!(clean_filename("dir/").is_err());
        assert!(clean_filename("..").is_err());
    }
}
