//! The VDXP HTTP client (`vdxp.md` §2–§8) on tokio + reqwest (rustls with *ring*).
//!
//! # Requests (§2, §3, §7)
//!
//! Every operation is one request to `base_url` + its path (string concatenation; the paths
//! default to `/sendEdoc`, `/getReceivedEdocList`, …). Parameters travel as signed
//! `XroadVnpt-*` headers ([`crate::sign::sign`]) with a fresh timestamp per request and
//! only the current call's parameters (unlike the SDK, §5.1). Bodies are those the SDK
//! sends: `sendEdoc` the raw .edxml bytes followed by CR LF as `application/octet-stream`
//! (not multipart; `hash-file` over the bytes without the CR LF); `getEdoc`,
//! `updateStatus`, the counts and `deleteAgency` `{}`; `registerAgency` its JSON; the other
//! calls an empty body; `downloadEdoc` is a `GET` without one.
//!
//! Parameter values must be printable ASCII without surrounding white space (they go into
//! raw header values, and HTTP would strip the white space so the signed value would no
//! longer match); anything else is refused before sending ([`ErrorKind::InvalidRequest`]).
//!
//! `sendEdoc` reads the message with the edXML codec's lenient reader for its `from`
//! parameter (`From/OrganId`, §7) and refuses a message whose kind is not the
//! `messagetype`, so that a mistake costs no round trip.
//!
//! # Replies (§4)
//!
//! A reply whose body is a JSON object with `status` or `ErrorCode` is an envelope and
//! decides, whatever the HTTP status: success iff `status` = `"OK"` and `ErrorCode` =
//! `"0"` (or the number 0). Anything else is classified as in the decision table of
//! [`crate::error`]. `downloadEdoc` returns the raw bytes unless the body is an envelope.
//!
//! # What the client does not do
//!
//! It does not retry, poll or remember anything: the receiving loops of §8 and the bus
//! decide, guided by [`VdxpError::retryable`], [`VdxpError::fault`] and
//! [`VdxpError::retry_after`]. Redirects are not followed (a redirected `POST` would lose
//! its body). At most `max_concurrency` requests are in flight per client; each has a
//! timeout of `timeout_ms` (default 60 s) covering connect, send and the whole reply.
//!
//! # TLS
//!
//! reqwest is built with `rustls-no-provider`; the constructor installs *ring* as the
//! process-wide rustls provider (ignoring "already installed"). Server certificates are
//! verified with `rustls-platform-verifier`, which on Linux reads the system CA store: a
//! host without CA certificates (a bare container image) cannot build the client unless
//! `extra_ca_file` names a PEM bundle.
//!
//! # Logging
//!
//! `tracing` events carry `partner = "vdxp"`, `operation`, and `doc_id` (the axis id)
//! where there is one, plus the error kind, fault, retryability and the axis's
//! `ErrorCode`. Never logged: the secret, the signature headers, message bodies, and the
//! axis's `ErrorDesc` (kept in [`VdxpError::message`] for operators).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::error::{ErrorKind, Fault, VdxpError, chain};
use crate::sign::{self, CONTENT_TYPE, JSON, OCTET_STREAM};
use crate::wire::{
    Agency, AgencyQd20, DeliveryStatus, DocId, Envelope, MessageType, NewAgency, ReceivedItem,
    SERVICE_TYPE, SentItem, SyncUnit,
};

/// The `partner` field of every log event.
const PARTNER: &str = "vdxp";

fn default_timeout_ms() -> u64 {
    60_000
}
fn default_max_concurrency() -> usize {
    8
}

/// The path of every operation, appended to the base URL. Each defaults to `/` followed by
/// the operation's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VdxpPaths {
    /// `sendEdoc`.
    pub send_edoc: String,
    /// `getReceivedEdocList`.
    pub get_received_edoc_list: String,
    /// `getSentEdocList`.
    pub get_sent_edoc_list: String,
    /// `getEdoc`.
    pub get_edoc: String,
    /// `downloadEdoc`.
    pub download_edoc: String,
    /// `updateStatus`.
    pub update_status: String,
    /// `countReceiveEdoc`.
    pub count_receive_edoc: String,
    /// `countReceiveStatus`.
    pub count_receive_status: String,
    /// `getAgenciesList`.
    pub get_agencies_list: String,
    /// `getAgenciesListQD20`.
    pub get_agencies_list_qd20: String,
    /// `registerAgency`.
    pub register_agency: String,
    /// `deleteAgency`.
    pub delete_agency: String,
    /// `getSynchronizeUnit`.
    pub get_synchronize_unit: String,
}

