//! The edXML codec (QCVN 102:2016): the only crate of lienthong that knows edXML.
//!
//! * [`read`] — a streaming, namespace-aware reader on quick-xml's `NsReader` that accepts
//!   every variant seen in public messages (`shared/docs/edxml.md` §11) and reports what it
//!   had to tolerate as [`Finding`]s. Attachment content is never copied: it stays a slice of
//!   the input until someone decodes it.
//! * [`write`] — a strict writer whose layout is byte-faithful to the official SDK's
//!   serializer (§2.3, §12); [`normalize`] re-serialises what was read.
//! * [`compose`] — composition of new outgoing documents and statuses: the policies of
//!   §12 (ids, trace header, codes, zipped attachments, refusals) applied before writing.
//! * [`validate`] — business checks of a read message (required fields, codes, dates,
//!   attachments), producing findings of the same shape.
//!
//! Reading never panics on any input; it refuses only what is not an edXML message at all.

pub mod attachment;
pub mod compose;
pub mod message;
pub mod names;
pub mod read;
pub mod summary;
pub mod validate;
pub mod write;

pub use attachment::{AttachmentDigest, Base64Content, DecodeError, UnzipError};
pub use compose::{
    ComposeError, Composed, NewAttachment, NewBusiness, NewEdoc, NewStatus, compose_edoc,
    compose_status,
};
pub use lienthong_model::{Finding, Severity};
pub use message::{EdocMessage, EncodedAttachment, Message, Reference, Signature, StatusMessage};
pub use read::{Parsed, ReadError, read};
pub use summary::{Summary, summarize};
pub use validate::{Checked, check, validate};
pub use write::{WriteError, normalize, to_vec, write};
