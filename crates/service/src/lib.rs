//! The gateway service: what `lienthong serve` runs.
//!
//! It wires the library crates together — the journal (state, outbox), the bus (work items),
//! the workflow decisions and the partner clients — and holds no wire format and no domain
//! rule of its own:
//! - [`admin`]: the admin API for operators (queues, parked messages, replay and discard,
//!   maintenance mode, the audit log, the procedure catalogue, partner pings, resync), every
//!   action audited before it is carried out;
//! - [`catalogue`]: the portal's procedure catalogue, cached with a TTL, refreshed in the
//!   background and served stale while the portal is down;
//! - [`config`]: the TOML configuration with environment overrides for secrets, checked with
//!   every mistake explained;
//! - [`auth`]: client and operator tokens (stored hashed), scopes and roles;
//! - [`edocs`]: documents and statuses over the national document exchange axis (VDXP):
//!   the document API, the send route (never twice), the one active poller, delivery to
//!   the local document systems, axis statuses as dossier progress, the agency directory;
//! - [`gateway`]: the running gateway — opens journal and bus, starts relay and routes, serves
//!   the API with `/health` and `/ready`, stops gracefully;
//! - [`ingest`]: the ingest API (`POST /v1/dossiers`, progress), answered 202 only once the
//!   journal committed the state and its work item;
//! - [`metrics`]: `GET /metrics` in the Prometheus text format;
//! - [`openapi`]: `GET /openapi.json`, the OpenAPI 3.1 description of the ingest and
//!   submissions API;
//! - [`partners`]: `GET /v1/admin/partners`, a ping of each configured partner;
//! - [`portal`]: portal submissions — the receiver the national portal pushes citizens'
//!   dossiers to, the pull API and the signed webhook that bring them to the provincial
//!   systems, and the route that reports their statuses back (`DongBoTrangThaiHoSo`);
//! - [`relay`]: hands the journal's outbox work items to the bus;
//! - [`resync`]: compares the journal's view of a dossier with the portal's copy and
//!   repairs the journal's beliefs (`POST /v1/admin/dossiers/{code}/resync`);
//! - [`session`]: the dashboard's sign-in (operator token → session cookie, CSRF token);
//! - [`sync`]: the `dossier.sync` route, which reconciles the national portal (DVCQG) towards
//!   the journal's state;
//! - [`ui`]: the operator dashboard under `/ui` — a small page in Vietnamese and English,
//!   embedded in the binary, that signs in with a session cookie and calls the admin API.

pub mod admin;
pub mod auth;
pub mod catalogue;
pub mod config;
pub mod edocs;
pub mod gateway;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod partners;
pub mod portal;
pub mod relay;
pub mod resync;
pub mod session;
pub mod sync;
pub mod ui;