impl Default for VdxpPaths {
    fn default() -> Self {
        let p = |op: Op| format!("/{}", op.name());
        VdxpPaths {
            send_edoc: p(Op::SendEdoc),
            get_received_edoc_list: p(Op::GetReceivedEdocList),
            get_sent_edoc_list: p(Op::GetSentEdocList),
            get_edoc: p(Op::GetEdoc),
            download_edoc: p(Op::DownloadEdoc),
            update_status: p(Op::UpdateStatus),
            count_receive_edoc: p(Op::CountReceiveEdoc),
            count_receive_status: p(Op::CountReceiveStatus),
            get_agencies_list: p(Op::GetAgenciesList),
            get_agencies_list_qd20: p(Op::GetAgenciesListQd20),
            register_agency: p(Op::RegisterAgency),
            delete_agency: p(Op::DeleteAgency),
            get_synchronize_unit: p(Op::GetSynchronizeUnit),
        }
    }
}

/// Client configuration (§1). Deserialisable; everything but the base URL, `systemid` and
/// secret has a default.
#[derive(Clone, Deserialize)]
pub struct VdxpConfig {
    /// Axis endpoint, e.g. `http://vxpdungchung.vnpt.vn`.
    pub base_url: String,
    /// Operation paths, appended to `base_url`.
    #[serde(default)]
    pub paths: VdxpPaths,
    /// Code of the connected centre (`XroadVnpt-systemid`), e.g. `vxp.saas.03`.
    pub systemid: String,
    /// The HMAC key issued with the `systemid`. Redacted in `Debug`; never logged.
    pub secret: String,
    /// Per-request timeout in milliseconds (default 60 000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// At most this many requests in flight (default 8).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// A PEM bundle of extra trusted CA certificates, added to the system's.
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
}

impl Default for VdxpConfig {
    /// Empty strings, the default paths and numbers.
    fn default() -> Self {
        VdxpConfig {
            base_url: String::new(),
            paths: VdxpPaths::default(),
            systemid: String::new(),
            secret: String::new(),
            timeout_ms: default_timeout_ms(),
            max_concurrency: default_max_concurrency(),
            extra_ca_file: None,
        }
    }
}

impl fmt::Debug for VdxpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VdxpConfig")
            .field("base_url", &self.base_url)
            .field("paths", &self.paths)
            .field("systemid", &self.systemid)
            .field("secret", &"<redacted>")
            .field("timeout_ms", &self.timeout_ms)
            .field("max_concurrency", &self.max_concurrency)
            .field("extra_ca_file", &self.extra_ca_file)
            .finish()
    }
}

/// A page of `getReceivedEdocList` (`pageSize` / `pageIndex`, 1-based). The 2025 Java
/// gateway sends them; whether the real axis honours them is unknown (§3), the simulator
/// does (§9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    /// Items per page.
    pub size: u32,
    /// Page number, from 1.
    pub index: u32,
}

/// The axis operations (discriminants index [`ALL_OPS`] and `Inner::urls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    SendEdoc,
    GetReceivedEdocList,
    GetSentEdocList,
    GetEdoc,
    DownloadEdoc,
    UpdateStatus,
    CountReceiveEdoc,
    CountReceiveStatus,
    GetAgenciesList,
    GetAgenciesListQd20,
    RegisterAgency,
    DeleteAgency,
    GetSynchronizeUnit,
}

