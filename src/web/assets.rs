//! The console's static files, built into the binary (`include_bytes!`: three files need no
//! embedding crate), served with their type and a day of caching.

use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// htmx, vendored at an exact version (web/vendor/README.md records its licence and hash).
pub const HTMX: &[u8] = include_bytes!("../../web/vendor/htmx-2.0.11.min.js");
/// The sha256 of [`HTMX`] recorded in web/vendor/README.md.
pub const HTMX_SHA256: &str = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717";
pub const CSS: &[u8] = include_bytes!("../../web/console.css");

/// GET /admin/static/{name}.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.css" => (CSS, "text/css; charset=utf-8"),
        _ => return super::pages::error_page(Error::not_found("file")),
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    res.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn the_vendored_htmx_is_the_recorded_one() {
        assert_eq!(hex::encode(Sha256::digest(super::HTMX)), super::HTMX_SHA256);
        let readme = include_str!("../../web/vendor/README.md");
        assert!(readme.contains(super::HTMX_SHA256));
    }
}
