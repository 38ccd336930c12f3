//! Composition of new messages (`edxml.md` §12 rules 6–11, 13, 14): the two annotated
//! examples of §13 composed from their inputs (read back fact for fact, and compared with
//! the page's text), every refusal rule with its path, the business types, validation of
//! what is composed, and arbitrary inputs composing and reading back equal.

use lienthong_edxml::attachment::unpack_zip_of_one;
use lienthong_edxml::compose::response_for;
use lienthong_edxml::message::EdocMessage;
use lienthong_edxml::{
    ComposeError, Composed, Message, NewAttachment, NewBusiness, NewEdoc, NewStatus, check,
    compose_edoc, compose_status, read,
};
use lienthong_model::{
    BusinessDocType, BusinessDocumentInfo, DocumentId, KnownStatus, LenientDate, OrganId,
    Organisation, Receiver, ReplacementInfo, ResponseFor, SignerInfo, StaffInfo, StatusReport,
};
use proptest::prelude::*;
use std::io::Read as _;

/// §13.1 of `edxml.md`, annotations removed (the base64 is shortened there).
const EXAMPLE_13_1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>000.00.00.H41</edXML:OrganId>
          <edXML:OrganizationInCharge>UBND Tỉnh Nghệ An</edXML:OrganizationInCharge>
          <edXML:OrganName>UBND Tỉnh Nghệ An</edXML:OrganName>
          <edXML:OrganAdd>Số 03 đường Trường Thi, TP Vinh, Nghệ An</edXML:OrganAdd>
          <edXML:Email>vanthu@example.gov.vn</edXML:Email>
          <edXML:Telephone>0238 3840000</edXML:Telephone>
          <edXML:Fax>0238 3840001</edXML:Fax>
          <edXML:Website>example.gov.vn</edXML:Website>
        </edXML:From>
        <edXML:To>
          <edXML:OrganId>000.00.00.G22</edXML:OrganId>
          <edXML:OrganizationInCharge>Văn phòng Chính phủ</edXML:OrganizationInCharge>
          <edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName>
        </edXML:To>
        <edXML:DocumentId>000.00.00.H41,2025/03/14,125/UBND-KSTT</edXML:DocumentId>
        <edXML:Code>
          <edXML:CodeNumber>125</edXML:CodeNumber>
          <edXML:CodeNotation>UBND-KSTT</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Nghệ An</edXML:Place>
          <edXML:PromulgationDate>2025/03/14</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeDetail>0</edXML:TypeDetail>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>V/v báo cáo tình hình giải quyết thủ tục hành chính quý I</edXML:Subject>
        <edXML:Content>Báo cáo số liệu quý I năm 2025</edXML:Content>
        <edXML:SignerInfo>
          <edXML:Competence>KT. CHỦ TỊCH</edXML:Competence>
          <edXML:Position>Phó Chủ tịch</edXML:Position>
          <edXML:FullName>Nguyễn Văn A</edXML:FullName>
        </edXML:SignerInfo>
        <edXML:DueDate>2025/03/28</edXML:DueDate>
        <edXML:OtherInfo>
          <edXML:Priority>0</edXML:Priority>
          <edXML:SphereOfPromulgation>Liên thông văn bản quốc gia</edXML:SphereOfPromulgation>
          <edXML:TyperNotation>KSTT</edXML:TyperNotation>
          <edXML:PromulgationAmount>1</edXML:PromulgationAmount>
          <edXML:PageAmount>3</edXML:PageAmount>
          <edXML:Direction>false</edXML:Direction>
        </edXML:OtherInfo>
        <edXML:SteeringType>1</edXML:SteeringType>
        <edXML:ToPlaces>
          <edXML:Place>Như trên</edXML:Place>
          <edXML:Place>Lưu: VT</edXML:Place>
        </edXML:ToPlaces>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader>
          <edXML:OrganId>000.00.00.H41</edXML:OrganId>
          <edXML:Timestamp>2025/03/14 09:15:02</edXML:Timestamp>
        </edXML:TraceHeader>
        <edXML:Bussiness>
          <edXML:BussinessDocType>0</edXML:BussinessDocType>
          <edXML:BussinessDocReason>Văn bản điện tử mới</edXML:BussinessDocReason>
          <edXML:Paper>0</edXML:Paper>
          <edXML:StaffInfo>
            <edXML:Department>Văn thư</edXML:Department>
            <edXML:Staff>Trần Thị B</edXML:Staff>
            <edXML:Email>vanthu@example.gov.vn</edXML:Email>
            <edXML:Mobile>84900000000</edXML:Mobile>
          </edXML:StaffInfo>
        </edXML:Bussiness>
      </edXML:TraceHeaderList>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference>
          <edXML:ContentId>cid:5b0c7a52-3f0e-4a8e-9d51-2f6f2c1b7e90</edXML:ContentId>
          <edXML:ContentType>application/zip</edXML:ContentType>
          <edXML:Description>125-UBND-KSTT.pdf</edXML:Description>
          <edXML:AttachmentName>125-UBND-KSTT.pdf</edXML:AttachmentName>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentId>cid:5b0c7a52-3f0e-4a8e-9d51-2f6f2c1b7e90</ContentId>
      <AttachmentName>125-UBND-KSTT.pdf</AttachmentName>
      <Description>125-UBND-KSTT.pdf</Description>
      <ContentType>application/zip</ContentType>
      <edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">UEsDBBQACAgIA…</edXML:ContentTransferEncoded>
    </Attachment>
  </AttachmentEncoded>
