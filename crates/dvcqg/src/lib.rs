//! The national public service portal (Cổng Dịch vụ công quốc gia, DVCQG) adapter:
//! synchronisation of administrative dossiers and their progress (`docs/dvcqg.md`).
//!
//! * [`wire`] — the wire objects (`DongBoHoSoMC`, `CapNhatTienDoHoSoMC`,
//!   `DongBoTrangThaiHoSo`), request bodies with their member order, and the response
//!   rule ([`classify`], [`session_of`]);
//! * [`codes`] — the §9 code tables for the model's enums;
//! * [`time`] — `yyyyMMddHHmmss` in Vietnamese local time (UTC+07:00);
//! * [`map`] — model ↔ wire mapping with findings;
//! * [`read`] — lenient JSON readers and the portal's validation rules;
//! * [`submission`] — dossiers citizens submit on the portal: the push that brings them to
//!   the province ([`submission::read_push`]) and the `DongBoTrangThaiHoSo` item of their
//!   status ([`submission::status_item`]);
//! * [`client`] — the HTTP client ([`DvcqgClient`]): sessions, the dossier flow, progress
//!   in chunks, lookups and catalogues (tokio + reqwest, rustls with *ring*);
//! * [`compare`] — the members in which the portal's copy of a dossier differs from what
//!   the gateway would send (for `lienthong resync`);
//! * [`error`] — its one error type [`DvcqgError`], with who is at fault and whether a
//!   retry can help.
//!
//! Only [`client`] does I/O; the simulator builds on the other pieces. Personal data
//! (names, identity numbers, phone numbers, addresses) never appears in findings or logs.

pub mod client;
pub mod codes;
pub mod compare;
pub mod error;
pub mod map;
pub mod read;
pub mod submission;
pub mod time;
pub mod wire;

pub use client::{ClientConfig, DvcqgClient, SyncOutcome};
pub use codes::{WireCode, reduced_status, status_from_word};
pub use error::{DvcqgError, ErrorKind, Fault};
pub use map::{
    MappingConfig, dossier_from_dvcqg, dossier_to_dvcqg, progress_from_dvcqg, progress_to_dvcqg,
};
pub use read::{
    read_dossier_item, read_progress_item, validate_dossier_item, validate_progress_item,
};
pub use wire::{
    DossierItem, ErrorCode, Outcome, ProgressItem, Response, StatusSyncItem, auth_body, classify,
    lookup_dossier_body, progress_body, request_body, session_of, status_sync_body,
    sync_dossiers_body,
};
