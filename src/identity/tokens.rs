//! Access tokens: HS256 JWTs with `sub` (user id), `company`, `role`, `sid` (the login's
//! refresh-token family), `iat` and `exp`. Short-lived; the user and company rows are still
//! checked on every request, so deactivation does not wait for expiry.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated between issuing and checking (jsonwebtoken's default is 60 s).
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's public id.
    pub sub: String,
    /// The company's public id; absent for super admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub role: String,
    /// The refresh-token family (login session) this token was issued for.
    #[serde(default)]
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signing and verification keys with the validation rules.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        // Clearing the required claims would silently accept a token without `exp`.
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
        }
    }

    /// Signs an access token; returns it with its lifetime in seconds.
    pub fn issue(
        &self,
        user_uuid: &str,
        company_uuid: Option<&str>,
        role: &str,
        session: &str,
    ) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let ttl = self.access_ttl.as_secs();
        let claims = Claims {
            sub: user_uuid.to_string(),
            company: company_uuid.map(str::to_string),
            role: role.to_string(),
            sid: session.to_string(),
            iat: now,
            exp: now + ttl as i64,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, ttl))
    }

    /// Verifies signature, algorithm and expiry. Any failure is just "invalid": the reason
    /// is logged at debug level, never told to the client.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Some(data.claims),
            Err(err) => {
                tracing::debug!(error = %err, "rejected access token");
                None
            }
        }
    }
}