</edXML>
"#;

/// §13.2 of `edxml.md`, annotations removed.
const EXAMPLE_13_2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>000.00.00.G22</edXML:OrganId>
          <edXML:OrganizationInCharge>Văn phòng Chính phủ</edXML:OrganizationInCharge>
          <edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName>
          <edXML:OrganAdd>Số 1 Hoàng Hoa Thám, Ba Đình, Hà Nội</edXML:OrganAdd>
          <edXML:Email>vanthu@example.gov.vn</edXML:Email>
          <edXML:Telephone>024 00000000</edXML:Telephone>
          <edXML:Fax>024 00000001</edXML:Fax>
          <edXML:Website>example.gov.vn</edXML:Website>
        </edXML:From>
        <edXML:ResponseFor>
          <edXML:OrganId>000.00.00.H41</edXML:OrganId>
          <edXML:Code>125/UBND-KSTT</edXML:Code>
          <edXML:DocumentId>000.00.00.H41,2025/03/14,125/UBND-KSTT</edXML:DocumentId>
          <edXML:PromulgationDate>2025/03/14</edXML:PromulgationDate>
        </edXML:ResponseFor>
        <edXML:StaffInfo>
          <edXML:Department>Phòng Văn thư - Lưu trữ</edXML:Department>
          <edXML:Staff>Lê Văn C</edXML:Staff>
          <edXML:Email>vanthu@example.gov.vn</edXML:Email>
          <edXML:Mobile>84900000001</edXML:Mobile>
        </edXML:StaffInfo>
        <edXML:StatusCode>03</edXML:StatusCode>
        <edXML:Description>Đã tiếp nhận, vào sổ văn bản đến</edXML:Description>
        <edXML:Timestamp>2025/03/14 10:02:47</edXML:Timestamp>
      </edXML:MessageHeader>
    </edXML:edXMLHeader>
  </edXML:edXMLEnvelope>
</edXML>
"#;

const NS_LINE: &str =
    "<edXML:ContentTransferEncoded xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">";
const CID_13_1: &str = "5b0c7a52-3f0e-4a8e-9d51-2f6f2c1b7e90";

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

fn oid(s: &str) -> OrganId {
    OrganId::parse_lenient(s).expect("organisation code")
}

fn did(s: &str) -> DocumentId {
    DocumentId::parse_lenient(s).expect("document id")
}

fn date(y: i16, m: i8, d: i8) -> jiff::civil::Date {
    jiff::civil::date(y, m, d)
}

