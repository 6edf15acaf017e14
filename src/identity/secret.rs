//! The JWT signing secret: from `SILO_JWT_SECRET`, else 256 random bits generated into the
//! data directory (mode 0600) on first run and reused after.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, bail};

pub const SECRET_FILE: &str = "jwt_secret";
const MIN_SECRET_BYTES: usize = 32;

/// Returns the signing secret, creating the secret file if needed.
pub fn load_or_create(data_dir: &Path, from_env: Option<&str>) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = from_env {
        if secret.len() < MIN_SECRET_BYTES {
            bail!("SILO_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes");
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = hex::decode(text.trim()).context("the JWT secret file is not hex")?;
            if secret.len() < MIN_SECRET_BYTES {
                bail!(
                    "{} holds fewer than {MIN_SECRET_BYTES} bytes",
                    path.display()
                );
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; MIN_SECRET_BYTES] = rand::random();
            // create_new: two processes starting at once cannot both write a secret.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            file.write_all(hex::encode(secret).as_bytes())?;
            file.sync_all()?;
            Ok(secret.to_vec())
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
