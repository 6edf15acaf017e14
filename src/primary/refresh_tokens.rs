//! Refresh tokens, stored as SHA-256 hashes. A login starts a family; each refresh rotates
//! within it; presenting an already-rotated token revokes the whole family (it was stolen or
//! replayed, and we cannot tell which copy is the legitimate one).

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::db::{DbError, now, write_tx};

/// How long a refresh token lives.
pub const REFRESH_TTL_DAYS: i64 = 30;

/// A fresh random token (256 bits, hex) and its hash for storage.
pub fn generate() -> (String, String) {
    let raw: [u8; 32] = rand::random();
    let token = hex::encode(raw);
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn expiry() -> String {
    crate::db::timestamp(chrono::Utc::now() + chrono::Duration::days(REFRESH_TTL_DAYS))
}

/// Stores a new token for `user_id` in `family`; returns the token to hand out.
pub fn issue(conn: &Connection, user_id: i64, family: &str) -> Result<String, DbError> {
    let (token, hash) = generate();
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, user_id, family, expiry()],
    )?;
    Ok(token)
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Valid: here is the user and the new token of the same family.
    Rotated {
        user_id: i64,
        family: String,
        token: String,
    },
    /// Unknown, expired or revoked.
    Invalid,
    /// Already rotated: the family has now been revoked.
    Reused,
}

/// Exchanges `token` for a new one, atomically.
pub fn rotate(conn: &mut Connection, token: &str) -> Result<Rotation, DbError> {
    let tx = write_tx(conn)?;
    let row = tx
        .query_row(
            "SELECT id, user_id, family_id, expires_at, rotated_at IS NOT NULL, revoked_at IS NOT NULL
             FROM refresh_tokens WHERE token_hash = ?1",
            [hash(token)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((id, user_id, family, expires_at, rotated, revoked)) = row else {
        return Ok(Rotation::Invalid);
    };
    if revoked || expires_at <= now() {
        return Ok(Rotation::Invalid);
    }
    if rotated {
        revoke_family(&tx, &family)?;
        tx.commit()?;
        return Ok(Rotation::Reused);
    }
    tx.execute(
        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    let new_token = issue(&tx, user_id, &family)?;
    tx.commit()?;
    Ok(Rotation::Rotated {
        user_id,
        family,
        token: new_token,
    })
}

pub fn revoke_family(conn: &Connection, family: &str) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
        params![family, now()],
    )?)
}

/// Revokes the family of `token` if it belongs to `user_id` (logout).
pub fn revoke_by_token(conn: &Connection, user_id: i64, token: &str) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?3
         WHERE revoked_at IS NULL AND family_id IN
             (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1 AND user_id = ?2)",
        params![hash(token), user_id, now()],
    )?)
}

/// Revokes every session of a user except the family `keep` (password change, deactivation).
pub fn revoke_all_for_user(
    conn: &Connection,
    user_id: i64,
    keep: Option<&str>,
) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?3
         WHERE user_id = ?1 AND revoked_at IS NULL AND family_id IS NOT ?2",
        params![user_id, keep, now()],
    )?)
}

/// Drops tokens expired for more than a day (housekeeping).
pub fn purge_expired(conn: &Connection) -> Result<usize, DbError> {
    let cutoff = crate::db::timestamp(chrono::Utc::now() - chrono::Duration::days(1));
    Ok(conn.execute("DELETE FROM refresh_tokens WHERE expires_at < ?1", [cutoff])?)
}
