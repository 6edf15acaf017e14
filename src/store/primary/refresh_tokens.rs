//! Refresh tokens, stored as SHA-256 hashes. A login starts a family; each refresh rotates
//! within it; presenting an already-rotated token revokes the whole family (it was stolen or
//! replayed, and we cannot tell which copy is the legitimate one).

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::store::db::{DbError, now, write_tx};

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
    crate::store::db::timestamp(chrono::Utc::now() + chrono::Duration::days(REFRESH_TTL_DAYS))
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

/// Housekeeping: drops tokens expired, or revoked, for more than a day (a day of grace keeps
/// a replayed token recognisable while its theft is investigated). A session whose rows are
/// gone stays ended: the guard looks for a live row of the family. Returns how many went.
pub fn purge_expired(conn: &Connection) -> Result<usize, DbError> {
    let cutoff = crate::store::db::timestamp(chrono::Utc::now() - chrono::Duration::days(1));
    Ok(conn.execute(
        "DELETE FROM refresh_tokens WHERE expires_at < ?1 OR revoked_at < ?1",
        [cutoff],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::migrations::{MigrationSet, migrate};

    #[test]
    fn expired_and_revoked_tokens_are_purged_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("primary.db")).unwrap();
        migrate(&mut conn, MigrationSet::Primary).unwrap();
        conn.execute(
            "INSERT INTO users (uuid, email, username, hashed_password, role_id)
             VALUES ('u', 'a@b.c', 'a@b.c', 'x', (SELECT id FROM roles WHERE name = 'viewer'))",
            [],
        )
        .unwrap();
        let user: i64 = conn.last_insert_rowid();
        let live = issue(&conn, user, "live").unwrap();
        issue(&conn, user, "old").unwrap();
        issue(&conn, user, "ended").unwrap();
        issue(&conn, user, "just-ended").unwrap();
        let long_ago = crate::store::db::timestamp(chrono::Utc::now() - chrono::Duration::days(3));
        conn.execute(
            "UPDATE refresh_tokens SET expires_at = ?1 WHERE family_id = 'old'",
            [&long_ago],
        )
        .unwrap();
        conn.execute(
            "UPDATE refresh_tokens SET revoked_at = ?1 WHERE family_id = 'ended'",
            [&long_ago],
        )
        .unwrap();
        revoke_family(&conn, "just-ended").unwrap();
        assert_eq!(purge_expired(&conn).unwrap(), 2);
        let left: Vec<String> = conn
            .prepare("SELECT family_id FROM refresh_tokens ORDER BY family_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(left, ["just-ended", "live"]);
        // The live token still rotates.
        assert!(matches!(
            rotate(&mut conn, &live).unwrap(),
            Rotation::Rotated { .. }
        ));
    }
}
