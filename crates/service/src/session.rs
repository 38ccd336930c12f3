//! Sessions of the operator dashboard (`/ui`): an operator exchanges their token once for
//! a session cookie, and the admin API accepts the cookie like the token.
//!
//! * `POST /ui/api/session` `{"token"}` → `{"operator", "role", "csrf"}` and the cookie
//!   `lt_session` (`HttpOnly`, `SameSite=Strict`, `Path=/`, 8 hours; `Secure` when the
//!   request came over HTTPS through a proxy that says so with `X-Forwarded-Proto`).
//! * `GET /ui/api/session` → the same answer for a valid cookie (the page's reload).
//! * `DELETE /ui/api/session` (with the CSRF header) → `204`, the session is gone.
//!
//! A state-changing request authenticated by the cookie must carry the session's CSRF
//! token in `X-CSRF-Token` ([`csrf_guard`], layered on the admin API); a bearer token needs
//! none (it cannot be sent by a browser on its own). Sessions live in this node's memory,
//! stored by the SHA-256 of their id; a restart signs everyone out, and behind a load
//! balancer the dashboard needs sticky sessions (or one node serving `/ui`).
//!
//! Sign-ins and sign-outs are written to the audit log (`ui.sign_in`, `ui.sign_out`); a
//! refused sign-in is logged without the token.

use crate::auth::{Principal, Role, TokenHash, Tokens};
use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use lienthong_journal::Journal;
use lienthong_journal::audit::AuditEntry;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "lt_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts without being used again.
pub const TTL: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The operator's name.
    pub operator: String,
    /// Their role.
    pub role: Role,
    /// The CSRF token of the session.
    pub csrf: String,
    expires: Instant,
}

/// The sessions of this node.
#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<TokenHash, Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .by_hash
            .lock()
            .map(|m| m.len())
            .unwrap_or_else(|p| p.into_inner().len());
        f.debug_struct("Sessions").field("live", &n).finish()
    }
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: a session would be guessable; refuse by giving an empty id,
        // which `create` turns into an error.
        return String::new();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Sessions {
    /// A new session for `operator`: its id (the cookie value) and the session.
    pub fn create(&self, operator: &str, role: Role) -> Option<(String, Session)> {
        let id = random_hex(32);
        let csrf = random_hex(16);
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let s = Session {
            operator: operator.to_owned(),
            role,
            csrf,
            expires: Instant::now() + TTL,
        };
        let mut map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, v| v.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, v)| v.expires).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(TokenHash::of(&id), s.clone());
        Some((id, s))
    }

    /// The live session of cookie value `id` (its expiry pushed back).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        let key = TokenHash::of(id);
        let now = Instant::now();
        match map.get_mut(&key) {
            Some(s) if s.expires > now => {
                s.expires = now + TTL;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of cookie value `id`.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&TokenHash::of(id))
    }

    /// The session a request's cookie names, if live.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<Session> {
        cookie(headers).and_then(|id| self.get(&id))
    }
}

/// The value of the session cookie in `headers`.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Constant-time equality of two strings.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What the session routes need.
pub struct SessionApi {
    /// Who may sign in.
    pub tokens: Tokens,
    /// The sessions.
    pub sessions: Arc<Sessions>,
    /// The audit log.
    pub journal: Journal,
}

/// `/ui/api/session`.
pub fn router(state: Arc<SessionApi>) -> Router {
    Router::new()
        .route(
            "/ui/api/session",
            post(sign_in).get(current).delete(sign_out),
        )
        .with_state(state)
}

fn refuse(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({ "error": error, "message": message }))).into_response()
}

fn answer(s: &Session) -> serde_json::Value {
    json!({ "operator": s.operator, "role": s.role.name(), "csrf": s.csrf })
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn audit(journal: &Journal, s: &Session, action: &str) -> bool {
    let entry = AuditEntry {
        at: Timestamp::now(),
        actor: s.operator.clone(),
        role: s.role.name().to_owned(),
        action: action.to_owned(),
        target: None,
        reason: None,
        details: json!({}),
    };
    match journal.audit(&entry).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, action, "cannot write the audit entry");
            false
        }
    }
}

async fn sign_in(
    State(st): State<Arc<SessionApi>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<SignIn>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            "send {\"token\": \"lt_…\"}",
        );
    };
    let (name, role) = match st.tokens.identify(req.token.trim()) {
        Some(Principal::Operator { name, role }) => (name.clone(), *role),
        Some(Principal::Client { .. }) => {
            tracing::warn!("dashboard sign-in with a client token refused");
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a client token cannot sign in; use an operator token",
            );
        }
        None => {
            tracing::warn!("dashboard sign-in with an unknown token refused");
            return refuse(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token");
        }
    };
    let Some((id, s)) = st.sessions.create(&name, role) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "no random source for a session id",
        );
    };
    if !audit(&st.journal, &s, "ui.sign_in").await {
        st.sessions.remove(&id);
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the audit log cannot be written; not signed in",
        );
    }
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    tracing::info!(actor = %s.operator, role = s.role.name(), "dashboard sign-in");
    let mut r = Json(answer(&s)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn current(State(st): State<Arc<SessionApi>>, headers: HeaderMap) -> Response {
    match st.sessions.from_headers(&headers) {
        Some(s) => {
            let mut r = Json(answer(&s)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        None => refuse(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in"),
    }
}

async fn sign_out(State(st): State<Arc<SessionApi>>, headers: HeaderMap) -> Response {
    let Some(id) = cookie(&headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in");
    };
    let Some(s) = st.sessions.get(&id) else {
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in");
    };
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !same(sent, &s.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong X-CSRF-Token",
        );
    }
    st.sessions.remove(&id);
    audit(&st.journal, &s, "ui.sign_out").await;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("lt_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

/// Refuses (`403 {"error":"csrf"}`) a state-changing request that is authenticated by the
/// session cookie only and does not carry the session's CSRF token. Requests with a bearer
/// token, and reads, pass.
pub async fn csrf_guard(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let reads = method == Method::GET || method == Method::HEAD || method == Method::OPTIONS;
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if !reads
        && !bearer
        && let Some(s) = sessions.from_headers(request.headers())
    {
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(sent, &s.csrf) {
            tracing::warn!(actor = %s.operator, %method, path = %request.uri().path(),
                "dashboard request without its CSRF token refused");
            return refuse(
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-CSRF-Token",
            );
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_come_and_go() {
        let s = Sessions::default();
        let (id, session) = s.create("lan", Role::Operator).expect("random");
        assert_eq!(id.len(), 64);
        assert_eq!(s.get(&id).map(|x| x.operator), Some("lan".to_owned()));
        assert_eq!(s.get(&id).map(|x| x.csrf), Some(session.csrf.clone()));
        assert!(s.get("forged").is_none());
        assert!(s.remove(&id).is_some());
        assert!(s.get(&id).is_none());
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; lt_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
