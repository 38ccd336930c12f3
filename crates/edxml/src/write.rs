//! The strict writer: the layout of the official SDK's serializer (`edxml.md` §2.3, §12).
//!
//! UTF-8 without BOM, CR LF after every line, two spaces per level, one element per line,
//! text trimmed, empty values omitted, children in writer order, envelope content prefixed
//! `edXML:`, `AttachmentEncoded` children unprefixed except `edXML:ContentTransferEncoded`
//! with its own declaration, base64 on one line. Values are written exactly as held: the
//! writer composes nothing (composition policies belong to the routes that build new
//! messages).

use crate::message::{EdocMessage, Message, StatusMessage};
use crate::names::QCVN_NS;
use crate::read::{Parsed, ReadError, read};
use bytes::Bytes;
use lienthong_model::{
    Business, Document, Finding, Organisation, ResponseFor, StaffInfo, StatusReport, TraceEntry,
    trim_xml,
};
use std::io::{self, Write};

/// Writing failed (the sink refused bytes).
#[derive(Debug, thiserror::Error)]
#[error("cannot write edXML: {0}")]
pub struct WriteError(#[from] io::Error);

const NL: &[u8] = b"\r\n";
const P: &str = "edXML:";

/// Writes a message in the strict layout.
pub fn write(message: &Message, out: &mut impl Write) -> Result<(), WriteError> {
    let mut w = W { out };
    w.raw(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n")?;
    w.raw(format!("<edXML xmlns=\"{QCVN_NS}\">\r\n").as_bytes())?;
    w.raw(format!("  <{P}edXMLEnvelope xmlns:edXML=\"{QCVN_NS}\">\r\n").as_bytes())?;
    w.open(2, "edXMLHeader")?;
    match message {
        Message::Edoc(m) => w.edoc(m)?,
        Message::Status(m) => w.status(m)?,
    }
    w.raw(b"  </edXML:edXMLEnvelope>\r\n")?;
    if let Message::Edoc(m) = message {
        w.attachments(m)?;
    }
    w.raw(b"</edXML>\r\n")?;
    Ok(())
}

/// Writes a message into a new buffer.
pub fn to_vec(message: &Message) -> Vec<u8> {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(message, &mut v);
    v
}

/// Reads a message and writes it back in the strict layout, every value kept as read.
pub fn normalize(input: impl Into<Bytes>) -> Result<(Vec<u8>, Vec<Finding>), ReadError> {
    let Parsed { message, findings } = read(input)?;
    Ok((to_vec(&message), findings))
}

struct W<'o, O: Write> {
    out: &'o mut O,
}

fn indent(depth: usize) -> &'static [u8] {
    const SPACES: &[u8; 64] = b"                                                                ";
    &SPACES[..(depth * 2).min(64)]
}

/// Writes text escaped as JDOM2 does for UTF-8 output; line breaks become CR LF.
fn write_text(out: &mut impl Write, s: &str) -> io::Result<()> {
    let b = s.as_bytes();
    if memchr::memchr3(b'&', b'<', b'>', b).is_none() && memchr::memchr2(b'\r', b'\n', b).is_none()
    {
        return out.write_all(b);
    }
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let rep: Option<&[u8]> = match b[i] {
            b'&' => Some(b"&amp;"),
            b'<' => Some(b"&lt;"),
            b'>' => Some(b"&gt;"),
            b'\n' => Some(NL),
            b'\r' => {
                // CR LF and lone CR are both one line break.
                if b.get(i + 1) == Some(&b'\n') {
                    out.write_all(&b[start..i])?;
                    i += 1;
                    start = i;
                    continue;
                }
                Some(NL)
            }
            _ => None,
        };
        if let Some(rep) = rep {
            out.write_all(&b[start..i])?;
            out.write_all(rep)?;
            start = i + 1;
        }
        i += 1;
    }
    out.write_all(&b[start..])
}

/// Escapes an attribute value as JDOM2 does.
fn escape_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\t' => o.push_str("&#x9;"),
            '\n' => o.push_str("&#xA;"),
            '\r' => o.push_str("&#xD;"),
            c => o.push(c),
        }
    }
    o
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(trim_xml).filter(|s| !s.is_empty())
}

