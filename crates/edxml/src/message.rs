//! The edXML message as read: the canonical document or status, plus what only the wire
//! format has (signature block, manifest, encoded attachments).

use crate::attachment::Base64Content;
use lienthong_model::{Document, StatusReport};

/// A message of either kind.
// One message is built per read and handed on; boxing the larger variant would only add
// an indirection to every access.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A document message (văn bản).
    Edoc(EdocMessage),
    /// A status message (trạng thái).
    Status(StatusMessage),
}

impl Message {
    /// `"edoc"` or `"status"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Edoc(_) => "edoc",
            Message::Status(_) => "status",
        }
    }
}

/// A document message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdocMessage {
    /// Header and business content.
    pub document: Document,
    /// The signature block, kept verbatim.
    pub signature: Option<Signature>,
    /// `version` attribute of the manifest, as read.
    pub manifest_version: Option<String>,
    /// Manifest entries, in the order read.
    pub references: Vec<Reference>,
    /// Encoded attachments, in the order read.
    pub attachments: Vec<EncodedAttachment>,
}

/// A status message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusMessage {
    /// The status.
    pub status: StatusReport,
}

/// A `Signature` element exactly as it appeared in the input, from `<` to the end of its
/// end tag. It is written back unchanged; the gateway never writes a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    raw: String,
}

impl Signature {
    /// Wraps the verbatim text of a signature element.
    pub fn verbatim(raw: String) -> Self {
        Signature { raw }
    }

    /// The verbatim text.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

/// A manifest entry (`edXMLManifest/Reference`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    /// `cid:` + id, as written (or taken from `xlink:href` when `ContentId` is missing).
    pub content_id: Option<String>,
    /// MIME type of the encoded content.
    pub content_type: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// File name shown to users.
    pub attachment_name: Option<String>,
}

/// An encoded attachment (`AttachmentEncoded/Attachment`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedAttachment {
    /// Id as written, with or without `cid:`.
    pub content_id: Option<String>,
    /// File name shown to users.
    pub attachment_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// MIME type of the encoded content.
    pub content_type: Option<String>,
    /// The base64 content.
    pub content: Option<Base64Content>,
}

/// Normalises a content id for pairing: trimmed, a leading `cid:` (any case) removed.
pub fn content_id_key(id: &str) -> &str {
    let t = id.trim();
    match t.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("cid:") => t[4..].trim(),
        _ => t,
    }
}

impl EdocMessage {
    /// The manifest entry paired with an attachment (by content id, `cid:` ignored).
    pub fn reference_for(&self, attachment: &EncodedAttachment) -> Option<&Reference> {
        let key = content_id_key(attachment.content_id.as_deref()?);
        self.references
            .iter()
            .find(|r| r.content_id.as_deref().map(content_id_key) == Some(key))
    }

    /// Manifest entries that have no attachment.
    pub fn references_without_content(&self) -> impl Iterator<Item = (usize, &Reference)> {
        self.references.iter().enumerate().filter(|(_, r)| {
            let key = r.content_id.as_deref().map(content_id_key);
            !self
                .attachments
                .iter()
                .any(|a| a.content_id.as_deref().map(content_id_key) == key && key.is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_prefix_is_ignored_for_pairing() {
        assert_eq!(content_id_key(" cid:209 "), "209");
        assert_eq!(content_id_key("CID:abc"), "abc");
        assert_eq!(content_id_key("209"), "209");
        assert_eq!(content_id_key("ci"), "ci");
    }
}
