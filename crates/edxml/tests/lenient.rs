//! The variants that real senders produce (`edxml.md` §11), each read with the facts intact
//! and a warning where something had to be tolerated.

use lienthong_edxml::message::{EdocMessage, Message, StatusMessage};
use lienthong_edxml::{Finding, check, read, to_vec};

const NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";

fn edoc(xml: &str) -> (EdocMessage, Vec<Finding>) {
    let p = read(xml.as_bytes().to_vec()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    match p.message {
        Message::Edoc(m) => (m, p.findings),
        Message::Status(_) => panic!("expected an edoc"),
    }
}

fn status(xml: &str) -> (StatusMessage, Vec<Finding>) {
    let p = read(xml.as_bytes().to_vec()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    match p.message {
        Message::Status(m) => (m, p.findings),
        Message::Edoc(_) => panic!("expected a status"),
    }
}

fn has(findings: &[Finding], needle: &str) -> bool {
    findings
        .iter()
        .any(|f| f.message.contains(needle) || f.path.contains(needle))
}

/// A minimal edoc in the given spelling: `p` is the prefix (with colon) used on envelope
/// content, `decl` the namespace declarations of the root.
fn minimal_edoc(decl: &str, p: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<{p}edXML {decl}><{p}edXMLEnvelope><{p}edXMLHeader><{p}MessageHeader>
<{p}From><{p}OrganId>000.00.00.H41</{p}OrganId><{p}OrganName>UBND Tỉnh Nghệ An</{p}OrganName></{p}From>
<{p}To><{p}OrganId>000.00.00.G22</{p}OrganId></{p}To>
<{p}Code><{p}CodeNumber>125</{p}CodeNumber><{p}CodeNotation>UBND-KSTT</{p}CodeNotation></{p}Code>
<{p}Subject>V/v thử nghiệm</{p}Subject>
</{p}MessageHeader></{p}edXMLHeader></{p}edXMLEnvelope></{p}edXML>"#
    )
}

#[test]
fn any_prefix_or_none_in_the_qcvn_namespace() {
    for (decl, p) in [
        (format!(r#"xmlns="{NS}""#), ""),
        (format!(r#"xmlns:q="{NS}""#), "q:"),
        (format!(r#"xmlns:edXML="{NS}""#), "edXML:"),
        (String::new(), ""), // no namespace at all
    ] {
        let (m, _) = edoc(&minimal_edoc(&decl, p));
        let d = &m.document;
        assert_eq!(d.subject.as_deref(), Some("V/v thử nghiệm"), "{decl}");
        assert_eq!(
            d.from.as_ref().and_then(|f| f.organ_name.as_deref()),
            Some("UBND Tỉnh Nghệ An")
        );
        assert_eq!(d.to.len(), 1);
        assert_eq!(
            d.code.as_ref().and_then(|c| c.notation.as_deref()),
            Some("UBND-KSTT")
        );
    }
}

#[test]
fn elements_in_another_namespace_are_not_taken_for_ours() {
    let xml = format!(
        r#"<edXML xmlns="{NS}" xmlns:o="urn:other"><edXMLEnvelope><edXMLHeader><MessageHeader>
<o:Subject>not ours</o:Subject><Subject>ours</Subject></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, f) = edoc(&xml);
    assert_eq!(m.document.subject.as_deref(), Some("ours"));
    assert!(has(&f, "namespace urn:other"));
}

#[test]
fn undeclared_prefixes_are_matched_by_local_name() {
    // seen: edXML:AttachmentEncoded outside the envelope's scope, xlink:href undeclared
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXML:edXMLEnvelope xmlns:edXML="{NS}"><edXML:edXMLHeader><edXML:MessageHeader>
<edXML:Subject>S</edXML:Subject></edXML:MessageHeader></edXML:edXMLHeader>
<edXML:edXMLBody><edXML:edXMLManifest version="1.0"><edXML:Reference xlink:href="cid:abc" xlink:role="XLinkRole" xlink:type="simple">
<edXML:AttachmentName>cv.pdf</edXML:AttachmentName></edXML:Reference></edXML:edXMLManifest></edXML:edXMLBody>
</edXML:edXMLEnvelope>
<edXML:AttachmentEncoded><edXML:Attachment><ContentId>abc</ContentId><AttachmentName>cv.pdf</AttachmentName>
<ContentType>application/pdf</ContentType><ContentTransferEncoded>JVBERi0xLjQK</ContentTransferEncoded></edXML:Attachment></edXML:AttachmentEncoded></edXML>"#
    );
    let (m, f) = edoc(&xml);
    assert!(has(&f, "prefix 'edXML' is not declared"), "{f:?}");
    assert_eq!(m.attachments.len(), 1);
    // the manifest id came from xlink:href, the attachment's has no cid: prefix: they pair
    assert_eq!(m.references[0].content_id.as_deref(), Some("cid:abc"));
    assert!(has(&f, "taken from xlink:href"));
    assert!(m.reference_for(&m.attachments[0]).is_some());
    assert_eq!(
        m.attachments[0]
            .content
            .as_ref()
            .and_then(|c| c.decode().ok()),
        Some(b"%PDF-1.4\n".to_vec())
    );
    let c = check(&Message::Edoc(m));
    let about_attachments =
        |f: &&Finding| f.path.contains("Attachment") || f.path.contains("Reference");
    assert!(
        !c.findings
            .iter()
            .filter(about_attachments)
            .any(|f| f.is_error()),
        "{:?}",
        c.findings
    );
    assert_eq!(c.digests[0].as_ref().map(|d| d.bytes).ok(), Some(9));
}

#[test]
fn children_in_any_order_and_blank_optional_elements() {
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader>
<TraceHeaderList><Bussiness><StaffInfo><Mobile>0900</Mobile><Staff>B</Staff></StaffInfo><Paper>0</Paper><BussinessDocType>0</BussinessDocType></Bussiness>
<TraceHeader><Timestamp>2025/03/14 09:15:02</Timestamp><OrganId>null</OrganId></TraceHeader></TraceHeaderList>
<MessageHeader><ToPlaces/><ResponseFor/><Subject>  Chủ đề  </Subject><Code><CodeNotation>X</CodeNotation><CodeNumber>NULL</CodeNumber></Code>
<DocumentId>null</DocumentId><To><OrganName>Sở Y tế</OrganName><OrganId> 000.00.12.H53 </OrganId></To><From><OrganId>000.00.00.H41</OrganId></From>
<SignerInfo></SignerInfo></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, _) = edoc(&xml);
    let d = &m.document;
    assert_eq!(d.subject.as_deref(), Some("Chủ đề"));
    assert_eq!(d.document_id, None);
    assert_eq!(d.code.as_ref().and_then(|c| c.number.clone()), None);
    assert_eq!(
        d.to[0].organ_id.as_ref().map(|o| o.as_str()),
        Some("000.00.12.H53")
    );
    assert!(d.response_for.is_empty(), "an empty ResponseFor is absent");
    assert!(d.signer.is_none() && d.to_places.is_empty());
    assert_eq!(d.trace.len(), 1);
    assert_eq!(
        d.trace[0].organ_id, None,
        "null organisation code is absent"
    );
    let b = d.business.as_ref().expect("business");
    assert_eq!(
        b.staff.as_ref().and_then(|s| s.mobile.as_deref()),
        Some("0900")
    );
    // written back in writer order
    let out = String::from_utf8(to_vec(&Message::Edoc(m.clone()))).expect("utf8");
    let pos = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in\n{out}"));
    assert!(pos("<edXML:MessageHeader>") < pos("<edXML:TraceHeaderList>"));
    assert!(pos("<edXML:From>") < pos("<edXML:To>"));
    assert!(pos("<edXML:BussinessDocType>") < pos("<edXML:Paper>"));
    assert!(pos("<edXML:Staff>B") < pos("<edXML:Mobile>"));
    assert!(!out.contains("ResponseFor") && !out.contains("SignerInfo"));
    // the missing CodeNumber is an error for validation, not for reading
    let c = check(&Message::Edoc(m));
    assert!(
        c.findings
            .iter()
            .any(|f| f.is_error() && f.path.ends_with("Code/CodeNumber"))
    );
}

#[test]
fn raw_and_wrapped_attachments() {
    // a raw PDF (Lạng Sơn style): real MIME type, base64 wrapped at 76 with CR LF, no padding
    let pdf = b"%PDF-1.7\nsome bytes of a document that runs long enough to wrap the base64 text";
    let b64 = lienthong_edxml::Base64Content::encode(pdf);
    let text = String::from_utf8(b64.text().to_vec()).expect("ascii");
    let wrapped: Vec<&str> = text
        .trim_end_matches('=')
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Subject></MessageHeader></edXMLHeader>
<edXMLBody><edXMLManifest><Reference><AttachmentName>cv.pdf</AttachmentName><ContentType>application/pdf</ContentType><ContentId>cid:1</ContentId></Reference></edXMLManifest></edXMLBody></edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentTransferEncoded>
{}
</ContentTransferEncoded><ContentId>1</ContentId><ContentType>application/pdf</ContentType></Attachment></AttachmentEncoded></edXML>"#,
        wrapped.join("\r\n")
    );
    let (m, _) = edoc(&xml);
    let content = m.attachments[0].content.as_ref().expect("content");
    assert_eq!(content.decode().expect("base64"), pdf);
    assert_eq!(
        lienthong_edxml::attachment::unpack_zip_of_one(pdf, false, Some("cv.pdf")).expect("ok"),
        None,
        "raw content is kept as it is"
    );
    // strict form: one unbroken, padded line
    let out = String::from_utf8(to_vec(&Message::Edoc(m))).expect("utf8");
    assert!(
        out.contains(&format!(">{text}</edXML:ContentTransferEncoded>")),
        "{out}"
    );
}

#[test]
fn invalid_base64_is_an_error_naming_the_attachment() {
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Subject></MessageHeader></edXMLHeader></edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentId>cid:1</ContentId><AttachmentName>quyet-dinh.pdf</AttachmentName>
<ContentTransferEncoded>this is not base64!</ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>"#
    );
    let (m, _) = edoc(&xml);
    let c = check(&Message::Edoc(m));
    let f = c
        .findings
        .iter()
        .find(|f| f.path.ends_with("Attachment[1]/ContentTransferEncoded"))
        .expect("a finding on the content");
    assert!(f.is_error());
    assert!(
        f.message.contains("quyet-dinh.pdf") && f.message.contains("base64"),
        "{f}"
    );
    assert!(c.digests[0].is_err());
}

#[test]
fn signatures_of_every_shape_are_accepted() {
    let dsig = r#"<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><Reference URI=""><DigestValue>x</DigestValue></Reference></SignedInfo></Signature>"#;
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Subject></MessageHeader>{dsig}</edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, _) = edoc(&xml);
    assert_eq!(
        m.signature.as_ref().map(|s| s.raw()),
        Some(dsig),
        "kept verbatim"
    );
    let out = String::from_utf8(to_vec(&Message::Edoc(m))).expect("utf8");
    assert!(out.contains(&format!("      {dsig}\r\n    </edXML:edXMLHeader>")));

    // the Lạng Sơn spelling: an empty DigitalSignature in its place
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Subject></MessageHeader><edXML:DigitalSignature xmlns:edXML="{NS}"/></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, f) = edoc(&xml);
    assert!(m.signature.is_none());
    assert!(has(&f, "DigitalSignature"));
    let out = String::from_utf8(to_vec(&Message::Edoc(m))).expect("utf8");
    assert!(!out.contains("Signature"), "never a placeholder signature");
}

#[test]
fn unknown_elements_are_reported_and_not_written() {
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Subject>
<ApplicationType>1</ApplicationType><ResponseForTask><TaskCode>T</TaskCode></ResponseForTask>
<!-- a comment --></MessageHeader><TraceHeaderList id="a1b2c3d4" version="1.0" mustUnderstand="1"/></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, f) = edoc(&xml);
    assert!(has(&f, "MessageHeader/ApplicationType"));
    assert!(has(&f, "MessageHeader/ResponseForTask"));
    assert!(!has(&f, "TaskCode"), "one finding per unknown subtree");
    assert!(has(&f, "comment ignored"));
    let out = String::from_utf8(to_vec(&Message::Edoc(m))).expect("utf8");
    assert!(!out.contains("ApplicationType") && !out.contains("TaskCode") && !out.contains("<!--"));
}

