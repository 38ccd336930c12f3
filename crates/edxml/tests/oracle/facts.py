#!/usr/bin/env python3
"""Independent oracle for the sample facts: reads every tests/data/*.edxml with Python's
ElementTree (namespace-insensitive, by local name) and writes tests/data/facts.json, the
facts `lienthong edxml inspect` must print. Run it again only when samples are added."""
import base64, hashlib, json, pathlib, xml.etree.ElementTree as ET

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"

def local(tag):
    return tag.rsplit("}", 1)[-1]

def child(el, name):
    if el is None:
        return None
    for c in el:
        if local(c.tag) == name:
            return c
    return None

def children(el, name):
    return [c for c in el if local(c.tag) == name] if el is not None else []

def text(el, ident=False):
    if el is None or el.text is None:
        return None
    t = el.text.strip(" \t\r\n")
    if not t or (ident and t.lower() == "null"):
        return None
    return t

def org(el):
    if el is None:
        return None
    keys = ["OrganId", "OrganName", "OrganizationInCharge", "OrganAdd", "Email", "Telephone", "Fax", "Website"]
    names = ["organ_id", "organ_name", "organization_in_charge", "organ_add", "email", "telephone", "fax", "website"]
    return {n: text(child(el, k), ident=(k == "OrganId")) for k, n in zip(keys, names)}

facts = {}
for path in sorted(DATA.glob("*.edxml")):
    raw = path.read_bytes()
    raw = raw[raw.index(b"<"):]
    root = ET.fromstring(raw)
    header = child(child(root, "edXMLEnvelope"), "edXMLHeader")
    mh = child(header, "MessageHeader")
    if child(mh, "StatusCode") is not None:
        rf = child(mh, "ResponseFor")
        f = {
            "kind": "status",
            "from": org(child(mh, "From")),
            "status_code": text(child(mh, "StatusCode")),
            "response_for": None if rf is None else {
                "document_id": text(child(rf, "DocumentId"), True),
                "organ_id": text(child(rf, "OrganId"), True),
                "code": text(child(rf, "Code"), True),
            },
            "description": text(child(mh, "Description")),
            "timestamp": text(child(mh, "Timestamp")),
        }
    else:
        code = child(mh, "Code")
        bz = child(child(header, "TraceHeaderList"), "Bussiness")
        bdt = text(child(bz, "BussinessDocType"))
        atts = []
        for a in children(child(root, "AttachmentEncoded"), "Attachment"):
            content = base64.b64decode("".join((child(a, "ContentTransferEncoded").text or "").split()))
            atts.append({
                "content_id": text(child(a, "ContentId"), True),
                "content_type": text(child(a, "ContentType")),
                "name": text(child(a, "AttachmentName")),
                "bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            })
        f = {
            "kind": "edoc",
            "from": org(child(mh, "From")),
            "to": [org(t) for t in children(mh, "To")],
            "document_id": text(child(mh, "DocumentId"), True),
            "code": None if code is None else {
                "number": text(child(code, "CodeNumber"), True),
                "notation": text(child(code, "CodeNotation"), True),
            },
            "subject": text(child(mh, "Subject")),
            "promulgation_date": text(child(child(mh, "PromulgationInfo"), "PromulgationDate")),
            "business_doc_type": int(bdt) if bdt is not None else None,
            "attachments": atts,
        }
    facts[path.name] = f

(DATA / "facts.json").write_text(json.dumps(facts, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
print(f"{len(facts)} messages")