/// A Vietnamese local time as a timestamp.
fn vn(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> jiff::Timestamp {
    jiff::tz::offset(7)
        .to_timestamp(jiff::civil::date(y, mo, d).at(h, mi, s, 0))
        .expect("timestamp")
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// Deterministic ids: the §13.1 id first, then a counter.
fn ids() -> impl FnMut() -> String {
    let mut n = 0u32;
    move || {
        n += 1;
        if n == 1 {
            CID_13_1.to_owned()
        } else {
            format!("00000000-0000-4000-8000-{n:012x}")
        }
    }
}

fn nghe_an() -> Organisation {
    Organisation {
        organ_id: Some(oid("000.00.00.H41")),
        organization_in_charge: some("UBND Tỉnh Nghệ An"),
        organ_name: some("UBND Tỉnh Nghệ An"),
        organ_add: some("Số 03 đường Trường Thi, TP Vinh, Nghệ An"),
        email: some("vanthu@example.gov.vn"),
        telephone: some("0238 3840000"),
        fax: some("0238 3840001"),
        website: some("example.gov.vn"),
    }
}

fn vpcp_full() -> Organisation {
    Organisation {
        organ_id: Some(oid("000.00.00.G22")),
        organization_in_charge: some("Văn phòng Chính phủ"),
        organ_name: some("Văn phòng Chính phủ"),
        organ_add: some("Số 1 Hoàng Hoa Thám, Ba Đình, Hà Nội"),
        email: some("vanthu@example.gov.vn"),
        telephone: some("024 00000000"),
        fax: some("024 00000001"),
        website: some("example.gov.vn"),
    }
}

fn vpcp_recipient() -> Organisation {
    Organisation {
        organ_id: Some(oid("000.00.00.G22")),
        organization_in_charge: some("Văn phòng Chính phủ"),
        organ_name: some("Văn phòng Chính phủ"),
        ..Organisation::default()
    }
}

fn pdf() -> Vec<u8> {
    let mut v = "%PDF-1.4\n% Báo cáo quý I\n".as_bytes().to_vec();
    v.extend((0..4000u32).map(|i| (i * 31 % 251) as u8));
    v
}

/// The inputs of §13.1.
fn edoc_13_1() -> NewEdoc {
    NewEdoc {
        from: nghe_an(),
        to: vec![vpcp_recipient()],
        code_number: "125".into(),
        code_notation: "UBND-KSTT".into(),
        place: "Nghệ An".into(),
        promulgation_date: date(2025, 3, 14),
        type_code: "1".into(),
        type_name: "Công văn".into(),
        subject: "V/v báo cáo tình hình giải quyết thủ tục hành chính quý I".into(),
        content: some("Báo cáo số liệu quý I năm 2025"),
        signer: Some(SignerInfo {
            competence: some("KT. CHỦ TỊCH"),
            position: some("Phó Chủ tịch"),
            full_name: some("Nguyễn Văn A"),
        }),
        due_date: Some(date(2025, 3, 28)),
        priority: "0".into(),
        sphere_of_promulgation: "Liên thông văn bản quốc gia".into(),
        typer_notation: "KSTT".into(),
        promulgation_amount: Some(1),
        page_amount: Some(3),
        steering_type: None,
        to_places: vec!["Như trên".into(), "Lưu: VT".into()],
        staff: Some(StaffInfo {
            department: some("Văn thư"),
            staff: some("Trần Thị B"),
            email: some("vanthu@example.gov.vn"),
            mobile: some("84900000000"),
        }),
        business: NewBusiness::default(),
        attachments: vec![NewAttachment {
            name: "125-UBND-KSTT.pdf".into(),
            description: None,
            content: pdf(),
        }],
    }
}

fn now_13_1() -> jiff::Timestamp {
    vn(2025, 3, 14, 9, 15, 2)
}

/// The inputs of §13.2.
fn status_13_2() -> NewStatus {
    NewStatus {
        from: vpcp_full(),
        response_for: ResponseFor {
            organ_id: Some(oid("000.00.00.H41")),
            code: some("125/UBND-KSTT"),
            document_id: Some(did("000.00.00.H41,2025/03/14,125/UBND-KSTT")),
            promulgation_date: LenientDate::new("2025/03/14"),
        },
        staff: Some(StaffInfo {
            department: some("Phòng Văn thư - Lưu trữ"),
            staff: some("Lê Văn C"),
            email: some("vanthu@example.gov.vn"),
            mobile: some("84900000001"),
        }),
        code: KnownStatus::Accepted,
        description: some("Đã tiếp nhận, vào sổ văn bản đến"),
    }
}

fn now_13_2() -> jiff::Timestamp {
    vn(2025, 3, 14, 10, 2, 47)
}

fn composed(doc: &NewEdoc) -> Composed {
    compose_edoc(doc, now_13_1(), &mut ids()).unwrap_or_else(|e| panic!("{e}: {:#?}", e.findings))
}

fn read_edoc(bytes: &[u8]) -> EdocMessage {
    match read(bytes.to_vec()).expect("read back").message {
        Message::Edoc(m) => m,
        Message::Status(_) => panic!("read a status"),
    }
}

fn read_status(bytes: &[u8]) -> StatusReport {
    match read(bytes.to_vec()).expect("read back").message {
        Message::Status(m) => m.status,
        Message::Edoc(_) => panic!("read an edoc"),
    }
}

/// The file bytes of attachment `i`, decoded and unzipped as a receiver does.
fn file_bytes(m: &EdocMessage, i: usize) -> Vec<u8> {
    let a = &m.attachments[i];
    let decoded = a
        .content
        .as_ref()
        .expect("content")
        .decode()
        .expect("base64");
    unpack_zip_of_one(&decoded, true, a.attachment_name.as_deref())
        .expect("unzip")
        .expect("zip of one")
}

/// The single entry of attachment `i`: (name, compression method is deflate).
fn zip_entry(m: &EdocMessage, i: usize) -> (String, bool, Vec<u8>) {
    let decoded = m.attachments[i]
        .content
        .as_ref()
        .expect("content")
        .decode()
        .expect("base64");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(decoded)).expect("zip");
    assert_eq!(archive.len(), 1);
    let mut e = archive.by_index(0).expect("entry");
    let name = e.name().expect("name").to_string();
    let deflated = e.compression() == zip::CompressionMethod::Deflated;
    let mut out = Vec::new();
    e.read_to_end(&mut out).expect("inflate");
    (name, deflated, out)
}

fn refused(r: Result<Composed, ComposeError>) -> ComposeError {
    match r {
        Ok(c) => panic!(
            "expected a refusal, composed:\n{}",
            String::from_utf8_lossy(&c.bytes)
        ),
        Err(e) => {
            assert!(e.findings.iter().any(|f| f.is_error()), "{e:?}");
            e
        }
    }
}

/// Asserts that an error finding has exactly this path (relative to `/edXML/`).
fn assert_error_at(e: &ComposeError, path: &str) {
    let full = format!("/edXML/{path}");
    assert!(
        e.findings.iter().any(|f| f.is_error() && f.path == full),
        "no error at {full}: {:#?}",
        e.findings
    );
}

const MH: &str = "edXMLEnvelope/edXMLHeader/MessageHeader";
const BUS: &str = "edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness";

#[test]
fn example_13_1_reads_back_fact_for_fact() {
    let input = edoc_13_1();
    let c = composed(&input);
    assert!(c.warnings.is_empty(), "{:#?}", c.warnings);
    assert_eq!(
        c.document_id.as_str(),
        "000.00.00.H41,2025/03/14,125/UBND-KSTT"
    );
    let m = read_edoc(&c.bytes);
    let d = &m.document;
    assert_eq!(d.from.as_ref(), Some(&input.from));
    assert_eq!(d.to, input.to);
    assert_eq!(d.document_id.as_ref(), Some(&c.document_id));
    let code = d.code.as_ref().expect("code");
    assert_eq!(code.number.as_deref(), Some("125"));
    assert_eq!(code.notation.as_deref(), Some("UBND-KSTT"));
    let p = d.promulgation.as_ref().expect("promulgation");
    assert_eq!(p.place.as_deref(), Some("Nghệ An"));
    assert_eq!(p.date.as_ref().map(|x| x.as_str()), Some("2025/03/14"));
    let t = d.document_type.as_ref().expect("type");
    assert_eq!(
        (
            t.type_code.as_deref(),
            t.type_detail.as_deref(),
            t.type_name.as_deref()
        ),
        (Some("1"), Some("0"), Some("Công văn"))
    );
    assert_eq!(d.subject.as_deref(), Some(input.subject.as_str()));
    assert_eq!(d.content.as_deref(), input.content.as_deref());
    assert_eq!(d.signer, input.signer);
    assert_eq!(d.due_date.as_ref().map(|x| x.as_str()), Some("2025/03/28"));
    let o = d.other_info.as_ref().expect("other info");
    assert_eq!(o.priority.as_deref(), Some("0"));
    assert_eq!(
        o.sphere_of_promulgation.as_deref(),
        Some("Liên thông văn bản quốc gia")
    );
    assert_eq!(o.typer_notation.as_deref(), Some("KSTT"));
    assert_eq!(o.promulgation_amount.as_deref(), Some("1"));
    assert_eq!(o.page_amount.as_deref(), Some("3"));
    assert_eq!(o.direction.as_deref(), Some("false"));
    assert!(o.appendixes.is_empty());
    assert!(d.response_for.is_empty());
    assert_eq!(d.steering_type.as_deref(), Some("1"));
    assert_eq!(d.to_places, input.to_places);
    assert_eq!(d.trace.len(), 1);
    assert_eq!(d.trace[0].organ_id, Some(oid("000.00.00.H41")));
    assert_eq!(
        d.trace[0].timestamp.as_ref().map(|x| x.as_str()),
        Some("2025/03/14 09:15:02")
    );
    let b = d.business.as_ref().expect("business");
    assert_eq!(b.document_id, None);
    assert_eq!(b.doc_type.as_deref(), Some("0"));
    assert_eq!(b.reason.as_deref(), Some("Văn bản điện tử mới"));
    assert_eq!(b.paper.as_deref(), Some("0"));
    assert_eq!(b.staff, input.staff);
    assert_eq!(b.document_info, None);
    assert!(b.replacements.is_empty());
    // Attachment: same order and values in both lists, zip of one deflated `<uuid>.pdf`.
    assert_eq!(m.references.len(), 1);
    assert_eq!(m.attachments.len(), 1);
    let (r, a) = (&m.references[0], &m.attachments[0]);
    let cid = format!("cid:{CID_13_1}");
    assert_eq!(r.content_id.as_deref(), Some(cid.as_str()));
    assert_eq!(a.content_id.as_deref(), Some(cid.as_str()));
    for (name, desc, ty) in [
        (&r.attachment_name, &r.description, &r.content_type),
        (&a.attachment_name, &a.description, &a.content_type),
    ] {
        assert_eq!(name.as_deref(), Some("125-UBND-KSTT.pdf"));
        assert_eq!(desc.as_deref(), Some("125-UBND-KSTT.pdf"));
        assert_eq!(ty.as_deref(), Some("application/zip"));
    }
    assert_eq!(m.reference_for(a), Some(r));
    assert_eq!(file_bytes(&m, 0), input.attachments[0].content);
    let (entry, deflated, inflated) = zip_entry(&m, 0);
    assert_eq!(entry, format!("{CID_13_1}.pdf"));
    assert!(deflated);
    assert_eq!(inflated, input.attachments[0].content);
    assert!(m.signature.is_none());
    assert_eq!(m.manifest_version.as_deref(), Some("1.0"));
}

#[test]
fn example_13_1_matches_the_page_line_for_line() {
    let c = composed(&edoc_13_1());
    let written = String::from_utf8(c.bytes).expect("utf-8");
    let expected = crlf(EXAMPLE_13_1);
    let w: Vec<&str> = written.split("\r\n").collect();
    let e: Vec<&str> = expected.split("\r\n").collect();
    assert_eq!(w.len(), e.len(), "{written}");
    for (i, (w, e)) in w.iter().zip(&e).enumerate() {
        if e.trim_start().starts_with(NS_LINE) {
            // The page shortens the base64; the content starts like an SDK zip.
            let indent = "      ";
            let body = w
                .strip_prefix(indent)
                .and_then(|x| x.strip_prefix(NS_LINE))
                .and_then(|x| x.strip_suffix("</edXML:ContentTransferEncoded>"))
                .unwrap_or_else(|| panic!("line {}: {w}", i + 1));
            assert!(body.starts_with("UEsDB"), "{body}");
            assert!(!body.contains(char::is_whitespace));
        } else {
            assert_eq!(w, e, "line {}", i + 1);
        }
    }
    assert!(written.ends_with("</edXML>\r\n"));
}

#[test]
fn example_13_2_is_byte_exact() {
    let c = compose_status(&status_13_2(), now_13_2()).expect("composed");
    assert!(c.warnings.is_empty(), "{:#?}", c.warnings);
    let expected = crlf(EXAMPLE_13_2);
    assert!(
        c.bytes == expected.as_bytes(),
        "written:\n{}\nexpected:\n{expected}",
        String::from_utf8_lossy(&c.bytes)
    );
    assert_eq!(
        c.document_id.as_str(),
        "000.00.00.H41,2025/03/14,125/UBND-KSTT"
    );
}

#[test]
fn example_13_2_reads_back_and_answers_13_1() {
    let input = status_13_2();
    let c = compose_status(&input, now_13_2()).expect("composed");
    let s = read_status(&c.bytes);
    assert_eq!(s.from.as_ref(), Some(&input.from));
    assert_eq!(s.response_for.as_ref(), Some(&input.response_for));
    assert_eq!(s.staff, input.staff);
    assert_eq!(s.status_code.as_ref().map(|x| x.as_str()), Some("03"));
    assert_eq!(s.description, input.description);
    assert_eq!(
        s.timestamp.as_ref().map(|x| x.as_str()),
        Some("2025/03/14 10:02:47")
    );
    assert!(s.trace.is_empty());
    // The ResponseFor of §13.2 is what `response_for` derives from the read §13.1 document.
    let edoc = read_edoc(&composed(&edoc_13_1()).bytes);
    let counterpart = edoc.document.from.as_ref().and_then(|f| f.organ_id.clone());
    let rf = response_for(&edoc.document, &counterpart.expect("sender"));
    assert_eq!(rf, input.response_for);
}

#[test]
fn timestamps_are_vietnamese_local_time() {
    // 17:30 UTC on the 13th is 00:30 on the 14th in Hà Nội: the 14th is not in the future.
    let now = jiff::Timestamp::from_second(1_741_887_000).expect("ts"); // 2025-03-13T17:30:00Z
    let c = compose_edoc(&edoc_13_1(), now, &mut ids()).expect("composed");
    let m = read_edoc(&c.bytes);
    assert_eq!(
        m.document.trace[0].timestamp.as_ref().map(|x| x.as_str()),
        Some("2025/03/14 00:30:00")
    );
    let s = compose_status(&status_13_2(), now).expect("status");
    assert_eq!(
        read_status(&s.bytes).timestamp.as_ref().map(|x| x.as_str()),
        Some("2025/03/14 00:30:00")
    );
    // One second earlier it is still the 13th there.
    let before = jiff::Timestamp::from_second(1_741_885_199).expect("ts");
    let e = refused(compose_edoc(&edoc_13_1(), before, &mut ids()));
    assert_error_at(&e, &format!("{MH}/PromulgationInfo/PromulgationDate"));
}

type Mutation = fn(&mut NewEdoc);

#[test]
fn each_refusal_rule_names_its_path() {
    let cases: Vec<(&str, Mutation, String)> = vec![
        (
            "empty subject",
            |d| d.subject = "  ".into(),
            format!("{MH}/Subject"),
        ),
        (
            "empty number",
            |d| d.code_number.clear(),
            format!("{MH}/Code/CodeNumber"),
        ),
        (
            "null number",
            |d| d.code_number = "NULL".into(),
            format!("{MH}/Code/CodeNumber"),
        ),
        (
            "empty notation",
            |d| d.code_notation = "\t".into(),
            format!("{MH}/Code/CodeNotation"),
        ),
        (
            "no own code",
            |d| d.from.organ_id = None,
            format!("{MH}/From/OrganId"),
        ),
        (
            "own code not strict",
            |d| d.from.organ_id = Some(oid("28.22.H17")),
            format!("{MH}/From/OrganId"),
        ),
        (
            "own code of group I",
            |d| d.from.organ_id = Some(oid("000.21.36.I03")),
            format!("{MH}/From/OrganId"),
        ),
        (
            "own e-mail missing",
            |d| d.from.email = None,
            format!("{MH}/From/Email"),
        ),
        (
            "own fax blank",
            |d| d.from.fax = some(" "),
            format!("{MH}/From/Fax"),
        ),
        (
            "own managing body missing",
            |d| d.from.organization_in_charge = None,
            format!("{MH}/From/OrganizationInCharge"),
        ),
        ("no recipient", |d| d.to.clear(), format!("{MH}/To")),
        (
            "recipient without code",
            |d| d.to[0].organ_id = None,
            format!("{MH}/To[1]/OrganId"),
        ),
        (
            "recipient twice",
            |d| d.to.push(vpcp_recipient()),
            format!("{MH}/To[2]/OrganId"),
        ),
        (
            "type 3",
            |d| d.type_code = "3".into(),
            format!("{MH}/DocumentType/Type"),
        ),
        (
            "type 18",
            |d| d.type_code = "18".into(),
            format!("{MH}/DocumentType/Type"),
        ),
        (
            "empty type name",
            |d| d.type_name.clear(),
            format!("{MH}/DocumentType/TypeName"),
        ),
        (
            "priority 5",
            |d| d.priority = "5".into(),
            format!("{MH}/OtherInfo/Priority"),
        ),
        (
            "priority empty",
            |d| d.priority.clear(),
            format!("{MH}/OtherInfo/Priority"),
        ),
        (
            "future promulgation",
            |d| d.promulgation_date = date(2025, 3, 15),
            format!("{MH}/PromulgationInfo/PromulgationDate"),
        ),
        (
            "empty place",
            |d| d.place.clear(),
            format!("{MH}/PromulgationInfo/Place"),
        ),
        (
            "empty sphere",
            |d| d.sphere_of_promulgation.clear(),
            format!("{MH}/OtherInfo/SphereOfPromulgation"),
        ),
        (
            "empty typer notation",
            |d| d.typer_notation.clear(),
            format!("{MH}/OtherInfo/TyperNotation"),
        ),
        (
            "steering 0",
            |d| d.steering_type = some("0"),
            format!("{MH}/SteeringType"),
        ),
        (
            "revocation without target",
            |d| d.business = NewBusiness::new(BusinessDocType::Revocation),
            format!("{BUS}/DocumentId"),
        ),
        (
            "update without target",
            |d| d.business = NewBusiness::new(BusinessDocType::Update),
            format!("{BUS}/DocumentId"),
        ),
        (
            "replacement without target",
            |d| d.business = NewBusiness::new(BusinessDocType::Replacement),
            format!("{BUS}/ReplacementInfoList"),
        ),
        (
            "no attachment",
            |d| d.attachments.clear(),
            "edXMLEnvelope/edXMLBody/edXMLManifest".to_owned(),
        ),
        (
            "empty attachment name",
            |d| d.attachments[0].name = " ".into(),
            "AttachmentEncoded/Attachment[1]/AttachmentName".to_owned(),
        ),
        (
            "control character",
            |d| d.subject = "báo cáo\u{1}".into(),
            format!("{MH}/Subject"),
        ),
    ];
    for (what, mutate, path) in cases {
        let mut d = edoc_13_1();
        mutate(&mut d);
        let e = refused(compose_edoc(&d, now_13_1(), &mut ids()));
        assert_error_at(&e, &path);
        let shown = e.to_string();
        assert!(shown.contains(&format!("/edXML/{path}")), "{what}: {shown}");
    }
}

#[test]
fn every_refusal_is_reported_at_once() {
    let mut d = edoc_13_1();
    d.subject.clear();
    d.code_number.clear();
    d.priority = "9".into();
    let e = refused(compose_edoc(&d, now_13_1(), &mut ids()));
    assert_eq!(e.errors().count(), 3, "{:#?}", e.findings);
    let shown = e.to_string();
    assert!(
        shown.contains("CodeNumber") && shown.contains("2 more errors"),
        "{shown}"
    );
}

#[test]
fn status_refusals_name_their_path() {
    type S = fn(&mut NewStatus);
    let cases: Vec<(S, String)> = vec![
        (
            |s| s.response_for.organ_id = None,
            format!("{MH}/ResponseFor/OrganId"),
        ),
        (
            |s| s.response_for.code = None,
            format!("{MH}/ResponseFor/Code"),
        ),
        (
            |s| s.response_for.code = some("null"),
            format!("{MH}/ResponseFor/Code"),
        ),
        (
            |s| s.response_for.document_id = None,
            format!("{MH}/ResponseFor/DocumentId"),
        ),
        (
            |s| s.from.organ_id = Some(oid("H56.14")),
            format!("{MH}/From/OrganId"),
        ),
        (|s| s.from.website = None, format!("{MH}/From/Website")),
    ];
    for (mutate, path) in cases {
        let mut s = status_13_2();
        mutate(&mut s);
        let e = refused(compose_status(&s, now_13_2()));
        assert_error_at(&e, &path);
    }
}

#[test]
fn status_promulgation_date_is_optional() {
    let mut s = status_13_2();
    s.response_for.promulgation_date = None;
    let c = compose_status(&s, now_13_2()).expect("composed");
    let rf = read_status(&c.bytes).response_for.expect("response for");
    assert_eq!(rf.promulgation_date, None);
    assert!(!String::from_utf8_lossy(&c.bytes).contains("PromulgationDate"));
}

#[test]
fn revocation_carries_the_target_in_both_places() {
    let target = did("000.00.00.H41,2025/03/10,118/UBND-KSTT");
    for t in [BusinessDocType::Revocation, BusinessDocType::Update] {
        let mut d = edoc_13_1();
        d.business = NewBusiness::acting_on(t, target.clone());
        if t == BusinessDocType::Update {
            d.business.document_info = Some(BusinessDocumentInfo {
                document_info: some("1"),
                document_receiver: some("1"),
                receivers: vec![Receiver {
                    organ_id: Some(oid("000.00.00.H14")),
                    receiver_type: some("1"),
                }],
            });
        }
        let c = composed(&d);
        assert_eq!(c.document_id, target);
        let m = read_edoc(&c.bytes);
        assert_eq!(m.document.document_id.as_ref(), Some(&target));
        let b = m.document.business.expect("business");
        assert_eq!(b.document_id.as_ref(), Some(&target));
        assert_eq!(b.doc_type(), Some(t));
        assert_eq!(b.reason.as_deref(), Some(t.default_reason()));
        assert_eq!(b.document_info, d.business.document_info);
    }
}

#[test]
fn replacement_is_a_document_of_its_own() {
    let target = did("000.00.00.H41,2025/03/10,118/UBND-KSTT");
    let mut d = edoc_13_1();
    d.business = NewBusiness::acting_on(BusinessDocType::Replacement, target.clone());
    d.business.reason = some("Thay thế văn bản số 118");
    let c = composed(&d);
    assert_eq!(
        c.document_id.as_str(),
        "000.00.00.H41,2025/03/14,125/UBND-KSTT"
    );
    let b = read_edoc(&c.bytes).document.business.expect("business");
    assert_eq!(b.document_id, None);
    assert_eq!(b.doc_type.as_deref(), Some("3"));
    assert_eq!(b.reason.as_deref(), Some("Thay thế văn bản số 118"));
    assert_eq!(
        b.replacements,
        vec![ReplacementInfo {
            document_id: Some(target.clone()),
            organ_ids: vec![oid("000.00.00.G22")],
        }]
    );
    // Given explicitly: written as given, with a warning when the target is not listed.
    let other = ReplacementInfo {
        document_id: Some(did("x-1")),
        organ_ids: vec![oid("000.00.00.H14"), oid("28.22.H17")],
    };
    d.business.replacements = vec![other.clone()];
    let c = composed(&d);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.path.ends_with("Bussiness/ReplacementInfoList")),
        "{:#?}",
        c.warnings
    );
    let b = read_edoc(&c.bytes).document.business.expect("business");
    assert_eq!(b.replacements, vec![other]);
}

