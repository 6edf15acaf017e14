//! The OpenAPI document at GET /api/openapi.json.
//!
//! Every route is registered through `utoipa_axum::routes!`, which adds a handler to the
//! router and its `#[utoipa::path]` description to the document in one step, and the router
//! and the document are both built by `super::assemble`, so the two cannot drift apart; a
//! test also sends a request to every documented operation and checks the router answers it
//! (not the 404/405 fallbacks).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayItems, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// The error envelope every 4xx/5xx answer carries.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (bad_request, not_found, invalid_field, ...).
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// For invalid_field: the offending field.
    pub field: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Silo", description = "A database-per-tenant SaaS engine on SQLite. Errors use \
        the envelope {\"error\": {\"code\", \"message\"}}; lists answer {items, total, limit, offset} \
        with ?limit= (default 50, at most 200) and ?offset=."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document's shell: title, description, the bearer scheme and the error schemas. The
/// route groups' parts are merged into it.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The company workspace API (documents, jobs, conversations, agent logs, usage, profile,
/// reports).
pub fn workspace() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(super::documents::api())
        .merge(super::jobs::api())
        .merge(super::conversations::api())
        .merge(super::agent_logs::api())
        .merge(super::usage::api())
        .merge(super::profile::api())
        .merge(super::reports::api())
        .merge(super::search::api())
        .merge(super::trash::api())
}

/// Adds the answers of a group's gate (its middleware) to each of the group's operations
/// that does not list that status already: the handlers' annotations describe the handlers,
/// this the layer in front of them.
pub fn gate_responses(doc: &mut utoipa::openapi::OpenApi, answers: &[(u16, &str)]) {
    for op in operations_mut(doc) {
        for (status, description) in answers {
            add_error(op, *status, description);
        }
    }
}

/// Answers every operation of a kind can give, whatever its handler: a request body that
/// stops arriving is 408 (the idle read timeout); a write on a full disk is 507.
fn shared_responses(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let writes = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in writes.into_iter().flatten() {
            if op.request_body.is_some() {
                add_error(
                    op,
                    400,
                    "the body is malformed (not JSON, or a broken multipart stream)",
                );
                add_error(
                    op,
                    408,
                    "`body_timeout`: the request body stopped arriving for longer than the read timeout",
                );
                add_error(
                    op,
                    413,
                    "the body is larger than its limit (1 MiB of JSON; an upload: the server's upload limit)",
                );
                add_error(
                    op,
                    415,
                    "the Content-Type is not the one the operation takes",
                );
                add_error(op, 422, "a field is invalid: `field` names it");
            }
            add_error(
                op,
                507,
                "`storage_full`: the server is out of storage space; nothing was saved",
            );
        }
    }
}

/// Text rules are written on fields as markers (`#[schema(pattern = "text:line!")]`) and
/// replaced here by the regular expressions [`crate::text::pattern`] generates from the
/// server's own check: `line` one-line, `text` multi-line, `!` not blank.
fn text_patterns(doc: &mut utoipa::openapi::OpenApi) {
    /// The pattern for a marker, and whether `maxLength` still applies (one-line texts are
    /// trimmed by the server, so their limit moves into the pattern).
    fn marker(pattern: &str, max: Option<usize>) -> Option<(String, bool)> {
        let rule = pattern.strip_prefix("text:")?;
        let (kind, nonblank) = rule.strip_suffix('!').map_or((rule, false), |k| (k, true));
        Some(match kind {
            "email" => (crate::text::email_pattern(), true),
            "company-name" => (crate::tenant::names::name_pattern(), false),
            "line" => {
                let max = max.expect("a one-line text marker needs max_length");
                (crate::text::line_pattern(nonblank, max, "", ""), false)
            }
            _ => (crate::text::pattern(true, nonblank), true),
        })
    }
    fn walk(schema: &mut RefOr<Schema>) {
        let RefOr::T(schema) = schema else { return };
        match schema {
            Schema::Object(o) => {
                if let Some((p, keep_max)) =
                    o.pattern.as_deref().and_then(|p| marker(p, o.max_length))
                {
                    o.pattern = Some(p);
                    if !keep_max {
                        o.max_length = None;
                    }
                }
                o.properties.values_mut().for_each(walk);
            }
            Schema::Array(a) => {
                if let ArrayItems::RefOrSchema(items) = &mut a.items {
                    walk(items);
                }
            }
            Schema::OneOf(c) => c.items.iter_mut().for_each(walk),
            Schema::AllOf(c) => c.items.iter_mut().for_each(walk),
            Schema::AnyOf(c) => c.items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(walk);
    }
    for op in operations_mut(doc) {
        for param in op.parameters.iter_mut().flatten() {
            if let Some(schema) = param.schema.as_mut() {
                walk(schema);
            }
        }
        if let Some(body) = op.request_body.as_mut() {
            for content in body.content.values_mut() {
                if let Some(schema) = content.schema.as_mut() {
                    walk(schema);
                }
            }
        }
    }
}

/// Every operation with a path parameter answers 422 when the parameter is not valid
/// UTF-8 once percent-decoded (`ApiPath`'s rejection).
fn path_param_responses(doc: &mut utoipa::openapi::OpenApi) {
    for op in operations_mut(doc) {
        let has_path_param = op
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Path);
        if has_path_param {
            add_error(op, 422, "a path parameter is not valid UTF-8");
        }
    }
}

fn operations_mut(doc: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
}

/// Adds an error answer with the `ErrorBody` envelope unless the status is listed already.
fn add_error(op: &mut Operation, status: u16, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        });
}

/// The OpenAPI document of the whole router (built once).
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        // The router's own assembly, without the middleware.
        let (_, mut doc) = super::assemble(|_, group| group);
        path_param_responses(&mut doc);
        shared_responses(&mut doc);
        text_patterns(&mut doc);
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc
    })
}

/// GET /api/openapi.json: public, like the health checks.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document of this API",
               content_type = "application/json", body = Object)))]
async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}