#[test]
fn attachments_in_a_non_standard_container_are_reported() {
    // seen in a public gateway's messages: edXMLAttachments inside the envelope
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Subject></MessageHeader></edXMLHeader>
<edXMLAttachments><Attachment><AttachmentName>b.txt</AttachmentName><AttachmentData>YQ==</AttachmentData></Attachment></edXMLAttachments>
</edXMLEnvelope></edXML>"#
    );
    let (m, f) = edoc(&xml);
    assert!(m.attachments.is_empty());
    let w = f
        .iter()
        .find(|f| f.path.ends_with("/edXMLEnvelope/edXMLAttachments"))
        .expect("a finding on the container");
    assert!(
        w.message.contains("not read") && w.message.contains("AttachmentEncoded"),
        "{w}"
    );
}

#[test]
fn repeated_singletons_keep_the_first() {
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>first</Subject><Subject>second</Subject>
<From><OrganId>A</OrganId></From><From><OrganId>B</OrganId></From></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, f) = edoc(&xml);
    assert_eq!(m.document.subject.as_deref(), Some("first"));
    assert_eq!(
        m.document
            .from
            .as_ref()
            .and_then(|o| o.organ_id.as_ref())
            .map(|o| o.as_str()),
        Some("A")
    );
    assert_eq!(
        f.iter().filter(|f| f.message.contains("repeated")).count(),
        2
    );
}

