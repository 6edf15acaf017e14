//! /api/admin/companies/{id}/export and /api/admin/companies/import: a company as one file
//! (tar + zstd, see `ops::archive`), streamed both ways.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::views::companies::CompanyResponse;
use crate::app::AppState;
use crate::identity::Actor;
use crate::ops::archive::EXTENSION;
use crate::ops::archive::import::{ImportLimits, ImportOptions, ImportReport};
use crate::service::archive::{self, Chunks};
use crate::service::companies;

/// The media type of an archive.
const ZSTD: &str = "application/zstd";
/// Also accepted for an upload: what generic clients send for a file.
const OCTETS: &str = "application/octet-stream";

/// Permission: companies:manage.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_company))
        .routes(routes!(import_company))
        // The import counts its own bytes against the archive limit.
        .layer(DefaultBodyLimit::disable())
}

/// Streams the company's archive: an online copy of its database (consistent while the
/// company keeps working), its stored files, its users (password hashes included) and a
/// manifest of sizes, sha256s and row counts, last. A failure midway ends the stream
/// early: an archive without its manifest, which import refuses.
#[utoipa::path(get, path = "/api/admin/companies/{id}/export", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 200, description = "the archive, streamed (`Content-Disposition: \
        attachment; filename=<slug>.silo.tar.zst`)", content_type = "application/zstd",
        body = Vec<u8>),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let company = companies::find(&app, &actor, id).await?;
    let disposition = format!("attachment; filename=\"{}.{EXTENSION}\"", company.slug);
    let chunks = archive::export(&app, &actor, company).await?;
    Ok((
        [
            (header::CONTENT_TYPE, ZSTD.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::new(ChunkBody(chunks)),
    )
        .into_response())
}

/// `?name=&slug=&without_users=` of an import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The new company's name (default: the archived one's).
    #[param(max_length = 100)]
    pub name: Option<String>,
    /// Its slug (default: the archived one's, or derived from `name` when that is given).
    #[param(max_length = 63)]
    pub slug: Option<String>,
    /// Leave the archived users out (default false: they are created, keeping their ids,
    /// roles and passwords).
    pub without_users: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResponse {
    pub company: CompanyResponse,
    pub report: ImportReport,
}

/// Creates a company from an archive made by export: the request body
/// (`application/zstd` or `application/octet-stream`, at most 16 GiB, unpacking to at most
/// 16 GiB in at most 1,000,000 members). Everything is checked before anything is created:
/// member paths (only `manifest.json`, `company.db`, `uploads/<plain name>`; links and `..`
/// refused), sizes, sha256s against the manifest, `integrity_check`, a schema not newer
/// than this server, the rows against the manifest's fingerprint, and the users (ids,
/// emails and usernames free here). A refused archive is a 422 naming the problem, with
/// nothing created.
#[utoipa::path(post, path = "/api/admin/companies/import", tag = "admin", params(ImportQuery),
    request_body(description = "the archive, as written by export",
        content((Vec<u8> = "application/zstd"), (Vec<u8> = "application/octet-stream"))),
    responses((status = 201, body = ImportResponse),
              (status = 400, body = ErrorBody),
              (status = 409, description = "the name, slug or a user's email is taken", body = ErrorBody),
              (status = 413, description = "over the archive limits", body = ErrorBody),
              (status = 415, body = ErrorBody),
              (status = 422, description = "the archive is refused (`field`: archive), or the name or slug is invalid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn import_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ImportResponse>)> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !matches!(media.as_deref(), Some(ZSTD | OCTETS)) {
        return Err(Error::UnsupportedMediaType(format!(
            "the archive must be sent as {ZSTD} (or {OCTETS})"
        )));
    }
    let limits = ImportLimits::default();
    let opts = ImportOptions {
        name: query.name,
        slug: query.slug,
        without_users: query.without_users.unwrap_or(false),
        limits,
    };
    let (tx, rx) = mpsc::channel(8);
    let (imported, received) = tokio::join!(
        archive::import(&app, &actor, rx, opts),
        receive(body, tx, limits.max_bytes)
    );
    // A failed import that saw a cut stream: the reason it was cut comes first. (A stream
    // that failed after the archive's end does not undo a company that was created.)
    let (company, report) = match imported {
        Ok(done) => done,
        Err(e) => return Err(received.err().unwrap_or(e)),
    };
    Ok((
        StatusCode::CREATED,
        Json(ImportResponse {
            company: CompanyResponse::new(company, false, None),
            report,
        }),
    ))
}

/// Passes the request body to the import, at most `limit` bytes. Stops early, without an
/// error, when the import stops reading (it refused the archive and says why).
async fn receive(
    mut body: Body,
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
    limit: u64,
) -> ApiResult<()> {
    let mut total = 0u64;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => return Ok(()),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(e)) => {
                let _ = tx.send(Err(io::Error::other("the upload was cut"))).await;
                return Err(super::body::failure_of(&e).unwrap_or_else(|| {
                    Error::BadRequest(format!("reading the request body failed: {e}"))
                }));
            }
        };
        total += data.len() as u64;
        if total > limit {
            let _ = tx
                .send(Err(io::Error::other("the upload is too large")))
                .await;
            return Err(Error::PayloadTooLarge(format!(
                "the archive is larger than {limit} bytes"
            )));
        }
        if tx.send(Ok(data.to_vec())).await.is_err() {
            return Ok(());
        }
    }
}

/// A response body fed by the export's channel.
struct ChunkBody(Chunks);

impl HttpBody for ChunkBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|chunk| chunk.map(|c| http_body::Frame::data(Bytes::from(c)))))
    }
}
