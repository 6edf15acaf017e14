//! `ApiMultipart`: axum's `Multipart` with the API's errors. A request that is not
//! `multipart/form-data` is a 415; a malformed stream a 400; too large a 413. Read errors
//! of the stream (a client that disconnects) are the client's doing: never a 5xx. The body is
//! read through [`super::body::bounded_multipart`], so no stream makes the parser buffer
//! more than 64 KiB looking for a boundary.

use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;

use crate::error::Error;

pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let boundary = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multer::parse_boundary(v).ok());
        // Without a boundary the parser refuses the request before reading it.
        let req = match boundary {
            Some(boundary) => req.map(|body| super::body::bounded_multipart(body, &boundary)),
            None => req,
        };
        match Multipart::from_request(req, state).await {
            Ok(m) => Ok(ApiMultipart(m)),
            Err(MultipartRejection::InvalidBoundary(_)) => Err(Error::UnsupportedMediaType(
                "expected a multipart/form-data request body with a boundary".into(),
            )),
            Err(other) => Err(Error::BadRequest(other.body_text())),
        }
    }
}

/// Maps an error met while reading the parts.
pub fn field_error(err: MultipartError, limit_bytes: u64) -> Error {
    if let Some(answer) = super::body::failure_of(&err) {
        return answer;
    }
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(format!(
            "the request body is larger than {limit_bytes} bytes"
        ))
    } else {
        Error::BadRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}
