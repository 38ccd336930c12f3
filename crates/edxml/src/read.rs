//! The lenient streaming reader (`edxml.md` §11).
//!
//! One pass over quick-xml `NsReader` events. Elements are matched by namespace URI and
//! local name: the QCVN namespace under any prefix, no namespace, an undeclared prefix, and
//! (for the signature) XMLDSig are all accepted. Children may come in any order. Whatever
//! had to be tolerated becomes a warning [`Finding`]; only input that is not an edXML
//! message at all is refused with a [`ReadError`].
//!
//! Attachment content is not copied: it stays a reference-counted slice of the input.

use crate::attachment::Base64Content;
use crate::message::{
    EdocMessage, EncodedAttachment, Message, Reference, Signature, StatusMessage,
};
use crate::names::{QCVN_NS, XMLDSIG_NS};
use bytes::Bytes;
use lienthong_model::{
    Business, BusinessDocumentInfo, Document, DocumentCode, DocumentId, Finding, LenientDate,
    LenientTimestamp, OrganId, Organisation, Promulgation, StaffInfo, StatusCode, StatusReport,
    TraceEntry, trim_xml,
};
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use std::borrow::Cow;

/// Deepest element nesting accepted; real messages stay below 10.
pub const MAX_DEPTH: usize = 256;

/// A message that was read, with what had to be tolerated.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The message.
    pub message: Message,
    /// Warnings about the input's form (never errors: errors come from [`crate::validate`]).
    pub findings: Vec<Finding>,
}

/// The input could not be read as an edXML message at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{finding}")]
pub struct ReadError {
    /// What is wrong, as an error finding.
    pub finding: Finding,
}

impl ReadError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        ReadError {
            finding: Finding::error(if path.is_empty() { "/" } else { path }, message),
        }
    }

    fn expected(mut self, e: impl Into<String>) -> Self {
        self.finding = self.finding.expected(e);
        self
    }

    fn found(mut self, f: impl Into<String>) -> Self {
        self.finding = self.finding.found(f);
        self
    }
}

/// Reads an edXML message (document or status) from its bytes.
///
/// Pass a [`Bytes`] (or a `Vec<u8>`) to let attachment content share the buffer.
pub fn read(input: impl Into<Bytes>) -> Result<Parsed, ReadError> {
    let input: Bytes = input.into();
    Reader::run(&input)
}

macro_rules! names {
    ($($n:ident),* $(,)?) => {
        /// Local names the reader knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        enum N { $($n,)* Unknown }
        impl N {
            fn of(s: &str) -> N {
                match s { $(stringify!($n) => N::$n,)* _ => N::Unknown }
            }
        }
    };
}

names!(
    edXML,
    edXMLEnvelope,
    edXMLHeader,
    edXMLBody,
    MessageHeader,
    TraceHeaderList,
    Signature,
    edXMLManifest,
    Reference,
    AttachmentEncoded,
    Attachment,
    From,
    To,
    OrganId,
    OrganizationInCharge,
    OrganName,
    OrganAdd,
    Email,
    Telephone,
    Fax,
    Website,
    DocumentId,
    Code,
    CodeNumber,
    CodeNotation,
    PromulgationInfo,
    Place,
    PromulgationDate,
    DocumentType,
    Type,
    TypeDetail,
    TypeName,
    Subject,
    Content,
    SignerInfo,
    Competence,
    Position,
    FullName,
    DueDate,
    OtherInfo,
    Priority,
    SphereOfPromulgation,
    TyperNotation,
    PromulgationAmount,
    PageAmount,
    Direction,
    Appendixes,
    Appendix,
    ResponseFor,
    SteeringType,
    ToPlaces,
    TraceHeader,
    Timestamp,
    Bussiness,
    BussinessDocType,
    BussinessDocReason,
    Paper,
    BussinessDocumentInfo,
    DocumentInfo,
    DocumentReceiver,
    ReceiverList,
    Receiver,
    ReceiverType,
    ReplacementInfoList,
    ReplacementInfo,
    OrganIdList,
    StaffInfo,
    Department,
    Staff,
    Mobile,
    StatusCode,
    Description,
    ContentId,
    ContentType,
    AttachmentName,
    ContentTransferEncoded,
);

impl N {
    fn bit(self) -> u128 {
        1u128 << (self as u32)
    }
}

/// Which organisation block is being filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrgSlot {
    From,
    To,
}

/// Which staff block is being filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StaffSlot {
    Header,
    Business,
}

/// What the element being read is, given where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Doc,
    Root,
    Envelope,
    Header,
    MsgHeader,
    Org(OrgSlot),
    Code,
    Promulgation,
    DocType,
    Signer,
    OtherInfo,
    Appendixes,
    ResponseFor,
    ToPlaces,
    TraceList,
    TraceHeader,
    Business,
    BusinessDocInfo,
    ReceiverList,
    Receiver,
    ReplacementList,
    ReplacementInfo,
    OrganIdList,
    Staff(StaffSlot),
    Body,
    Manifest,
    Reference,
    AttEncoded,
    Attachment,
    /// A value element; its text is assigned when it closes.
    Leaf,
    /// `ContentTransferEncoded`: text kept as a slice of the input.
    Content,
    /// An unknown or repeated element, already reported; its subtree is ignored.
    Skip,
}

/// Text collected inside one element.
enum Text<'i> {
    None,
    One(Cow<'i, str>),
    Many(String),
}