const ALL_OPS: [Op; 13] = [
    Op::SendEdoc,
    Op::GetReceivedEdocList,
    Op::GetSentEdocList,
    Op::GetEdoc,
    Op::DownloadEdoc,
    Op::UpdateStatus,
    Op::CountReceiveEdoc,
    Op::CountReceiveStatus,
    Op::GetAgenciesList,
    Op::GetAgenciesListQd20,
    Op::RegisterAgency,
    Op::DeleteAgency,
    Op::GetSynchronizeUnit,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::SendEdoc => "sendEdoc",
            Op::GetReceivedEdocList => "getReceivedEdocList",
            Op::GetSentEdocList => "getSentEdocList",
            Op::GetEdoc => "getEdoc",
            Op::DownloadEdoc => "downloadEdoc",
            Op::UpdateStatus => "updateStatus",
            Op::CountReceiveEdoc => "countReceiveEdoc",
            Op::CountReceiveStatus => "countReceiveStatus",
            Op::GetAgenciesList => "getAgenciesList",
            Op::GetAgenciesListQd20 => "getAgenciesListQD20",
            Op::RegisterAgency => "registerAgency",
            Op::DeleteAgency => "deleteAgency",
            Op::GetSynchronizeUnit => "getSynchronizeUnit",
        }
    }

    fn path(self, p: &VdxpPaths) -> &str {
        match self {
            Op::SendEdoc => &p.send_edoc,
            Op::GetReceivedEdocList => &p.get_received_edoc_list,
            Op::GetSentEdocList => &p.get_sent_edoc_list,
            Op::GetEdoc => &p.get_edoc,
            Op::DownloadEdoc => &p.download_edoc,
            Op::UpdateStatus => &p.update_status,
            Op::CountReceiveEdoc => &p.count_receive_edoc,
            Op::CountReceiveStatus => &p.count_receive_status,
            Op::GetAgenciesList => &p.get_agencies_list,
            Op::GetAgenciesListQd20 => &p.get_agencies_list_qd20,
            Op::RegisterAgency => &p.register_agency,
            Op::DeleteAgency => &p.delete_agency,
            Op::GetSynchronizeUnit => &p.get_synchronize_unit,
        }
    }

    fn method(self) -> Method {
        match self {
            Op::DownloadEdoc => Method::GET,
            _ => Method::POST,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Op::SendEdoc => OCTET_STREAM,
            _ => JSON,
        }
    }
}

/// A request body.
enum Body {
    /// No body at all (`GET`).
    None,
    /// A zero-length body.
    Empty,
    /// `{}`.
    EmptyObject,
    /// These bytes.
    Bytes(Bytes),
}

struct Inner {
    http: reqwest::Client,
    /// One URL per operation, in the order of [`ALL_OPS`].
    urls: Vec<Url>,
    systemid: String,
    secret: String,
    permits: Semaphore,
}

/// The VDXP client. Cheap to clone (an `Arc` inside); clones share the connection pool and
/// the concurrency limit.
#[derive(Clone)]
pub struct VdxpClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for VdxpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VdxpClient")
            .field("base_url", &self.inner.urls.first().map(Url::as_str))
            .field("systemid", &self.inner.systemid)
            .finish_non_exhaustive()
    }
}

/// Checks that a value can travel as a raw header value and be verified against its signed
/// copy: printable ASCII, no leading or trailing space or tab.
fn header_safe(value: &str) -> Result<(), &'static str> {
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("must be printable ASCII");
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err("must not start or end with white space");
    }
    Ok(())
}

/// Lenient base64 for `getEdoc`'s `data`: standard alphabet, padding optional, line breaks
/// and spaces ignored.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(clean)
    } else {
        BASE64.decode(text)
    }
}

