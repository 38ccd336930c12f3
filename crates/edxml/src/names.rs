//! Namespace URIs and element paths of edXML.

/// The QCVN 102:2016 namespace.
pub const QCVN_NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";
/// The XMLDSig namespace, accepted for the signature subtree.
pub const XMLDSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Path of the root element.
pub const ROOT: &str = "/edXML";
/// Path of the envelope.
pub const ENVELOPE: &str = "/edXML/edXMLEnvelope";
/// Path of the envelope header.
pub const HEADER: &str = "/edXML/edXMLEnvelope/edXMLHeader";
/// Path of the message header.
pub const MESSAGE_HEADER: &str = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader";
/// Path of the trace header list.
pub const TRACE_HEADER_LIST: &str = "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList";
/// Path of the business block.
pub const BUSINESS: &str = "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness";
/// Path of the manifest.
pub const MANIFEST: &str = "/edXML/edXMLEnvelope/edXMLBody/edXMLManifest";
/// Path of the attachment container.
pub const ATTACHMENT_ENCODED: &str = "/edXML/AttachmentEncoded";
