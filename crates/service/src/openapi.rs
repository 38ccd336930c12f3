//! `GET /openapi.json`: the OpenAPI 3.1 description of the ingest API, the portal
//! submissions' pull API, receiver and webhook, and the document API over the axis
//! (`/v1/edocs…`), served without authentication.
//!
//! The document is written by hand in `docs/openapi.json` and embedded in the binary. In the
//! repository it refers to the provincial JSON Schemas in `docs/schema/` by relative path;
//! the served copy has them inlined under `components/schemas`, so a client needs nothing
//! but this one document.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;
use std::sync::OnceLock;

/// The document as written in the repository.
pub const SOURCE: &str = include_str!("../../../docs/openapi.json");

/// The provincial schemas and the components that refer to them.
const SCHEMAS: &[(&str, &str)] = &[
    (
        "ProvincialDossier",
        include_str!("../../../docs/schema/provincial-dossier.v1.schema.json"),
    ),
    (
        "ProvincialProgress",
        include_str!("../../../docs/schema/provincial-progress.v1.schema.json"),
    ),
];

/// The served document: [`SOURCE`] with the provincial schemas inlined. Should a part not
/// parse (a test prevents it), the document is served as written.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| inline().unwrap_or_else(|| SOURCE.to_string()))
}

fn inline() -> Option<String> {
    let mut doc: Value = serde_json::from_str(SOURCE).ok()?;
    let schemas = doc
        .get_mut("components")?
        .get_mut("schemas")?
        .as_object_mut()?;
    for (name, text) in SCHEMAS {
        let schema: Value = serde_json::from_str(text).ok()?;
        schemas.insert((*name).to_string(), schema);
    }
    serde_json::to_string_pretty(&doc).ok()
}

/// The route, merged into the gateway's router.
pub fn router() -> Router {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}
