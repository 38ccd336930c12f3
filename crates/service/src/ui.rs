//! The operator dashboard: a small single-page application served under `/ui`.
//!
//! Three static assets — `index.html`, `app.js`, `app.css` in `crates/service/ui/` — are
//! embedded in the binary and served as they are: the page needs no network beyond the
//! gateway itself (no CDN, no build step), so it works on an isolated provincial network.
//!
//! | path | asset |
//! | --- | --- |
//! | `GET /ui`, `GET /ui/` | `index.html` |
//! | `GET /ui/app.js` | the application (plain JavaScript, vi / en dictionary) |
//! | `GET /ui/app.css` | the style sheet |
//!
//! Every answer carries `cache-control: no-cache` (a new binary serves new assets at once)
//! and the security headers: a content security policy allowing only the gateway's own
//! scripts, styles and images (inline SVG charts are built through the DOM, `data:` images
//! only), no framing, `x-content-type-options: nosniff` and `referrer-policy: no-referrer`.
//!
//! The page signs in by exchanging an operator token for a session cookie
//! (`/ui/api/session`) and then calls the admin API (`/v1/admin/…`) with that cookie and
//! the session's CSRF token on every state-changing request; what it offers follows the
//! operator's role. Those endpoints live with the admin API, not here.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
pub const INDEX_HTML: &str = include_str!("../ui/index.html");
/// The application.
pub const APP_JS: &str = include_str!("../ui/app.js");
/// The style sheet.
pub const APP_CSS: &str = include_str!("../ui/app.css");

/// The content security policy of every asset.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// The dashboard's static routes.
pub fn router() -> Router {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/index.html", get(index))
        .route("/ui/app.js", get(script))
        .route("/ui/app.css", get(style))
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// An asset with its content type, `no-cache` and the security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[tokio::test]
    async fn serves_the_assets_with_their_types_and_security_headers() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router()).await });
        let http = reqwest::Client::new();
        let get = |path: &str| http.get(format!("{base}{path}")).send();
        for (path, ty) in [
            ("/ui", "text/html"),
            ("/ui/", "text/html"),
            ("/ui/app.js", "text/javascript"),
            ("/ui/app.css", "text/css"),
        ] {
            let r = get(path).await.expect("answer");
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let h = r.headers();
            let got = h[header::CONTENT_TYPE].to_str().expect("ascii");
            assert!(got.starts_with(ty), "{path}: {got}");
            assert_eq!(h[header::CACHE_CONTROL], "no-cache");
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        }
        let r = get("/ui/nothing").await.expect("answer");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_page_loads_only_its_own_assets() {
        assert!(INDEX_HTML.contains("src=\"/ui/app.js\""));
        assert!(INDEX_HTML.contains("href=\"/ui/app.css\""));
        for asset in [INDEX_HTML, APP_JS, APP_CSS] {
            // The only address is the SVG namespace, which names, not loads.
            let rest = asset.replace("http://www.w3.org/2000/svg", "");
            assert!(!rest.contains("http://") && !rest.contains("https://"));
        }
        // No inline script or style: the policy would block it.
        assert!(!INDEX_HTML.contains("<style") && !INDEX_HTML.contains("style=\""));
        assert_eq!(INDEX_HTML.matches("<script").count(), 1);
    }

    #[test]
    fn every_label_is_in_both_languages() {
        // Every literal key the page translates, `t('key'…`, is in the vi and the en
        // dictionary; the two dictionaries have the same keys.
        let (vi, en) = APP_JS
            .split_once("\n    en: {")
            .expect("an en dictionary after the vi one");
        let en = en.split_once("\n    },").expect("the end of en").0;
        let keys = |dict: &str| -> std::collections::BTreeSet<String> {
            dict.lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix('\'')?
                        .split_once("': ")
                        .map(|(k, _)| k.to_owned())
                })
                .collect()
        };
        let (vi, en) = (keys(vi), keys(en));
        assert!(vi.len() > 100, "{}", vi.len());
        assert_eq!(vi, en, "the same keys in vi and en");
        for (at, _) in APP_JS.match_indices("t('") {
            // `t(` itself, not the end of another name (`split('`).
            let before = APP_JS[..at].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue;
            }
            let key = APP_JS[at + 3..].split('\'').next().unwrap_or_default();
            if key.ends_with('.') || key.ends_with('_') {
                continue; // A key built at run time, e.g. t('state.' + state).
            }
            assert!(vi.contains(key), "{key} is translated");
        }
    }
}