impl<'i> Text<'i> {
    fn push(&mut self, piece: Cow<'i, str>) {
        *self = match std::mem::replace(self, Text::None) {
            Text::None => Text::One(piece),
            Text::One(first) => {
                let mut s = first.into_owned();
                s.push_str(&piece);
                Text::Many(s)
            }
            Text::Many(mut s) => {
                s.push_str(&piece);
                Text::Many(s)
            }
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Text::None => "",
            Text::One(c) => c,
            Text::Many(s) => s,
        }
    }
}

struct Frame<'i> {
    ctx: Ctx,
    name: N,
    /// Length of the path string before this element was pushed.
    path_len: usize,
    /// Singleton children already seen.
    seen: u128,
    text: Text<'i>,
}

/// Everything read so far, before the kind of message is known.
#[derive(Default)]
struct Builder {
    doc: Document,
    envelope_seen: bool,
    header_seen: bool,
    message_header_seen: bool,
    status_code_seen: bool,
    status_code: Option<StatusCode>,
    staff: Option<StaffInfo>,
    description: Option<String>,
    timestamp: Option<LenientTimestamp>,
    signature: Option<Signature>,
    manifest_version: Option<String>,
    references: Vec<Reference>,
    /// `xlink:href` of each reference, for those without a `ContentId`.
    reference_hrefs: Vec<Option<String>>,
    attachments: Vec<EncodedAttachment>,
}

struct Reader<'a> {
    input: &'a Bytes,
    /// Offset of the first `<` in `input`.
    base: usize,
    path: String,
    stack: Vec<Frame<'a>>,
    b: Builder,
    findings: Vec<Finding>,
    unknown_prefixes: Vec<String>,
}

fn is_xml_ws(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// 1-based line and column of a byte offset.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let upto = &bytes[..offset.min(bytes.len())];
    let line = memchr::memchr_iter(b'\n', upto).count() + 1;
    let col = upto.len() - upto.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, col)
}

fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(32)]);
    format!("{s:?}")
}

impl<'a> Reader<'a> {
    fn run(input: &'a Bytes) -> Result<Parsed, ReadError> {
        let mut findings = Vec::new();
        let raw: &[u8] = input;
        let Some(lt) = memchr::memchr(b'<', raw) else {
            return Err(if raw.is_empty() {
                ReadError::new("/", "not XML: the input is empty")
            } else {
                ReadError::new("/", "not XML: no element found").found(preview(raw))
            });
        };
        let bom = raw.starts_with(b"\xEF\xBB\xBF");
        let stray = if bom { &raw[3..lt] } else { &raw[..lt] };
        if !stray.is_empty() {
            findings.push(
                Finding::warning(
                    "/",
                    format!(
                        "{} byte(s) before the XML declaration were ignored",
                        stray.len()
                    ),
                )
                .expected("the input to start with '<'")
                .found(preview(stray)),
            );
        }
        let mut r = Reader {
            input,
            base: lt,
            path: String::new(),
            stack: Vec::new(),
            b: Builder::default(),
            findings,
            unknown_prefixes: Vec::new(),
        };
        r.events()?;
        r.finish()
    }

