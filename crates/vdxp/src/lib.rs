//! The client of the national document exchange axis (Trục liên thông văn bản quốc gia,
//! VDXP / VXP, `docs/vdxp.md`): a transport crate. It carries edXML messages as bytes; the
//! edXML codec ([`lienthong_edxml`]) is used only to read the sender of an outgoing
//! message, and knows nothing of transport.
//!
//! * [`sign`] — request signing (`XroadVnpt-*` headers, HMAC-SHA256 over the sign-header in
//!   the SDK's key order) and the `hash-file` quirk, as pure functions shared with the
//!   simulator and the tests;
//! * [`wire`] — the response envelope and its success rule, the list items (read
//!   leniently), [`DocId`], [`MessageType`], [`DeliveryStatus`];
//! * [`client`] — the HTTP client [`VdxpClient`] (tokio + reqwest, rustls with *ring*);
//! * [`error`] — its one error type [`VdxpError`]: who is at fault and whether a retry can
//!   help.
//!
//! Only [`client`] does I/O. The secret, signatures and message bodies are never logged.

pub mod client;
pub mod error;
pub mod sign;
pub mod wire;

pub use client::{Page, VdxpClient, VdxpConfig, VdxpPaths};
pub use error::{ErrorKind, Fault, VdxpError};
pub use wire::{
    Agency, AgencyQd20, DeliveryStatus, DocId, Envelope, MessageType, NewAgency, ReceivedItem,
    SentItem, SyncUnit,
};