#[test]
fn composed_messages_validate_without_errors() {
    let target = did("000.00.00.H41,2025/03/10,118/UBND-KSTT");
    for t in [
        BusinessDocType::New,
        BusinessDocType::Revocation,
        BusinessDocType::Update,
        BusinessDocType::Replacement,
    ] {
        let mut d = edoc_13_1();
        if t != BusinessDocType::New {
            d.business = NewBusiness::acting_on(t, target.clone());
        }
        let c = composed(&d);
        let parsed = read(c.bytes).expect("read");
        assert!(parsed.findings.is_empty(), "{t:?}: {:#?}", parsed.findings);
        let checked = check(&parsed.message);
        assert!(
            checked.findings.is_empty(),
            "{t:?}: {:#?}",
            checked.findings
        );
        assert!(checked.digests.iter().all(Result::is_ok));
    }
    for code in KnownStatus::ALL {
        let mut s = status_13_2();
        s.code = code;
        let c = compose_status(&s, now_13_2()).expect("status");
        let parsed = read(c.bytes).expect("read");
        assert!(
            parsed.findings.is_empty(),
            "{code:?}: {:#?}",
            parsed.findings
        );
        let checked = check(&parsed.message);
        assert!(
            checked.findings.is_empty(),
            "{code:?}: {:#?}",
            checked.findings
        );
        match parsed.message {
            Message::Status(m) => {
                assert_eq!(m.status.status_code.and_then(|c| c.known()), Some(code))
            }
            Message::Edoc(_) => panic!("edoc"),
        }
    }
}