#[test]
fn escapes_and_line_breaks_in_values() {
    let xml = format!(
        "<edXML xmlns=\"{NS}\"><edXMLEnvelope><edXMLHeader><MessageHeader>\
<Subject>A &amp; B &lt;C&gt; &#273;&#x1EBF;n\r\nd\u{f2}ng 2</Subject><Content><![CDATA[x < y]]></Content>\
</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"
    );
    let (m, _) = edoc(&xml);
    assert_eq!(m.document.subject.as_deref(), Some("A & B <C> đến\ndòng 2"));
    assert_eq!(m.document.content.as_deref(), Some("x < y"));
    let out = String::from_utf8(to_vec(&Message::Edoc(m))).expect("utf8");
    assert!(out.contains("<edXML:Subject>A &amp; B &lt;C&gt; đến\r\ndòng 2</edXML:Subject>"));
    assert!(out.contains("<edXML:Content>x &lt; y</edXML:Content>"));
}

#[test]
fn bom_doctype_and_encoding_case() {
    let xml = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE edXML>\n{}",
        minimal_edoc(&format!("xmlns=\"{NS}\""), "")
            .split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default()
    );
    let (m, f) = edoc(&xml);
    assert_eq!(m.document.subject.as_deref(), Some("V/v thử nghiệm"));
    assert!(has(&f, "DOCTYPE ignored"));
    assert!(
        !has(&f, "before the XML declaration"),
        "a BOM is not stray: {f:?}"
    );
}