    fn xml(&self) -> &'a [u8] {
        let input: &'a Bytes = self.input;
        &input[self.base..]
    }

    fn syntax_error(&self, reader: &NsReader<&'a [u8]>, err: &quick_xml::Error) -> ReadError {
        let mut offset = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
        if let quick_xml::Error::Encoding(_) = err {
            // quick-xml does not record where; the first invalid byte is the place.
            if let Err(e) = std::str::from_utf8(self.xml()) {
                offset = e.valid_up_to();
            }
        }
        let (line, col) = line_col(self.xml(), offset);
        let what = match err {
            quick_xml::Error::Encoding(_) => "not valid UTF-8".to_owned(),
            quick_xml::Error::IllFormed(quick_xml::errors::IllFormedError::MissingEndTag(n)) => {
                format!("not well-formed XML (truncated?): element <{n}> is not closed")
            }
            other => format!("not well-formed XML: {other}"),
        };
        ReadError::new(&self.path, what).found(format!("line {line}, column {col}"))
    }

    fn events(&mut self) -> Result<(), ReadError> {
        let mut reader = NsReader::from_reader(self.xml());
        reader.config_mut().check_end_names = true;
        self.stack.push(Frame {
            ctx: Ctx::Doc,
            name: N::Unknown,
            path_len: 0,
            seen: 0,
            text: Text::None,
        });
        loop {
            let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_resolved_event() {
                Ok((ns, ev)) => {
                    let ns = match ns {
                        ResolveResult::Bound(n) if n.0 == QCVN_NS => Ns::Qcvn,
                        ResolveResult::Bound(n) if n.0 == XMLDSIG_NS => Ns::Dsig,
                        ResolveResult::Bound(n) => Ns::Other(n.0.to_owned()),
                        ResolveResult::Unbound => Ns::None,
                        ResolveResult::Unknown(p) => Ns::Undeclared(p),
                    };
                    (ns, ev)
                }
                Err(e) => return Err(self.syntax_error(&reader, &e)),
            };
            match event {
                (ns, Event::Start(e)) => {
                    if self.open(&mut reader, ns, &e, before, false)? {
                        continue;
                    }
                }
                (ns, Event::Empty(e)) => {
                    self.open(&mut reader, ns, &e, before, true)?;
                    if self.stack.len() == 1 {
                        break; // an empty root
                    }
                }
                (_, Event::End(_)) => {
                    self.close();
                    if self.stack.len() == 1 {
                        break; // the root is closed; what follows is ignored
                    }
                }
                (_, Event::Text(t)) => match self.top().ctx {
                    Ctx::Content => self.top().text.push(t.into_inner()),
                    Ctx::Leaf => self.top().text.push(t.xml10_content()),
                    Ctx::Skip => {}
                    _ => {
                        if !is_xml_ws(&t) {
                            self.top().text.push(t.xml10_content());
                        }
                    }
                },
                (_, Event::CData(c)) => {
                    let piece = c.xml10_content();
                    self.top().text.push(piece);
                }
                (_, Event::GeneralRef(r)) => {
                    let ch = match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch,
                        Ok(None) => match &*r {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            name => {
                                return Err(ReadError::new(
                                    &self.path,
                                    format!(
                                        "entity reference &{name}; refused: entities declared in a DOCTYPE are never expanded"
                                    ),
                                )
                                .expected("only &lt; &gt; &amp; &apos; &quot; and character references")
                                .found(format!("&{name};")));
                            }
                        },
                        Err(e) => {
                            return Err(ReadError::new(
                                &self.path,
                                format!("invalid character reference &{};: {e}", &*r),
                            ));
                        }
                    };
                    let mut buf = [0u8; 4];
                    let s = ch.encode_utf8(&mut buf).to_owned();
                    self.top().text.push(Cow::Owned(s));
                }
                (_, Event::DocType(_)) => {
                    self.findings.push(Finding::warning(
                        "/",
                        "DOCTYPE ignored: no DTD is loaded and no entity is expanded",
                    ));
                }
                (_, Event::Decl(d)) => {
                    if let Some(Ok(enc)) = d.encoding()
                        && !enc.eq_ignore_ascii_case("utf-8")
                        && !enc.eq_ignore_ascii_case("utf8")
                    {
                        self.findings.push(
                            Finding::warning("/", "declared encoding ignored; read as UTF-8")
                                .expected("UTF-8")
                                .found(enc.into_owned()),
                        );
                    }
                }
                (_, Event::Comment(_)) => {
                    self.findings
                        .push(Finding::warning(self.path_or_root(), "comment ignored"));
                }
                (_, Event::PI(_)) => {}
                (_, Event::Eof) => {
                    if self.stack.len() > 1 {
                        let open = self.path.clone();
                        return Err(ReadError::new(
                            &open,
                            "not well-formed XML (truncated?): the input ends inside this element",
                        ));
                    }
                    return Err(ReadError::new("/", "not an edXML message: no root element")
                        .expected("<edXML>"));
                }
            }
        }
        Ok(())
    }

    fn path_or_root(&self) -> String {
        if self.path.is_empty() {
            "/".to_owned()
        } else {
            self.path.clone()
        }
    }

    fn top(&mut self) -> &mut Frame<'a> {
        // The document frame is pushed first and never popped.
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    /// Handles a start (or empty) tag. Returns `Ok(true)` when the element's whole subtree
    /// was consumed here (signature).
    fn open(
        &mut self,
        reader: &mut NsReader<&'a [u8]>,
        ns: Ns,
        e: &BytesStart<'a>,
        before: usize,
        empty: bool,
    ) -> Result<bool, ReadError> {
        if self.stack.len() > MAX_DEPTH {
            return Err(ReadError::new(
                &self.path,
                format!("elements nested deeper than {MAX_DEPTH} levels"),
            )
            .expected(format!("at most {MAX_DEPTH} levels"))
            .found(format!("more than {MAX_DEPTH}")));
        }
        let local = e.local_name();
        let local: &str = local.as_ref();
        let parent = self.stack[self.stack.len() - 1].ctx;
        let parent_seen = self.stack[self.stack.len() - 1].seen;
        let name = match &ns {
            Ns::Qcvn | Ns::None => N::of(local),
            Ns::Dsig if local == "Signature" => N::Signature,
            Ns::Undeclared(p) => {
                if !self.unknown_prefixes.iter().any(|x| x == p) {
                    self.unknown_prefixes.push(p.clone());
                    self.findings.push(
                        Finding::warning(
                            format!("{}/{local}", self.path),
                            format!(
                                "namespace prefix '{p}' is not declared; elements matched by local name"
                            ),
                        )
                        .expected(format!("xmlns:{p}=\"{QCVN_NS}\"")),
                    );
                }
                N::of(local)
            }
            Ns::Dsig | Ns::Other(_) => N::Unknown,
        };
        if parent == Ctx::Doc && name != N::edXML {
            return Err(
                ReadError::new("/", "not an edXML message: wrong root element")
                    .expected("edXML")
                    .found(local.to_owned()),
            );
        }
        // Signature: kept verbatim.
        if name == N::Signature && parent == Ctx::Header && parent_seen & name.bit() == 0 {
            let last = self.stack.len() - 1;
            self.stack[last].seen |= name.bit();
            if empty {
                self.findings.push(Finding::warning(
                    format!("{}/Signature", self.path),
                    "empty Signature ignored",
                ));
                return Ok(true);
            }
            let end_name = e.name();
            if let Err(err) = reader.read_to_end(end_name) {
                return Err(self.syntax_error(reader, &err));
            }
            let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let xml = self.xml();
            let raw = xml.get(before..after).unwrap_or_default();
            let raw = std::str::from_utf8(raw).map_err(|_| {
                ReadError::new(&format!("{}/Signature", self.path), "not valid UTF-8")
            })?;
            self.b.signature = Some(Signature::verbatim(raw.to_owned()));
            return Ok(true);
        }
        let repeat = repeatable(parent, name);
        let ctx = if name == N::Unknown || matches!(parent, Ctx::Skip | Ctx::Leaf | Ctx::Content) {
            if !matches!(parent, Ctx::Skip) {
                let what = match &ns {
                    Ns::Other(uri) => format!("element in namespace {uri} ignored"),
                    _ if local.ends_with("Attachments") => format!(
                        "attachments in a non-standard container <{local}> are not read; \
                         QCVN 102 carries them in <AttachmentEncoded>"
                    ),
                    _ => "unknown element ignored".to_owned(),
                };
                self.findings
                    .push(Finding::warning(format!("{}/{local}", self.path), what));
            }
            Ctx::Skip
        } else if !repeat && parent_seen & name.bit() != 0 {
            self.findings.push(
                Finding::warning(
                    format!("{}/{local}", self.path),
                    "element repeated; the first one is kept",
                )
                .expected("one")
                .found("more than one"),
            );
            Ctx::Skip
        } else {
            match self.child_ctx(parent, name) {
                Some(c) => c,
                None => {
                    self.findings.push(Finding::warning(
                        format!("{}/{local}", self.path),
                        "element not expected here; ignored",
                    ));
                    Ctx::Skip
                }
            }
        };
        {
            let last = self.stack.len() - 1;
            self.stack[last].seen |= name.bit();
        }
        let path_len = self.path.len();
        self.path.push('/');
        self.path.push_str(local);
        if repeat && ctx != Ctx::Skip {
            let index = self.repeat_index(parent, name);
            self.path.push('[');
            self.path.push_str(&index.to_string());
            self.path.push(']');
        }
        if ctx == Ctx::Manifest || ctx == Ctx::Reference {
            self.attributes(reader, ctx, e);
        }
        self.stack.push(Frame {
            ctx,
            name,
            path_len,
            seen: 0,
            text: Text::None,
        });
        if empty {
            self.close();
        }
        Ok(false)
    }

    /// 1-based position of a repeated element among its siblings (already pushed).
    fn repeat_index(&self, parent: Ctx, name: N) -> usize {
        let d = &self.b.doc;
        match (parent, name) {
            (Ctx::MsgHeader, N::To) => d.to.len(),
            (Ctx::MsgHeader, N::ResponseFor) => d.response_for.len(),
            (Ctx::TraceList, N::TraceHeader) => d.trace.len(),
            (Ctx::Manifest, N::Reference) => self.b.references.len(),
            (Ctx::AttEncoded, N::Attachment) => self.b.attachments.len(),
            (Ctx::ReceiverList, N::Receiver) => self
                .business()
                .and_then(|b| b.document_info.as_ref())
                .map_or(0, |i| i.receivers.len()),
            (Ctx::ReplacementList, N::ReplacementInfo) => {
                self.business().map_or(0, |b| b.replacements.len())
            }
            (Ctx::Appendixes, N::Appendix) => {
                d.other_info.as_ref().map_or(0, |o| o.appendixes.len()) + 1
            }
            (Ctx::ToPlaces, N::Place) => d.to_places.len() + 1,
            (Ctx::OrganIdList, N::OrganId) => {
                self.business()
                    .and_then(|b| b.replacements.last())
                    .map_or(0, |r| r.organ_ids.len())
                    + 1
            }
            _ => 0,
        }
    }

    fn business(&self) -> Option<&Business> {
        self.b.doc.business.as_ref()
    }

    fn attributes(&mut self, reader: &NsReader<&'a [u8]>, ctx: Ctx, e: &BytesStart<'a>) {
        for attr in e.attributes().with_checks(false).flatten() {
            let key = attr.key;
            if key.0 == "xmlns" || key.0.starts_with("xmlns:") {
                continue;
            }
            let (_, local) = reader.resolver().resolve_attribute(key);
            let local: &str = local.as_ref();
            let value = match attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
                Ok(v) => trim_xml(&v).to_owned(),
                Err(_) => continue,
            };
            match (ctx, local) {
                (Ctx::Manifest, "version") => self.b.manifest_version = Some(value),
                (Ctx::Reference, "href") => {
                    if let Some(last) = self.b.reference_hrefs.last_mut() {
                        *last = Some(value);
                    }
                }
                (Ctx::Reference, "role" | "type") => {}
                _ => self.findings.push(Finding::warning(
                    format!("{}/@{}", self.path, key.0),
                    "attribute ignored",
                )),
            }
        }
    }

    /// The context of a known child, creating the item it fills.
    fn child_ctx(&mut self, parent: Ctx, name: N) -> Option<Ctx> {
        use N::*;
        let b = &mut self.b;
        let d = &mut b.doc;
        Some(match (parent, name) {
            (Ctx::Doc, edXML) => Ctx::Root,
            (Ctx::Root, edXMLEnvelope) => {
                b.envelope_seen = true;
                Ctx::Envelope
            }
            (Ctx::Root | Ctx::Envelope, AttachmentEncoded) => Ctx::AttEncoded,
            (Ctx::Envelope, edXMLHeader) => {
                b.header_seen = true;
                Ctx::Header
            }
            (Ctx::Envelope, edXMLBody) => Ctx::Body,
            (Ctx::Header, MessageHeader) => {
                b.message_header_seen = true;
                Ctx::MsgHeader
            }
            (Ctx::Header, TraceHeaderList) => Ctx::TraceList,
            (Ctx::MsgHeader, From) => {
                d.from = Some(Organisation::default());
                Ctx::Org(OrgSlot::From)
            }
            (Ctx::MsgHeader, To) => {
                d.to.push(Organisation::default());
                Ctx::Org(OrgSlot::To)
            }
            (Ctx::MsgHeader, Code) => {
                d.code = Some(DocumentCode::default());
                Ctx::Code
            }
            (Ctx::MsgHeader, PromulgationInfo) => {
                d.promulgation = Some(Promulgation::default());
                Ctx::Promulgation
            }
            (Ctx::MsgHeader, N::DocumentType) => {
                d.document_type = Some(lienthong_model::DocumentType::default());
                Ctx::DocType
            }
            (Ctx::MsgHeader, N::SignerInfo) => {
                d.signer = Some(lienthong_model::SignerInfo::default());
                Ctx::Signer
            }
            (Ctx::MsgHeader, N::OtherInfo) => {
                d.other_info = Some(lienthong_model::OtherInfo::default());
                Ctx::OtherInfo
            }
            (Ctx::MsgHeader, N::ResponseFor) => {
                d.response_for.push(lienthong_model::ResponseFor::default());
                Ctx::ResponseFor
            }
            (Ctx::MsgHeader, ToPlaces) => Ctx::ToPlaces,
            (Ctx::MsgHeader, N::StaffInfo) => {
                b.staff = Some(lienthong_model::StaffInfo::default());
                Ctx::Staff(StaffSlot::Header)
            }
            (
                Ctx::MsgHeader,
                DocumentId | Subject | Content | DueDate | SteeringType | Description | Timestamp,
            ) => Ctx::Leaf,
            (Ctx::MsgHeader, StatusCode) => {
                b.status_code_seen = true;
                Ctx::Leaf
            }
            (
                Ctx::Org(_),
                OrganId | OrganizationInCharge | OrganName | OrganAdd | Email | Telephone | Fax
                | Website,
            ) => Ctx::Leaf,
            (Ctx::Code, CodeNumber | CodeNotation) => Ctx::Leaf,
            (Ctx::Promulgation, Place | PromulgationDate) => Ctx::Leaf,
            (Ctx::DocType, Type | TypeDetail | TypeName) => Ctx::Leaf,
            (Ctx::Signer, Competence | Position | FullName) => Ctx::Leaf,
            (
                Ctx::OtherInfo,
                Priority | SphereOfPromulgation | TyperNotation | PromulgationAmount | PageAmount
                | Direction,
            ) => Ctx::Leaf,
            (Ctx::OtherInfo, Appendixes) => Ctx::Appendixes,
            (Ctx::Appendixes, Appendix) => Ctx::Leaf,
            (Ctx::ResponseFor, OrganId | Code | DocumentId | PromulgationDate) => Ctx::Leaf,
            (Ctx::ToPlaces, Place) => Ctx::Leaf,
            (Ctx::TraceList, N::TraceHeader) => {
                d.trace.push(TraceEntry::default());
                Ctx::TraceHeader
            }
            (Ctx::TraceList, Bussiness) => {
                d.business = Some(Business::default());
                Ctx::Business
            }
            (Ctx::TraceHeader, OrganId | Timestamp) => Ctx::Leaf,
            (Ctx::Business, DocumentId | BussinessDocType | BussinessDocReason | Paper) => {
                Ctx::Leaf
            }
            (Ctx::Business, BussinessDocumentInfo) => {
                if let Some(bz) = d.business.as_mut() {
                    bz.document_info = Some(BusinessDocumentInfo::default());
                }
                Ctx::BusinessDocInfo
            }
            (Ctx::Business, ReplacementInfoList) => Ctx::ReplacementList,
            (Ctx::Business, N::StaffInfo) => {
                if let Some(bz) = d.business.as_mut() {
                    bz.staff = Some(lienthong_model::StaffInfo::default());
                }
                Ctx::Staff(StaffSlot::Business)
            }
            (Ctx::BusinessDocInfo, DocumentInfo | DocumentReceiver) => Ctx::Leaf,
            (Ctx::BusinessDocInfo, ReceiverList) => Ctx::ReceiverList,
            (Ctx::ReceiverList, N::Receiver) => {
                if let Some(info) = d.business.as_mut().and_then(|b| b.document_info.as_mut()) {
                    info.receivers.push(lienthong_model::Receiver::default());
                }
                Ctx::Receiver
            }
            (Ctx::Receiver, OrganId | ReceiverType) => Ctx::Leaf,
            (Ctx::ReplacementList, N::ReplacementInfo) => {
                if let Some(bz) = d.business.as_mut() {
                    bz.replacements
                        .push(lienthong_model::ReplacementInfo::default());
                }
                Ctx::ReplacementInfo
            }
            (Ctx::ReplacementInfo, DocumentId) => Ctx::Leaf,
            (Ctx::ReplacementInfo, OrganIdList) => Ctx::OrganIdList,
            (Ctx::OrganIdList, OrganId) => Ctx::Leaf,
            (Ctx::Staff(_), Department | Staff | Email | Mobile) => Ctx::Leaf,
            (Ctx::Body, edXMLManifest) => Ctx::Manifest,
            (Ctx::Manifest, N::Reference) => {
                b.references.push(crate::message::Reference::default());
                b.reference_hrefs.push(None);
                Ctx::Reference
            }
            (Ctx::Reference, ContentId | ContentType | Description | AttachmentName) => Ctx::Leaf,
            (Ctx::AttEncoded, Attachment) => {
                b.attachments.push(EncodedAttachment::default());
                Ctx::Attachment
            }
            (Ctx::Attachment, ContentId | AttachmentName | Description | ContentType) => Ctx::Leaf,
            (Ctx::Attachment, ContentTransferEncoded) => Ctx::Content,
            _ => return None,
        })
    }

    /// Handles an end tag: assigns a value, or tidies up a container.
    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let parent = self.stack.last().map_or(Ctx::Doc, |f| f.ctx);
        let path = std::mem::take(&mut self.path);
        match frame.ctx {
            Ctx::Leaf => {
                let value = frame.text.as_str();
                let value = trim_xml(value);
                self.assign(parent, frame.name, value, &path);
            }
            Ctx::Content => {
                let content = match &frame.text {
                    Text::None => None,
                    Text::One(Cow::Borrowed(s)) => Some(self.share(s)),
                    other => Some(Bytes::copy_from_slice(other.as_str().as_bytes())),
                };
                let content = content.filter(|c| !is_xml_ws_bytes(c));
                if let Some(a) = self.b.attachments.last_mut() {
                    a.content = content.map(Base64Content::from_text);
                }
            }
            Ctx::Skip => {}
            ctx => {
                let text = frame.text.as_str();
                if !is_xml_ws(text) {
                    if ctx == Ctx::Code && frame.seen == 0 {
                        // `<Code>number/notation</Code>` written as one string.
                        let t = trim_xml(text);
                        let (n, x) = t.split_once('/').unwrap_or((t, ""));
                        if let Some(code) = self.b.doc.code.as_mut() {
                            code.number = id_value(n);
                            code.notation = id_value(x);
                        }
                        self.findings.push(
                            Finding::warning(&path, "Code written as one string; split at '/'")
                                .expected("CodeNumber and CodeNotation")
                                .found(t.to_owned()),
                        );
                    } else {
                        self.findings.push(
                            Finding::warning(&path, "text inside a container element ignored")
                                .found(preview(trim_xml(text).as_bytes())),
                        );
                    }
                }
                self.tidy(ctx, &path);
            }
        }
        self.path = path;
        self.path.truncate(frame.path_len);
    }

    /// Shares a borrowed piece of the input as `Bytes` without copying.
    fn share(&self, s: &str) -> Bytes {
        let whole: &[u8] = self.input;
        let start = whole.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        if p >= start && p + s.len() <= start + whole.len() {
            self.input.slice_ref(s.as_bytes())
        } else {
            Bytes::copy_from_slice(s.as_bytes())
        }
    }

    /// Drops containers that turned out empty (`<x/>` means absent).
    fn tidy(&mut self, ctx: Ctx, path: &str) {
        let b = &mut self.b;
        let d = &mut b.doc;
        let bz = d.business.as_mut();
        match ctx {
            Ctx::Org(OrgSlot::From) => drop_if_empty(&mut d.from),
            Ctx::Org(OrgSlot::To) => pop_if_empty(&mut d.to),
            Ctx::Code => drop_if_empty(&mut d.code),
            Ctx::Promulgation => drop_if_empty(&mut d.promulgation),
            Ctx::DocType => drop_if_empty(&mut d.document_type),
            Ctx::Signer => drop_if_empty(&mut d.signer),
            Ctx::OtherInfo => drop_if_empty(&mut d.other_info),
            Ctx::ResponseFor => pop_if_empty(&mut d.response_for),
            Ctx::TraceHeader if d.trace.last().is_some_and(|t| *t == TraceEntry::default()) => {
                d.trace.pop();
                self.findings
                    .push(Finding::warning(path, "empty TraceHeader ignored"));
            }
            Ctx::Staff(StaffSlot::Header) => drop_if_empty(&mut b.staff),
            Ctx::Staff(StaffSlot::Business) => {
                if let Some(bz) = bz {
                    drop_if_empty(&mut bz.staff);
                }
            }
            Ctx::Receiver => {
                if let Some(info) = bz.and_then(|b| b.document_info.as_mut()) {
                    pop_if_empty(&mut info.receivers);
                }
            }
            Ctx::BusinessDocInfo => {
                if let Some(bz) = bz {
                    drop_if_empty(&mut bz.document_info);
                }
            }
            Ctx::ReplacementInfo => {
                if let Some(bz) = bz {
                    pop_if_empty(&mut bz.replacements);
                }
            }
            Ctx::Business => drop_if_empty(&mut d.business),
            Ctx::Reference => {
                let href = b.reference_hrefs.last().cloned().flatten();
                let Some(r) = b.references.last_mut() else {
                    return;
                };
                if r.content_id.is_some() {
                    return;
                }
                if let Some(h) = href.filter(|h| !lienthong_model::is_null_token(h)) {
                    self.findings.push(
                        Finding::warning(path, "ContentId missing; taken from xlink:href")
                            .found(h.clone()),
                    );
                    r.content_id = Some(h);
                }
            }
            _ => {}
        }
    }

    fn dup(&mut self, path: &str) {
        self.findings.push(
            Finding::warning(path, "element repeated; the first one is kept")
                .expected("one")
                .found("more than one"),
        );
    }

    /// Puts a leaf value where it belongs. `value` is trimmed; empty means absent.
    fn assign(&mut self, parent: Ctx, name: N, value: &str, path: &str) {
        let text = || (!value.is_empty()).then(|| value.to_owned());
        let b = &mut self.b;
        let d = &mut b.doc;
        match parent {
            Ctx::Org(slot) => {
                let org = match slot {
                    OrgSlot::From => d.from.as_mut(),
                    OrgSlot::To => d.to.last_mut(),
                };
                let Some(org) = org else { return };
                match name {
                    N::OrganId => org.organ_id = OrganId::parse_lenient(value),
                    N::OrganizationInCharge => org.organization_in_charge = text(),
                    N::OrganName => org.organ_name = text(),
                    N::OrganAdd => org.organ_add = text(),
                    N::Email => org.email = text(),
                    N::Telephone => org.telephone = text(),
                    N::Fax => org.fax = text(),
                    N::Website => org.website = text(),
                    _ => {}
                }
            }
            Ctx::MsgHeader => match name {
                N::DocumentId => d.document_id = DocumentId::parse_lenient(value),
                N::Subject => d.subject = text(),
                N::Content => d.content = text(),
                N::DueDate => d.due_date = LenientDate::new(value),
                N::SteeringType => d.steering_type = text(),
                N::StatusCode => b.status_code = StatusCode::new(value),
                N::Description => b.description = text(),
                N::Timestamp => b.timestamp = LenientTimestamp::new(value),
                _ => {}
            },
            Ctx::Code => {
                if let Some(c) = d.code.as_mut() {
                    match name {
                        N::CodeNumber => c.number = id_value(value),
                        N::CodeNotation => c.notation = id_value(value),
                        _ => {}
                    }
                }
            }
            Ctx::Promulgation => {
                if let Some(p) = d.promulgation.as_mut() {
                    match name {
                        N::Place => p.place = text(),
                        N::PromulgationDate => p.date = LenientDate::new(value),
                        _ => {}
                    }
                }
            }
            Ctx::DocType => {
                if let Some(t) = d.document_type.as_mut() {
                    match name {
                        N::Type => t.type_code = text(),
                        N::TypeDetail => t.type_detail = text(),
                        N::TypeName => t.type_name = text(),
                        _ => {}
                    }
                }
            }
            Ctx::Signer => {
                if let Some(s) = d.signer.as_mut() {
                    match name {
                        N::Competence => s.competence = text(),
                        N::Position => s.position = text(),
                        N::FullName => s.full_name = text(),
                        _ => {}
                    }
                }
            }
            Ctx::OtherInfo => {
                if let Some(o) = d.other_info.as_mut() {
                    match name {
                        N::Priority => o.priority = text(),
                        N::SphereOfPromulgation => o.sphere_of_promulgation = text(),
                        N::TyperNotation => o.typer_notation = text(),
                        N::PromulgationAmount => o.promulgation_amount = text(),
                        N::PageAmount => o.page_amount = text(),
                        N::Direction => o.direction = text(),
                        _ => {}
                    }
                }
            }
            Ctx::Appendixes => {
                if let (Some(o), Some(v)) = (d.other_info.as_mut(), text()) {
                    o.appendixes.push(v);
                }
            }
            Ctx::ResponseFor => {
                if let Some(r) = d.response_for.last_mut() {
                    match name {
                        N::OrganId => r.organ_id = OrganId::parse_lenient(value),
                        N::Code => r.code = id_value(value),
                        N::DocumentId => r.document_id = DocumentId::parse_lenient(value),
                        N::PromulgationDate => r.promulgation_date = LenientDate::new(value),
                        _ => {}
                    }
                }
            }
            Ctx::ToPlaces => {
                if let Some(v) = text() {
                    d.to_places.push(v);
                }
            }
            Ctx::TraceHeader => {
                if let Some(t) = d.trace.last_mut() {
                    match name {
                        N::OrganId => t.organ_id = OrganId::parse_lenient(value),
                        N::Timestamp => t.timestamp = LenientTimestamp::new(value),
                        _ => {}
                    }
                }
            }
            Ctx::Business => {
                if let Some(bz) = d.business.as_mut() {
                    match name {
                        N::DocumentId => bz.document_id = DocumentId::parse_lenient(value),
                        N::BussinessDocType => bz.doc_type = text(),
                        N::BussinessDocReason => bz.reason = text(),
                        N::Paper => bz.paper = text(),
                        _ => {}
                    }
                }
            }
            Ctx::BusinessDocInfo => {
                if let Some(info) = d.business.as_mut().and_then(|b| b.document_info.as_mut()) {
                    match name {
                        N::DocumentInfo => info.document_info = text(),
                        N::DocumentReceiver => info.document_receiver = text(),
                        _ => {}
                    }
                }
            }
            Ctx::Receiver => {
                if let Some(r) = d
                    .business
                    .as_mut()
                    .and_then(|b| b.document_info.as_mut())
                    .and_then(|i| i.receivers.last_mut())
                {
                    match name {
                        N::OrganId => r.organ_id = OrganId::parse_lenient(value),
                        N::ReceiverType => r.receiver_type = text(),
                        _ => {}
                    }
                }
            }
            Ctx::ReplacementInfo => {
                if let Some(r) = d.business.as_mut().and_then(|b| b.replacements.last_mut()) {
                    r.document_id = DocumentId::parse_lenient(value);
                }
            }
            Ctx::OrganIdList => {
                if let (Some(r), Some(id)) = (
                    d.business.as_mut().and_then(|b| b.replacements.last_mut()),
                    OrganId::parse_lenient(value),
                ) {
                    r.organ_ids.push(id);
                }
            }
            Ctx::Staff(slot) => {
                let staff = match slot {
                    StaffSlot::Header => b.staff.as_mut(),
                    StaffSlot::Business => d.business.as_mut().and_then(|b| b.staff.as_mut()),
                };
                if let Some(s) = staff {
                    match name {
                        N::Department => s.department = text(),
                        N::Staff => s.staff = text(),
                        N::Email => s.email = text(),
                        N::Mobile => s.mobile = text(),
                        _ => {}
                    }
                }
            }
            Ctx::Reference => {
                if let Some(r) = b.references.last_mut() {
                    match name {
                        N::ContentId => r.content_id = id_value(value),
                        N::ContentType => r.content_type = text(),
                        N::Description => r.description = text(),
                        N::AttachmentName => r.attachment_name = text(),
                        _ => {}
                    }
                }
            }
            Ctx::Attachment => {
                if let Some(a) = b.attachments.last_mut() {
                    match name {
                        N::ContentId => a.content_id = id_value(value),
                        N::AttachmentName => a.attachment_name = text(),
                        N::Description => a.description = text(),
                        N::ContentType => a.content_type = text(),
                        _ => {}
                    }
                }
            }
            _ => {
                let _ = path;
            }
        }
    }

    /// Turns what was read into a message of the right kind.
    fn finish(mut self) -> Result<Parsed, ReadError> {
        use crate::names::{ENVELOPE, HEADER, MESSAGE_HEADER, ROOT};
        if !self.b.envelope_seen {
            return Err(
                ReadError::new(ROOT, "not an edXML message: no edXMLEnvelope")
                    .expected("<edXMLEnvelope> inside <edXML>"),
            );
        }
        if !self.b.header_seen {
            return Err(
                ReadError::new(ENVELOPE, "not an edXML message: no edXMLHeader")
                    .expected("<edXMLHeader> inside <edXMLEnvelope>"),
            );
        }
        if !self.b.message_header_seen {
            return Err(
                ReadError::new(HEADER, "not an edXML message: no MessageHeader")
                    .expected("<MessageHeader> inside <edXMLHeader>"),
            );
        }
        let b = std::mem::take(&mut self.b);
        let message = if b.status_code_seen {
            let mut doc = b.doc;
            let mut response_for = doc.response_for.drain(..);
            let first = response_for.next();
            if response_for.next().is_some() {
                self.dup(&format!("{MESSAGE_HEADER}/ResponseFor"));
            }
            drop(response_for);
            let status = StatusReport {
                from: doc.from.take(),
                response_for: first,
                staff: b.staff,
                status_code: b.status_code,
                description: b.description,
                timestamp: b.timestamp,
                trace: std::mem::take(&mut doc.trace),
            };
            let leftovers: [(&str, bool); 13] = [
                ("To", !doc.to.is_empty()),
                ("DocumentId", doc.document_id.is_some()),
                ("Code", doc.code.is_some()),
                ("PromulgationInfo", doc.promulgation.is_some()),
                ("DocumentType", doc.document_type.is_some()),
                ("Subject", doc.subject.is_some()),
                ("Content", doc.content.is_some()),
                ("SignerInfo", doc.signer.is_some()),
                ("DueDate", doc.due_date.is_some()),
                ("OtherInfo", doc.other_info.is_some()),
                ("SteeringType", doc.steering_type.is_some()),
                ("ToPlaces", !doc.to_places.is_empty()),
                ("TraceHeaderList/Bussiness", doc.business.is_some()),
            ];
            for (what, present) in leftovers {
                if present {
                    self.findings.push(Finding::warning(
                        format!("{MESSAGE_HEADER}/{what}"),
                        "not part of a status message; ignored",
                    ));
                }
            }
            if b.signature.is_some() || !b.references.is_empty() || !b.attachments.is_empty() {
                self.findings.push(Finding::warning(
                    ROOT,
                    "signature, manifest and attachments are not part of a status message; ignored",
                ));
            }
            Message::Status(StatusMessage { status })
        } else {
            for (what, present) in [
                ("StaffInfo", b.staff.is_some()),
                ("Description", b.description.is_some()),
                ("Timestamp", b.timestamp.is_some()),
            ] {
                if present {
                    self.findings.push(Finding::warning(
                        format!("{MESSAGE_HEADER}/{what}"),
                        "not part of a document message; ignored",
                    ));
                }
            }
            Message::Edoc(EdocMessage {
                document: b.doc,
                signature: b.signature,
                manifest_version: b.manifest_version,
                references: b.references,
                attachments: b.attachments,
            })
        };
        Ok(Parsed {
            message,
            findings: self.findings,
        })
    }
}