#[test]
fn lengths_warn_but_never_truncate() {
    let mut d = edoc_13_1();
    d.subject = "á".repeat(501);
    d.code_number = "123456789012".into();
    d.typer_notation = "ABCDEFGHIJK".into();
    d.to_places.push("x".repeat(151));
    d.from.telephone = some("0238 3840000 / 0238 3840002");
    d.page_amount = Some(70_000);
    let c = composed(&d);
    let paths: Vec<&str> = c.warnings.iter().map(|w| w.path.as_str()).collect();
    for p in [
        "MessageHeader/Subject",
        "MessageHeader/Code/CodeNumber",
        "MessageHeader/OtherInfo/TyperNotation",
        "MessageHeader/ToPlaces/Place[3]",
        "MessageHeader/From/Telephone",
        "MessageHeader/OtherInfo/PageAmount",
    ] {
        assert!(paths.iter().any(|x| x.ends_with(p)), "{p}: {paths:#?}");
    }
    assert!(c.warnings.iter().all(|w| !w.is_error()));
    let m = read_edoc(&c.bytes);
    assert_eq!(m.document.subject.as_deref(), Some(d.subject.as_str()));
    assert_eq!(m.document.content, d.content);
    assert_eq!(
        m.document.code.and_then(|c| c.number).as_deref(),
        Some("123456789012")
    );
    assert_eq!(m.document.to_places[2], "x".repeat(151));
}