impl<O: Write> W<'_, O> {
    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)
    }

    fn open(&mut self, depth: usize, tag: &str) -> io::Result<()> {
        self.raw(indent(depth))?;
        write!(self.out, "<{P}{tag}>\r\n")
    }

    fn close(&mut self, depth: usize, tag: &str) -> io::Result<()> {
        self.raw(indent(depth))?;
        write!(self.out, "</{P}{tag}>\r\n")
    }

    /// A prefixed element holding text; omitted when the value is absent or blank.
    fn leaf(&mut self, depth: usize, tag: &str, value: Option<&str>) -> io::Result<()> {
        self.leaf_as(depth, P, tag, value)
    }

    fn leaf_as(
        &mut self,
        depth: usize,
        prefix: &str,
        tag: &str,
        value: Option<&str>,
    ) -> io::Result<()> {
        let Some(v) = present(value) else {
            return Ok(());
        };
        self.raw(indent(depth))?;
        write!(self.out, "<{prefix}{tag}>")?;
        write_text(self.out, v)?;
        write!(self.out, "</{prefix}{tag}>\r\n")
    }

    /// A container of leaves; omitted when every leaf is absent.
    fn block(
        &mut self,
        depth: usize,
        tag: &str,
        leaves: &[(&str, Option<&str>)],
    ) -> io::Result<()> {
        if leaves.iter().all(|(_, v)| present(*v).is_none()) {
            return Ok(());
        }
        self.open(depth, tag)?;
        for (t, v) in leaves {
            self.leaf(depth + 1, t, *v)?;
        }
        self.close(depth, tag)
    }

    fn org(&mut self, depth: usize, tag: &str, o: &Organisation) -> io::Result<()> {
        self.block(
            depth,
            tag,
            &[
                ("OrganId", o.organ_id.as_ref().map(|x| x.as_str())),
                ("OrganizationInCharge", o.organization_in_charge.as_deref()),
                ("OrganName", o.organ_name.as_deref()),
                ("OrganAdd", o.organ_add.as_deref()),
                ("Email", o.email.as_deref()),
                ("Telephone", o.telephone.as_deref()),
                ("Fax", o.fax.as_deref()),
                ("Website", o.website.as_deref()),
            ],
        )
    }

    fn response_for(&mut self, depth: usize, r: &ResponseFor) -> io::Result<()> {
        self.block(
            depth,
            "ResponseFor",
            &[
                ("OrganId", r.organ_id.as_ref().map(|x| x.as_str())),
                ("Code", r.code.as_deref()),
                ("DocumentId", r.document_id.as_ref().map(|x| x.as_str())),
                (
                    "PromulgationDate",
                    r.promulgation_date.as_ref().map(|x| x.as_str()),
                ),
            ],
        )
    }

    fn staff(&mut self, depth: usize, s: &StaffInfo) -> io::Result<()> {
        self.block(
            depth,
            "StaffInfo",
            &[
                ("Department", s.department.as_deref()),
                ("Staff", s.staff.as_deref()),
                ("Email", s.email.as_deref()),
                ("Mobile", s.mobile.as_deref()),
            ],
        )
    }

    fn trace(&mut self, depth: usize, t: &TraceEntry) -> io::Result<()> {
        self.block(
            depth,
            "TraceHeader",
            &[
                ("OrganId", t.organ_id.as_ref().map(|x| x.as_str())),
                ("Timestamp", t.timestamp.as_ref().map(|x| x.as_str())),
            ],
        )
    }

    fn message_header(&mut self, d: &Document) -> io::Result<()> {
        self.open(3, "MessageHeader")?;
        if let Some(f) = &d.from {
            self.org(4, "From", f)?;
        }
        for t in &d.to {
            self.org(4, "To", t)?;
        }
        self.leaf(4, "DocumentId", d.document_id.as_ref().map(|x| x.as_str()))?;
        if let Some(c) = &d.code {
            self.block(
                4,
                "Code",
                &[
                    ("CodeNumber", c.number.as_deref()),
                    ("CodeNotation", c.notation.as_deref()),
                ],
            )?;
        }
        if let Some(p) = &d.promulgation {
            self.block(
                4,
                "PromulgationInfo",
                &[
                    ("Place", p.place.as_deref()),
                    ("PromulgationDate", p.date.as_ref().map(|x| x.as_str())),
                ],
            )?;
        }
        if let Some(t) = &d.document_type {
            self.block(
                4,
                "DocumentType",
                &[
                    ("Type", t.type_code.as_deref()),
                    ("TypeDetail", t.type_detail.as_deref()),
                    ("TypeName", t.type_name.as_deref()),
                ],
            )?;
        }
        self.leaf(4, "Subject", d.subject.as_deref())?;
        self.leaf(4, "Content", d.content.as_deref())?;
        if let Some(s) = &d.signer {
            self.block(
                4,
                "SignerInfo",
                &[
                    ("Competence", s.competence.as_deref()),
                    ("Position", s.position.as_deref()),
                    ("FullName", s.full_name.as_deref()),
                ],
            )?;
        }
        self.leaf(4, "DueDate", d.due_date.as_ref().map(|x| x.as_str()))?;
        if let Some(o) = &d.other_info {
            let leaves = [
                ("Priority", o.priority.as_deref()),
                ("SphereOfPromulgation", o.sphere_of_promulgation.as_deref()),
                ("TyperNotation", o.typer_notation.as_deref()),
                ("PromulgationAmount", o.promulgation_amount.as_deref()),
                ("PageAmount", o.page_amount.as_deref()),
                ("Direction", o.direction.as_deref()),
            ];
            let appendixes: Vec<&str> = o
                .appendixes
                .iter()
                .filter_map(|a| present(Some(a)))
                .collect();
            if leaves.iter().any(|(_, v)| present(*v).is_some()) || !appendixes.is_empty() {
                self.open(4, "OtherInfo")?;
                for (t, v) in leaves {
                    self.leaf(5, t, v)?;
                }
                if !appendixes.is_empty() {
                    self.open(5, "Appendixes")?;
                    for a in appendixes {
                        self.leaf(6, "Appendix", Some(a))?;
                    }
                    self.close(5, "Appendixes")?;
                }
                self.close(4, "OtherInfo")?;
            }
        }
        for r in &d.response_for {
            self.response_for(4, r)?;
        }
        self.leaf(4, "SteeringType", d.steering_type.as_deref())?;
        let places: Vec<&str> = d
            .to_places
            .iter()
            .filter_map(|p| present(Some(p)))
            .collect();
        if !places.is_empty() {
            self.open(4, "ToPlaces")?;
            for p in places {
                self.leaf(5, "Place", Some(p))?;
            }
            self.close(4, "ToPlaces")?;
        }
        self.close(3, "MessageHeader")
    }

    fn business(&mut self, depth: usize, b: &Business) -> io::Result<()> {
        if *b == Business::default() {
            return Ok(());
        }
        self.open(depth, "Bussiness")?;
        let d = depth + 1;
        self.leaf(d, "DocumentId", b.document_id.as_ref().map(|x| x.as_str()))?;
        self.leaf(d, "BussinessDocType", b.doc_type.as_deref())?;
        self.leaf(d, "BussinessDocReason", b.reason.as_deref())?;
        self.leaf(d, "Paper", b.paper.as_deref())?;
        if let Some(info) = &b.document_info {
            let has_receivers = info
                .receivers
                .iter()
                .any(|r| r.organ_id.is_some() || present(r.receiver_type.as_deref()).is_some());
            if has_receivers
                || present(info.document_info.as_deref()).is_some()
                || present(info.document_receiver.as_deref()).is_some()
            {
                self.open(d, "BussinessDocumentInfo")?;
                self.leaf(d + 1, "DocumentInfo", info.document_info.as_deref())?;
                self.leaf(d + 1, "DocumentReceiver", info.document_receiver.as_deref())?;
                if has_receivers {
                    self.open(d + 1, "ReceiverList")?;
                    for r in &info.receivers {
                        self.block(
                            d + 2,
                            "Receiver",
                            &[
                                ("OrganId", r.organ_id.as_ref().map(|x| x.as_str())),
                                ("ReceiverType", r.receiver_type.as_deref()),
                            ],
                        )?;
                    }
                    self.close(d + 1, "ReceiverList")?;
                }
                self.close(d, "BussinessDocumentInfo")?;
            }
        }
        let replacements: Vec<_> = b
            .replacements
            .iter()
            .filter(|r| r.document_id.is_some() || !r.organ_ids.is_empty())
            .collect();
        if !replacements.is_empty() {
            self.open(d, "ReplacementInfoList")?;
            for r in replacements {
                self.open(d + 1, "ReplacementInfo")?;
                self.leaf(
                    d + 2,
                    "DocumentId",
                    r.document_id.as_ref().map(|x| x.as_str()),
                )?;
                if !r.organ_ids.is_empty() {
                    self.open(d + 2, "OrganIdList")?;
                    for o in &r.organ_ids {
                        self.leaf(d + 3, "OrganId", Some(o.as_str()))?;
                    }
                    self.close(d + 2, "OrganIdList")?;
                }
                self.close(d + 1, "ReplacementInfo")?;
            }
            self.close(d, "ReplacementInfoList")?;
        }
        if let Some(s) = &b.staff {
            self.staff(d, s)?;
        }
        self.close(depth, "Bussiness")
    }

    fn trace_list(&mut self, trace: &[TraceEntry], business: Option<&Business>) -> io::Result<()> {
        let has_business = business.is_some_and(|b| *b != Business::default());
        if trace.iter().all(|t| *t == TraceEntry::default()) && !has_business {
            return Ok(());
        }
        self.open(3, "TraceHeaderList")?;
        for t in trace {
            self.trace(4, t)?;
        }
        if let Some(b) = business {
            self.business(4, b)?;
        }
        self.close(3, "TraceHeaderList")
    }

    fn edoc(&mut self, m: &EdocMessage) -> io::Result<()> {
        self.message_header(&m.document)?;
        self.trace_list(&m.document.trace, m.document.business.as_ref())?;
        if let Some(sig) = &m.signature {
            self.raw(indent(3))?;
            self.raw(sig.raw().as_bytes())?;
            self.raw(NL)?;
        }
        self.close(2, "edXMLHeader")?;
        self.open(2, "edXMLBody")?;
        let version = escape_attr(m.manifest_version.as_deref().unwrap_or("1.0"));
        let refs: Vec<_> = m
            .references
            .iter()
            .filter(|r| **r != crate::message::Reference::default())
            .collect();
        self.raw(indent(3))?;
        if refs.is_empty() {
            write!(self.out, "<{P}edXMLManifest version=\"{version}\" />\r\n")?;
        } else {
            write!(self.out, "<{P}edXMLManifest version=\"{version}\">\r\n")?;
            for r in refs {
                self.block(
                    4,
                    "Reference",
                    &[
                        ("ContentId", r.content_id.as_deref()),
                        ("ContentType", r.content_type.as_deref()),
                        ("Description", r.description.as_deref()),
                        ("AttachmentName", r.attachment_name.as_deref()),
                    ],
                )?;
            }
            self.close(3, "edXMLManifest")?;
        }
        self.close(2, "edXMLBody")
    }

    fn attachments(&mut self, m: &EdocMessage) -> io::Result<()> {
        let atts: Vec<_> = m
            .attachments
            .iter()
            .filter(|a| **a != crate::message::EncodedAttachment::default())
            .collect();
        if atts.is_empty() {
            return Ok(());
        }
        self.raw(b"  <AttachmentEncoded>\r\n")?;
        for a in atts {
            self.raw(b"    <Attachment>\r\n")?;
            self.leaf_as(3, "", "ContentId", a.content_id.as_deref())?;
            self.leaf_as(3, "", "AttachmentName", a.attachment_name.as_deref())?;
            self.leaf_as(3, "", "Description", a.description.as_deref())?;
            self.leaf_as(3, "", "ContentType", a.content_type.as_deref())?;
            if let Some(c) = &a.content {
                let text = c.canonical_text();
                if !text.is_empty() {
                    self.raw(indent(3))?;
                    write!(
                        self.out,
                        "<{P}ContentTransferEncoded xmlns:edXML=\"{QCVN_NS}\">"
                    )?;
                    // Base64 never holds markup; text that was read with an entity
                    // reference in it (not base64, refused when decoded) is escaped again so
                    // the output stays well-formed.
                    if memchr::memchr3(b'&', b'<', b'>', &text).is_some() {
                        let escaped: Vec<u8> = text
                            .iter()
                            .flat_map(|b| match b {
                                b'&' => b"&amp;".to_vec(),
                                b'<' => b"&lt;".to_vec(),
                                b'>' => b"&gt;".to_vec(),
                                other => vec![*other],
                            })
                            .collect();
                        self.raw(&escaped)?;
                    } else {
                        self.raw(&text)?;
                    }
                    write!(self.out, "</{P}ContentTransferEncoded>\r\n")?;
                }
            }
            self.raw(b"    </Attachment>\r\n")?;
        }
        self.raw(b"  </AttachmentEncoded>\r\n")
    }

    fn status(&mut self, m: &StatusMessage) -> io::Result<()> {
        let s: &StatusReport = &m.status;
        self.open(3, "MessageHeader")?;
        if let Some(f) = &s.from {
            self.org(4, "From", f)?;
        }
        if let Some(r) = &s.response_for {
            self.response_for(4, r)?;
        }
        if let Some(st) = &s.staff {
            self.staff(4, st)?;
        }
        self.leaf(4, "StatusCode", s.status_code.as_ref().map(|x| x.as_str()))?;
        self.leaf(4, "Description", s.description.as_deref())?;
        self.leaf(4, "Timestamp", s.timestamp.as_ref().map(|x| x.as_str()))?;
        self.close(3, "MessageHeader")?;
        self.trace_list(&s.trace, None)?;
        self.close(2, "edXMLHeader")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut v = Vec::new();
        write_text(&mut v, s).expect("vec");
        String::from_utf8(v).expect("utf8")
    }

    #[test]
    fn text_escaping_follows_jdom2() {
        assert_eq!(
            text("a & b < c > d \"q\" 'a'\tx"),
            "a &amp; b &lt; c &gt; d \"q\" 'a'\tx"
        );
        assert_eq!(text("l1\nl2\r\nl3\rl4"), "l1\r\nl2\r\nl3\r\nl4");
        assert_eq!(text("Văn bản"), "Văn bản");
    }

    #[test]
    fn attribute_escaping_follows_jdom2() {
        assert_eq!(
            escape_attr("a&<>\"'\t\n\r"),
            "a&amp;&lt;&gt;&quot;'&#x9;&#xA;&#xD;"
        );
    }
}