impl VdxpClient {
    /// Builds a client. Installs *ring* as the process-wide rustls provider if none is
    /// installed yet. No request is sent.
    ///
    /// Fails with [`ErrorKind::Config`] on an unusable URL or path, an empty or non-ASCII
    /// `systemid`, an empty secret, a zero concurrency or timeout, an unreadable
    /// `extra_ca_file`, or when the TLS configuration cannot be built (no CA certificates
    /// on the system and no `extra_ca_file`).
    pub fn new(config: VdxpConfig) -> Result<Self, VdxpError> {
        let _ = rustls::crypto::ring::default_provider().install_default();

        if config.max_concurrency == 0 {
            return Err(VdxpError::config("max_concurrency must be at least 1"));
        }
        if config.timeout_ms == 0 {
            return Err(VdxpError::config("timeout_ms must be positive"));
        }
        if config.systemid.is_empty() {
            return Err(VdxpError::config("systemid is empty"));
        }
        header_safe(&config.systemid)
            .map_err(|why| VdxpError::config(format!("systemid {why}")))?;
        if config.secret.is_empty() {
            return Err(VdxpError::config("secret is empty"));
        }
        let mut urls = Vec::with_capacity(ALL_OPS.len());
        for op in ALL_OPS {
            let text = format!("{}{}", config.base_url, op.path(&config.paths));
            let url = Url::parse(&text)
                .map_err(|e| VdxpError::config(format!("{} URL {text:?}: {e}", op.name())))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(VdxpError::config(format!(
                    "{} URL {text:?}: scheme must be http or https",
                    op.name()
                )));
            }
            urls.push(url);
        }

        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.max_concurrency);
        if let Some(path) = &config.extra_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| VdxpError::config(format!("extra_ca_file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| VdxpError::config(format!("extra_ca_file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(VdxpError::config(format!(
                    "extra_ca_file {}: no certificate",
                    path.display()
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| {
            VdxpError::config(format!(
                "cannot build the HTTP client (no CA certificates on this system? see \
                 extra_ca_file): {}",
                chain(&e)
            ))
        })?;

        Ok(VdxpClient {
            inner: Arc::new(Inner {
                http,
                urls,
                systemid: config.systemid,
                secret: config.secret,
                permits: Semaphore::new(config.max_concurrency),
            }),
        })
    }

    /// Sends an edXML message with `sendEdoc` (§3, §7) and returns the `DocId` the axis
    /// assigned to the send.
    ///
    /// `file` is the complete .edxml; it goes on the wire unchanged, followed by CR LF.
    /// `from` is the message's `From/OrganId`. `to`: `None` (the gateway's rule: the axis
    /// reads the recipients from the message) or explicit recipients, sent as a JSON array.
    ///
    /// Refused before sending ([`ErrorKind::InvalidRequest`]): a message the lenient reader
    /// cannot read, one whose kind is not `messagetype`, one without `From/OrganId`, an
    /// empty `to`.
    pub async fn send_edoc(
        &self,
        file: Bytes,
        messagetype: MessageType,
        to: Option<&[&str]>,
    ) -> Result<DocId, VdxpError> {
        let op = Op::SendEdoc;
        let started = Instant::now();
        let result = self.send_edoc_inner(file, messagetype, to).await;
        let doc_id = result.as_ref().ok().map(DocId::as_str);
        self.log(op, doc_id, started, &result);
        result
    }

    async fn send_edoc_inner(
        &self,
        file: Bytes,
        messagetype: MessageType,
        to: Option<&[&str]>,
    ) -> Result<DocId, VdxpError> {
        let op = Op::SendEdoc;
        let parsed = lienthong_edxml::read(file.clone()).map_err(|e| {
            VdxpError::new(ErrorKind::InvalidRequest, Fault::Us, false)
                .at(op.name())
                .with_source(e)
        })?;
        let kind = parsed.message.kind();
        if kind != messagetype.as_str() {
            return Err(VdxpError::invalid(
                op.name(),
                format!("the message is a {kind} message, not {messagetype}"),
            ));
        }
        let from = match &parsed.message {
            lienthong_edxml::Message::Edoc(m) => m.document.from.as_ref(),
            lienthong_edxml::Message::Status(m) => m.status.from.as_ref(),
        }
        .and_then(|o| o.organ_id.as_ref())
        .map(|id| id.as_str().to_owned())
        .ok_or_else(|| VdxpError::invalid(op.name(), "the message has no From/OrganId"))?;
        let to_text = match to {
            Some([]) => {
                return Err(VdxpError::invalid(
                    op.name(),
                    "to names no recipient (pass None to let the axis read the message)",
                ));
            }
            Some(list) => {
                for r in list {
                    header_safe(r).map_err(|why| {
                        VdxpError::invalid(op.name(), format!("recipient {r:?} {why}"))
                    })?;
                }
                Some(sign::to_parameter(list))
            }
            None => None,
        };
        let hash_file = sign::hash_file(&file);
        let mut params = vec![
            ("servicetype", SERVICE_TYPE),
            ("messagetype", messagetype.as_str()),
            ("hash-file", hash_file.as_str()),
            ("from", from.as_str()),
        ];
        if let Some(t) = &to_text {
            params.push(("to", t.as_str()));
        }
        let mut body = Vec::with_capacity(file.len() + 2);
        body.extend_from_slice(&file);
        body.extend_from_slice(b"\r\n");
        let envelope = self
            .envelope(op, &params, Body::Bytes(Bytes::from(body)))
            .await?;
        envelope.doc_id().ok_or_else(|| {
            let mut e = VdxpError::decode(op.name(), "success reply without DocId");
            // The axis accepted the message: resending would deliver it twice.
            e.retryable = false;
            e
        })
    }

    /// Lists the deliveries waiting for this system with `getReceivedEdocList` (§3.1, §8).
    /// Items without a `docId` (or not objects) are skipped with a warning.
    pub async fn get_received_list(
        &self,
        messagetype: MessageType,
        page: Option<Page>,
    ) -> Result<Vec<ReceivedItem>, VdxpError> {
        let op = Op::GetReceivedEdocList;
        let (size, index) = match page {
            Some(p) => (p.size.to_string(), p.index.to_string()),
            None => (String::new(), String::new()),
        };
        let mut params = vec![
            ("servicetype", SERVICE_TYPE),
            ("messagetype", messagetype.as_str()),
        ];
        if page.is_some() {
            params.push(("pageSize", size.as_str()));
            params.push(("pageIndex", index.as_str()));
        }
        let envelope = self.call(op, None, &params, Body::Empty).await?;
        let data = envelope.data_list();
        let items: Vec<ReceivedItem> = data.iter().filter_map(ReceivedItem::from_value).collect();
        if items.len() < data.len() {
            warn!(
                partner = PARTNER,
                operation = op.name(),
                skipped = data.len() - items.len(),
                "list items without a docId skipped"
            );
        }
        Ok(items)
    }

    /// Fetches a delivered message with `getEdoc`: the base64 `data` decoded, the bytes
    /// exactly as received (§4, §8 step 4).
    pub async fn get_edoc(&self, doc_id: &DocId) -> Result<Bytes, VdxpError> {
        let op = Op::GetEdoc;
        let started = Instant::now();
        let result = async {
            let envelope = self
                .envelope(op, &[("docId", doc_id.as_str())], Body::EmptyObject)
                .await?;
            let Some(serde_json::Value::String(data)) = envelope.body.get("data") else {
                return Err(VdxpError::decode(op.name(), "success reply without data"));
            };
            decode_base64(data).map(Bytes::from).map_err(|e| {
                VdxpError::new(ErrorKind::Decode, Fault::Partner, true)
                    .at(op.name())
                    .with_source(e)
            })
        }
        .await;
        self.log(op, Some(doc_id.as_str()), started, &result);
        result
    }

    /// Fetches a delivered message with `downloadEdoc` (`GET`, SDK 2.0.1): the raw bytes of
    /// the reply. A reply that is an envelope is a failure (or, leniently, a success
    /// carrying base64 `data`).
    pub async fn download_edoc(&self, doc_id: &DocId) -> Result<Bytes, VdxpError> {
        let op = Op::DownloadEdoc;
        let started = Instant::now();
        let result = async {
            let (status, retry_after, bytes) = self
                .exchange(op, &[("docId", doc_id.as_str())], Body::None)
                .await?;
            if let Some(envelope) = Envelope::parse(&bytes) {
                let envelope = check(op, envelope, retry_after)?;
                let Some(serde_json::Value::String(data)) = envelope.body.get("data") else {
                    return Err(VdxpError::decode(
                        op.name(),
                        "success envelope instead of the file",
                    ));
                };
                return decode_base64(data).map(Bytes::from).map_err(|e| {
                    VdxpError::new(ErrorKind::Decode, Fault::Partner, true)
                        .at(op.name())
                        .with_source(e)
                });
            }
            if !status.is_success() {
                return Err(VdxpError::http(op.name(), status.as_u16(), retry_after));
            }
            if bytes.is_empty() {
                return Err(VdxpError::decode(op.name(), "empty reply"));
            }
            Ok(bytes)
        }
        .await;
        self.log(op, Some(doc_id.as_str()), started, &result);
        result
    }

    /// Reports the gateway's handling of a delivery with `updateStatus` (§8 step 6). An
    /// empty `description` is not sent.
    pub async fn update_status(
        &self,
        doc_id: &DocId,
        status: DeliveryStatus,
        description: Option<&str>,
    ) -> Result<(), VdxpError> {
        let mut params = vec![("docId", doc_id.as_str()), ("status", status.as_str())];
        if let Some(d) = description.filter(|d| !d.is_empty()) {
            params.push(("description", d));
        }
        self.call(
            Op::UpdateStatus,
            Some(doc_id.as_str()),
            &params,
            Body::EmptyObject,
        )
        .await?;
        Ok(())
    }

    /// Per-recipient progress of a send with `getSentEdocList` (§3.2): `doc_id` is the
    /// `DocId` returned by [`send_edoc`](Self::send_edoc), `messagetype` that of the send
    /// (the SDK signs both).
    pub async fn get_sent_list(
        &self,
        doc_id: &DocId,
        messagetype: MessageType,
    ) -> Result<Vec<SentItem>, VdxpError> {
        let params = [
            ("servicetype", SERVICE_TYPE),
            ("messagetype", messagetype.as_str()),
            ("docId", doc_id.as_str()),
        ];
        let envelope = self
            .call(
                Op::GetSentEdocList,
                Some(doc_id.as_str()),
                &params,
                Body::Empty,
            )
            .await?;
        Ok(envelope
            .data_list()
            .iter()
            .filter_map(SentItem::from_value)
            .collect())
    }

    /// Every send of this system of `messagetype`, with `getSentEdocList` without `docId`:
    /// how the gateway finds out whether a send whose answer it lost (a crash, a timeout)
    /// reached the axis. No public evidence says the real axis answers this form (the
    /// simulator does, newest first); callers must treat a refusal as "unknown".
    pub async fn list_sent(&self, messagetype: MessageType) -> Result<Vec<SentItem>, VdxpError> {
        let params = [
            ("servicetype", SERVICE_TYPE),
            ("messagetype", messagetype.as_str()),
        ];
        let envelope = self
            .call(Op::GetSentEdocList, None, &params, Body::Empty)
            .await?;
        Ok(envelope
            .data_list()
            .iter()
            .filter_map(SentItem::from_value)
            .collect())
    }

    /// Number of deliveries waiting: `countReceiveEdoc` for documents, `countReceiveStatus`
    /// for status messages (SDK 2.0.1), reading `count`.
    pub async fn count_received(&self, messagetype: MessageType) -> Result<u64, VdxpError> {
        let op = match messagetype {
            MessageType::Edoc => Op::CountReceiveEdoc,
            MessageType::Status => Op::CountReceiveStatus,
        };
        let params = [
            ("servicetype", SERVICE_TYPE),
            ("messagetype", messagetype.as_str()),
        ];
        let envelope = self.call(op, None, &params, Body::EmptyObject).await?;
        envelope
            .count()
            .ok_or_else(|| VdxpError::decode(op.name(), "success reply without a count"))
    }

    /// The agencies known to the axis (`getAgenciesList`).
    pub async fn get_agencies(&self) -> Result<Vec<Agency>, VdxpError> {
        let envelope = self
            .call(Op::GetAgenciesList, None, &[], Body::Empty)
            .await?;
        Ok(envelope
            .data_list()
            .iter()
            .filter_map(Agency::from_value)
            .collect())
    }

    /// The agencies with their QCVN 102 codes (`getAgenciesListQD20`, SDK 2.0.1); `level`
    /// as the SDK passes it (e.g. `1`; meaning undocumented).
    pub async fn get_agencies_qd20(&self, level: &str) -> Result<Vec<AgencyQd20>, VdxpError> {
        let envelope = self
            .call(
                Op::GetAgenciesListQd20,
                None,
                &[("level", level)],
                Body::Empty,
            )
            .await?;
        Ok(envelope
            .data_list()
            .iter()
            .filter_map(AgencyQd20::from_value)
            .collect())
    }

    /// Adds or updates an agency under this system (`registerAgency`, JSON body).
    pub async fn register_agency(&self, agency: &NewAgency) -> Result<(), VdxpError> {
        let op = Op::RegisterAgency;
        let body = serde_json::to_vec(agency).map_err(|e| {
            VdxpError::new(ErrorKind::InvalidRequest, Fault::Us, false)
                .at(op.name())
                .with_source(e)
        })?;
        self.call(op, None, &[], Body::Bytes(Bytes::from(body)))
            .await?;
        Ok(())
    }

    /// Removes an agency (`deleteAgency`, parameter `AgencyCode`).
    pub async fn delete_agency(&self, code: &str) -> Result<(), VdxpError> {
        self.call(
            Op::DeleteAgency,
            None,
            &[("AgencyCode", code)],
            Body::EmptyObject,
        )
        .await?;
        Ok(())
    }

    /// The organisation units to synchronise (`getSynchronizeUnit`).
    pub async fn get_synchronize_unit(&self) -> Result<Vec<SyncUnit>, VdxpError> {
        let envelope = self
            .call(Op::GetSynchronizeUnit, None, &[], Body::Empty)
            .await?;
        Ok(envelope
            .data_list()
            .iter()
            .filter_map(SyncUnit::from_value)
            .collect())
    }

    /// A JSON operation with logging.
    async fn call(
        &self,
        op: Op,
        doc_id: Option<&str>,
        params: &[(&str, &str)],
        body: Body,
    ) -> Result<Envelope, VdxpError> {
        let started = Instant::now();
        let result = self.envelope(op, params, body).await;
        self.log(op, doc_id, started, &result);
        result
    }

    /// A JSON operation: sends and applies the success rule (§4).
    async fn envelope(
        &self,
        op: Op,
        params: &[(&str, &str)],
        body: Body,
    ) -> Result<Envelope, VdxpError> {
        let (status, retry_after, bytes) = self.exchange(op, params, body).await?;
        match Envelope::parse(&bytes) {
            Some(envelope) => check(op, envelope, retry_after),
            None if !status.is_success() => {
                Err(VdxpError::http(op.name(), status.as_u16(), retry_after))
            }
            None => {
                let mut e = VdxpError::decode(op.name(), "the reply is not a response envelope");
                e.retry_after = retry_after;
                Err(e)
            }
        }
    }

    /// Validates, signs and sends one request within the concurrency limit; returns the
    /// HTTP status, `Retry-After` and the whole body.
    async fn exchange(
        &self,
        op: Op,
        params: &[(&str, &str)],
        body: Body,
    ) -> Result<(StatusCode, Option<Duration>, Bytes), VdxpError> {
        for (name, value) in params {
            header_safe(value)
                .map_err(|why| VdxpError::invalid(op.name(), format!("parameter {name} {why}")))?;
        }
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push((CONTENT_TYPE, op.content_type()));
        all.extend_from_slice(params);
        let timestamp = sign::format_timestamp(jiff::Timestamp::now());
        let mut headers = HeaderMap::new();
        for (name, value) in sign::sign(&self.inner.systemid, &self.inner.secret, &timestamp, &all)
        {
            let name = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(&value);
            match (name, value) {
                (Ok(n), Ok(v)) => {
                    headers.insert(n, v);
                }
                _ => {
                    return Err(VdxpError::invalid(
                        op.name(),
                        "a signed header is not a valid HTTP header",
                    ));
                }
            }
        }
        let url = self.inner.urls[op as usize].clone();
        let mut request = self.inner.http.request(op.method(), url).headers(headers);
        request = match body {
            Body::None => request,
            Body::Empty => request.body(Vec::new()),
            Body::EmptyObject => request.body("{}"),
            Body::Bytes(b) => request.body(b),
        };

        let permit = self.inner.permits.acquire().await.map_err(|e| {
            VdxpError::new(ErrorKind::Config, Fault::Us, false)
                .at(op.name())
                .with_source(e)
        })?;
        let response = request
            .send()
            .await
            .map_err(|e| VdxpError::transport(op.name(), e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| lienthong_model::partner::parse_retry_after(v, jiff::Timestamp::now()));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| VdxpError::transport(op.name(), e))?;
        drop(permit);
        Ok((status, retry_after, bytes))
    }

    fn log<T>(
        &self,
        op: Op,
        doc_id: Option<&str>,
        started: Instant,
        result: &Result<T, VdxpError>,
    ) {
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(_) => debug!(
                partner = PARTNER,
                operation = op.name(),
                doc_id,
                elapsed_ms,
                "call succeeded"
            ),
            Err(e) => warn!(
                partner = PARTNER,
                operation = op.name(),
                doc_id,
                elapsed_ms,
                kind = %e.kind,
                fault = %e.fault,
                retryable = e.retryable,
                error_code = e.error_code.as_deref(),
                retry_after_s = e.retry_after.map(|d| d.as_secs()),
                "call failed"
            ),
        }
    }
}

/// The success rule (§4) on an envelope.
fn check(op: Op, envelope: Envelope, retry_after: Option<Duration>) -> Result<Envelope, VdxpError> {
    if envelope.is_success() {
        return Ok(envelope);
    }
    let mut e = VdxpError::envelope(op.name(), envelope.error_code, envelope.error_desc);
    e.retry_after = retry_after;
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_redaction() {
        let cfg: VdxpConfig = serde_json::from_value(serde_json::json!({
            "base_url": "https://axis.example",
            "systemid": "vxp.test.01",
            "secret": "s3cret-key",
            "paths": {"send_edoc": "/vxp/sendEdoc"}
        }))
        .expect("config");
        assert_eq!(cfg.timeout_ms, 60_000);
        assert_eq!(cfg.max_concurrency, 8);
        assert_eq!(cfg.paths.send_edoc, "/vxp/sendEdoc");
        assert_eq!(cfg.paths.get_edoc, "/getEdoc");
        assert_eq!(cfg.paths.get_agencies_list_qd20, "/getAgenciesListQD20");
        let text = format!("{cfg:?}");
        assert!(!text.contains("s3cret-key"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        let client = VdxpClient::new(cfg).expect("client");
        assert!(!format!("{client:?}").contains("s3cret-key"));
    }

    #[test]
    fn config_errors() {
        let base = VdxpConfig {
            base_url: "https://axis.example".into(),
            systemid: "vxp.test.01".into(),
            secret: "k".into(),
            ..VdxpConfig::default()
        };
        for cfg in [
            VdxpConfig {
                base_url: "axis.example".into(),
                ..base.clone()
            },
            VdxpConfig {
                base_url: "ftp://axis.example".into(),
                ..base.clone()
            },
            VdxpConfig {
                max_concurrency: 0,
                ..base.clone()
            },
            VdxpConfig {
                timeout_ms: 0,
                ..base.clone()
            },
            VdxpConfig {
                systemid: String::new(),
                ..base.clone()
            },
            VdxpConfig {
                systemid: "vxp.tést".into(),
                ..base.clone()
            },
            VdxpConfig {
                secret: String::new(),
                ..base.clone()
            },
            VdxpConfig {
                extra_ca_file: Some("/nonexistent/ca.pem".into()),
                ..base.clone()
            },
        ] {
            let e = VdxpClient::new(cfg).expect_err("config error");
            assert_eq!(e.kind, ErrorKind::Config);
            assert_eq!((e.fault, e.retryable), (Fault::Us, false));
        }
        assert!(VdxpClient::new(base).is_ok());
    }

    #[test]
    fn operations_index_their_urls() {
        for (i, op) in ALL_OPS.into_iter().enumerate() {
            assert_eq!(op as usize, i, "{}", op.name());
        }
    }

    #[test]
    fn header_values() {
        assert!(header_safe("000.00.00.H41").is_ok());
        assert!(header_safe(r#"["a","b"]"#).is_ok());
        assert!(header_safe("").is_ok());
        for bad in ["é", "a\nb", " a", "a\t", "\u{7f}"] {
            assert!(header_safe(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(decode_base64("YWJj").expect("b64"), b"abc");
        assert_eq!(decode_base64("YW\r\nJjZA").expect("b64"), b"abcd");
        assert!(decode_base64("not base64!").is_err());
    }
}