#[test]
fn content_defaults_to_the_subject_and_description_to_the_name() {
    let mut d = edoc_13_1();
    d.content = None;
    d.attachments[0].description = some("Công văn 125 (bản ký số)");
    let m = read_edoc(&composed(&d).bytes);
    assert_eq!(m.document.content.as_deref(), Some(d.subject.as_str()));
    assert_eq!(
        m.attachments[0].description.as_deref(),
        Some("Công văn 125 (bản ký số)")
    );
    assert_eq!(
        m.references[0].description.as_deref(),
        Some("Công văn 125 (bản ký số)")
    );
}

#[test]
fn several_attachments_keep_their_order_and_extensions() {
    let mut d = edoc_13_1();
    d.attachments.push(NewAttachment {
        name: "Phụ lục.XLSX".into(),
        description: None,
        content: vec![1, 2, 3],
    });
    d.attachments.push(NewAttachment {
        name: "bản gốc".into(),
        description: None,
        content: Vec::new(),
    });
    d.attachments.push(NewAttachment {
        name: "hồ sơ.zip".into(),
        description: None,
        content: b"PK\x03\x04 a real zip would be here".to_vec(),
    });
    let c = composed(&d);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.path.ends_with("Attachment[3]/ContentTransferEncoded")),
        "{:#?}",
        c.warnings
    );
    let m = read_edoc(&c.bytes);
    assert_eq!(m.attachments.len(), 4);
    assert_eq!(m.references.len(), 4);
    for (i, a) in d.attachments.iter().enumerate() {
        assert_eq!(
            m.attachments[i].attachment_name.as_deref(),
            Some(a.name.as_str())
        );
        assert_eq!(
            m.references[i].attachment_name.as_deref(),
            Some(a.name.as_str())
        );
        assert_eq!(m.references[i].content_id, m.attachments[i].content_id);
        assert_eq!(file_bytes(&m, i), a.content, "{}", a.name);
    }
    let entries: Vec<String> = (0..4).map(|i| zip_entry(&m, i).0).collect();
    assert_eq!(entries[1], "00000000-0000-4000-8000-000000000002.XLSX");
    assert_eq!(entries[2], "00000000-0000-4000-8000-000000000003");
    assert_eq!(entries[3], "00000000-0000-4000-8000-000000000004.zip");
}