#[test]
fn lenient_values_are_kept_with_warnings() {
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>vxp.saas.02</OrganId></From><To><OrganId>H37.02.02</OrganId></To>
<Code>12/QĐ-UBND</Code><PromulgationInfo><PromulgationDate>30/10/2020</PromulgationDate></PromulgationInfo>
<DocumentType><Type>18</Type><TypeName>Công văn</TypeName></DocumentType><SteeringType>0</SteeringType>
<Subject>S</Subject><DueDate>hôm nay</DueDate></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, f) = edoc(&xml);
    let d = &m.document;
    let pd = d
        .promulgation
        .as_ref()
        .and_then(|p| p.date.as_ref())
        .expect("date kept");
    assert_eq!(pd.as_str(), "30/10/2020");
    assert_eq!(
        pd.parse().map(|x| x.to_string()),
        Some("2020-10-30".to_owned())
    );
    assert_eq!(
        d.code.as_ref().and_then(|c| c.number.as_deref()),
        Some("12")
    );
    assert_eq!(
        d.code.as_ref().and_then(|c| c.notation.as_deref()),
        Some("QĐ-UBND")
    );
    assert!(has(&f, "Code written as one string"));
    let c = check(&Message::Edoc(m));
    let w = |p: &str| {
        c.findings
            .iter()
            .any(|f| !f.is_error() && f.path.ends_with(p))
    };
    assert!(w("PromulgationInfo/PromulgationDate"));
    assert!(w("DueDate"));
    assert!(w("From/OrganId") && w("To[1]/OrganId"));
    assert!(
        !c.findings.iter().any(|f| f.path.ends_with("SteeringType")),
        "0 is accepted"
    );
}

#[test]
fn status_variants() {
    let xml = format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<StatusCode> 3 </StatusCode><Timestamp>2025-03-14T10:02:47+07:00</Timestamp>
<ResponseFor><DocumentId>9fbfbad2-f1f8-4256-a2eb-50fb1061cddb</DocumentId><Code>null</Code></ResponseFor>
<From><OrganId>000.00.00.G22</OrganId></From></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let (m, _) = status(&xml);
    let s = &m.status;
    let code = s.status_code.as_ref().expect("code");
    assert_eq!(code.as_str(), "3");
    assert_eq!(code.normalized().as_deref(), Some("03"));
    let rf = s.response_for.as_ref().expect("ResponseFor");
    assert_eq!(rf.code, None);
    assert_eq!(
        rf.document_id.as_ref().map(|d| d.as_str()),
        Some("9fbfbad2-f1f8-4256-a2eb-50fb1061cddb")
    );
    let c = check(&Message::Status(m));
    assert!(c.findings.iter().all(|f| !f.is_error()), "{:?}", c.findings);
    assert!(c.findings.iter().any(|f| f.message.contains("two digits")));
    assert!(c.findings.iter().any(|f| f.path.ends_with("Timestamp")));
}
