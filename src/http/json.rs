//! Extractors that turn axum's rejections into the API's error envelope: malformed JSON is a
//! 400, a wrong type or missing field a 422 naming the field, a wrong content type a 415 and
//! an oversized body a 413.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// `axum::Json` with the API's errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(json_rejection(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(JsonRejection::BytesRejection(e)))?;
        // Every request body of the API is an object; serde would also take a struct
        // written as an array (`[null, null]`), which the schema does not allow.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::invalid("body", "must be a JSON object"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            // JSON (and JSON Schema) count `9.0` as the integer 9; serde does not. Read
            // integral numbers as integers and try once more.
            Err(JsonRejection::JsonDataError(e))
                if e.body_text().contains("invalid type: floating point") =>
            {
                let mut value: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|_| Error::BadRequest("malformed JSON".into()))?;
                integral_numbers(&mut value);
                let bytes = serde_json::to_vec(&value).map_err(Error::internal)?;
                axum::Json::<T>::from_bytes(&bytes)
                    .map(|axum::Json(value)| ApiJson(value))
                    .map_err(json_rejection)
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Rewrites every number with no fractional part (`9.0`) as an integer, in place.
fn integral_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                if f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    *n = (f as i64).into();
                } else if f >= 0.0 && f < u64::MAX as f64 {
                    *n = (f as u64).into();
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// `Content-Type: application/json` (or `application/<something>+json`), any parameters.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: JsonRejection) -> Error {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let detail = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text);
            let (field, message) = field_of(detail);
            Error::invalid(field, message)
        }
        JsonRejection::JsonSyntaxError(e) => Error::BadRequest(format!(
            "malformed JSON: {}",
            e.body_text()
                .trim_start_matches("Failed to parse the request body as JSON: ")
        )),
        JsonRejection::MissingJsonContentType(_) => Error::UnsupportedMediaType(
            "expected a request body with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(e) if super::body::failure_of(&e).is_some() => {
            super::body::failure_of(&e).expect("checked")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::PayloadTooLarge(format!(
                "request body is larger than {} bytes",
                super::MAX_JSON_BODY
            ))
        }
        other => Error::BadRequest(other.body_text()),
    }
}

/// Splits serde's "path: message" (or "missing field `x`") into the field and a sentence.
fn field_of(detail: &str) -> (String, String) {
    let detail = detail.split(" at line ").next().unwrap_or(detail);
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = detail.split(marker).nth(1) {
            let field = rest.split('`').next().unwrap_or("body");
            let message = if marker.starts_with("missing") {
                "is required"
            } else {
                "is not a known field"
            };
            let prefix = detail
                .split(marker)
                .next()
                .unwrap_or("")
                .trim_end_matches(": ");
            // serde_path_to_error names the parent for a missing field, the key for an unknown one.
            let path = if prefix.is_empty() || prefix == "." {
                field.to_string()
            } else if prefix == field || prefix.ends_with(&format!(".{field}")) {
                prefix.to_string()
            } else {
                format!("{prefix}.{field}")
            };
            return (path, message.to_string());
        }
    }
    match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (path.to_string(), message.to_string()),
        _ => ("body".to_string(), detail.to_string()),
    }
}

/// `axum::extract::Query` with the API's errors (a bad parameter is a 422 naming it).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let text = e.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let (field, message) = field_of(detail);
                Err(Error::invalid(field, message))
            }
            Err(other) => Err(Error::BadRequest(other.body_text())),
        }
    }
}

/// `axum::extract::Path` with the API's errors.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(Error::invalid("path", e.body_text()))
            }
            Err(other) => Err(Error::BadRequest(other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn serde_messages_name_the_field() {
        assert_eq!(
            field_of("missing field `email` at line 1 column 2").0,
            "email"
        );
        assert_eq!(
            field_of("role: invalid type: integer `5`, expected a string at line 1 column 9"),
            (
                "role".into(),
                "invalid type: integer `5`, expected a string".into()
            )
        );
        assert_eq!(field_of("expected value").0, "body");
        assert_eq!(
            field_of("extra: unknown field `extra`, expected `a` at line 1 column 16").0,
            "extra"
        );
        assert_eq!(field_of("user: missing field `name`").0, "user.name");
    }
}