#[test]
fn a_bad_id_source_is_refused() {
    let e = refused(compose_edoc(&edoc_13_1(), now_13_1(), &mut || {
        "209".to_owned()
    }));
    assert_error_at(&e, "AttachmentEncoded/Attachment[1]/ContentId");
    let mut d = edoc_13_1();
    d.attachments.push(d.attachments[0].clone());
    let e = refused(compose_edoc(&d, now_13_1(), &mut || CID_13_1.to_owned()));
    assert_error_at(&e, "AttachmentEncoded/Attachment[2]/ContentId");
    // An upper-case UUID is lowered.
    let c =
        compose_edoc(&edoc_13_1(), now_13_1(), &mut || CID_13_1.to_uppercase()).expect("composed");
    let m = read_edoc(&c.bytes);
    assert_eq!(
        m.attachments[0].content_id.as_deref(),
        Some(format!("cid:{CID_13_1}").as_str())
    );
}

#[test]
fn ignored_parts_are_warned_about() {
    let mut d = edoc_13_1();
    d.business.target = Some(did("000.00.00.H41,2025/03/10,118/UBND-KSTT"));
    d.business.replacements = vec![ReplacementInfo::default()];
    d.business.document_info = Some(BusinessDocumentInfo::default());
    let c = composed(&d);
    assert_eq!(c.warnings.len(), 3, "{:#?}", c.warnings);
    let b = read_edoc(&c.bytes).document.business.expect("business");
    assert_eq!(b.document_id, None);
    assert!(b.replacements.is_empty());
    assert_eq!(b.document_info, None);
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9ăâđêôơưĂÂĐÊÔƠƯáàảãạếềểễệốồổỗộớờởỡợứừửữựíìỉĩịýỳỷỹỵ &<>\"'/.,:;()\r\n\t-]{1,60}"
}