/// `<x/>` and an element whose children are all empty mean absent.
fn drop_if_empty<T: Default + PartialEq>(o: &mut Option<T>) {
    if o.as_ref().is_some_and(|v| *v == T::default()) {
        *o = None;
    }
}

/// Removes the last item of a list when it turned out empty.
fn pop_if_empty<T: Default + PartialEq>(v: &mut Vec<T>) {
    if v.last().is_some_and(|x| *x == T::default()) {
        v.pop();
    }
}

fn is_xml_ws_bytes(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
}

/// An identifier value: `null` (any case) and blank mean absent.
fn id_value(value: &str) -> Option<String> {
    (!lienthong_model::is_null_token(value)).then(|| trim_xml(value).to_owned())
}

/// The namespace of an element, as far as the reader cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ns {
    Qcvn,
    Dsig,
    None,
    Undeclared(String),
    Other(String),
}

/// Elements that may occur more than once under their parent.
fn repeatable(parent: Ctx, name: N) -> bool {
    matches!(
        (parent, name),
        (Ctx::MsgHeader, N::To | N::ResponseFor)
            | (Ctx::TraceList, N::TraceHeader)
            | (Ctx::Manifest, N::Reference)
            | (Ctx::AttEncoded, N::Attachment)
            | (Ctx::ReceiverList, N::Receiver)
            | (Ctx::ReplacementList, N::ReplacementInfo)
            | (Ctx::Appendixes, N::Appendix)
            | (Ctx::ToPlaces, N::Place)
            | (Ctx::OrganIdList, N::OrganId)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_col(b"abc", 0), (1, 1));
    }
}