fn code() -> impl Strategy<Value = String> {
    "[0-9A-Za-zĐđ/.-]{1,12}"
}

/// What a reader gives back for a caller's text: trimmed, line breaks LF.
fn as_read(s: &str) -> String {
    s.trim_matches([' ', '\t', '\r', '\n'])
        .replace("\r\n", "\n")
        .replace('\r', "\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_documents_compose_and_read_back(
        subject in text(),
        number in code(),
        notation in code(),
        name in "[A-Za-zđĐ0-9 _-]{1,20}(\\.[A-Za-z0-9]{1,5})?",
        data in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut d = edoc_13_1();
        d.subject = subject.clone();
        d.content = None;
        d.code_number = number.clone();
        d.code_notation = notation.clone();
        d.attachments[0].name = name.clone();
        d.attachments[0].content = data.clone();
        let blank = |s: &str| {
            let t = as_read(s);
            t.is_empty() || t.eq_ignore_ascii_case("null")
        };
        let r = compose_edoc(&d, now_13_1(), &mut ids());
        if blank(&subject) || blank(&number) || blank(&notation) || as_read(&name).is_empty() {
            prop_assert!(r.is_err());
            return Ok(());
        }
        let c = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(c.warnings.iter().all(|w| !w.is_error()));
        let m = read_edoc(&c.bytes);
        prop_assert_eq!(m.document.subject.clone(), Some(as_read(&subject)));
        prop_assert_eq!(m.document.content.clone(), Some(as_read(&subject)));
        let code = m.document.code.clone().unwrap_or_default();
        prop_assert_eq!(code.number, Some(as_read(&number)));
        prop_assert_eq!(code.notation, Some(as_read(&notation)));
        let id = format!("000.00.00.H41,2025/03/14,{}/{}", as_read(&number), as_read(&notation));
        prop_assert_eq!(c.document_id.as_str(), id.as_str());
        prop_assert_eq!(m.document.document_id.as_ref(), Some(&c.document_id));
        prop_assert_eq!(m.attachments[0].attachment_name.clone(), Some(as_read(&name)));
        prop_assert_eq!(file_bytes(&m, 0), data);
        let checked = check(&Message::Edoc(m));
        prop_assert!(checked.findings.iter().all(|f| !f.is_error()), "{:#?}", checked.findings);
    }

    #[test]
    fn arbitrary_statuses_compose_and_read_back(
        description in proptest::option::of(text()),
        code in code(),
        k in 0usize..9,
    ) {
        let mut s = status_13_2();
        s.code = KnownStatus::ALL[k];
        s.description = description.clone();
        s.response_for.code = Some(code.clone());
        let r = compose_status(&s, now_13_2());
        let t = as_read(&code);
        if t.is_empty() || t.eq_ignore_ascii_case("null") {
            prop_assert!(r.is_err());
            return Ok(());
        }
        let c = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = read_status(&c.bytes);
        prop_assert_eq!(back.description, description.map(|d| as_read(&d)).filter(|d| !d.is_empty()));
        prop_assert_eq!(back.response_for.and_then(|r| r.code), Some(t));
        prop_assert_eq!(back.status_code.and_then(|c| c.known()), Some(KnownStatus::ALL[k]));
    }
}
