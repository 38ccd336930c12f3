//! The axis's own hop in a delivered document (`vdxp.md` §9.3 step 6): one extra
//! `TraceHeader` inserted after the last existing one, at the byte level — every other
//! byte of the sender's file is kept, nothing is re-serialised.
//!
//! The new entry copies the namespace prefix of the last `TraceHeader` end tag, the
//! indentation of that tag and of the first child of its element, and the line ending
//! that follows it (CR LF or LF). When the last end tag is not alone on its line the
//! entry is written compactly, without line breaks.

/// Finds `needle` in `haystack` from `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// An end tag `</[prefix:]TraceHeader>`: start, end (after `>`) and the prefix with its
/// colon (empty without a prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
struct EndTag {
    start: usize,
    end: usize,
    prefix: String,
}

/// The last `TraceHeader` end tag.
fn last_end_tag(xml: &[u8]) -> Option<EndTag> {
    let mut found = None;
    let mut at = 0;
    while let Some(i) = find(xml, b"</", at) {
        at = i + 2;
        let name_end = xml[at..]
            .iter()
            .position(|&b| is_space(b) || b == b'>')
            .map_or(xml.len(), |p| at + p);
        let name = &xml[at..name_end];
        let (prefix, local) = match name.iter().rposition(|&b| b == b':') {
            Some(c) => (&name[..=c], &name[c + 1..]),
            None => (&name[..0], name),
        };
        if local != b"TraceHeader" {
            continue;
        }
        let close = xml[name_end..]
            .iter()
            .position(|&b| !is_space(b))
            .map(|p| name_end + p);
        if let Some(c) = close.filter(|&c| xml[c] == b'>') {
            found = Some(EndTag {
                start: i,
                end: c + 1,
                prefix: String::from_utf8_lossy(prefix).into_owned(),
            });
        }
    }
    found
}

/// The whitespace before `pos` on its line, when only whitespace precedes it there (and
/// a line break exists before it).
fn line_indent(xml: &[u8], pos: usize) -> Option<&[u8]> {
    let line_start = xml[..pos].iter().rposition(|&b| b == b'\n')? + 1;
    let indent = &xml[line_start..pos];
    indent
        .iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(indent)
}

/// Escapes text for element content.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The element's start tag `<{prefix}TraceHeader …>` before `before`: the position just
/// after its `>`.
fn start_tag_end(xml: &[u8], prefix: &str, before: usize) -> Option<usize> {
    let open = format!("<{prefix}TraceHeader");
    let open = open.as_bytes();
    let mut at = 0;
    let mut last = None;
    while let Some(i) = find(&xml[..before], open, at) {
        at = i + 1;
        if xml
            .get(i + open.len())
            .is_some_and(|&b| is_space(b) || b == b'>')
        {
            last = Some(i);
        }
    }
    let i = last?;
    find(&xml[..before], b">", i).map(|g| g + 1)
}

/// `xml` with one `TraceHeader` (`organ_id`, `timestamp`) inserted after the last one, or
/// `None` when the file has no `TraceHeader` end tag (it is then delivered unchanged).
pub fn insert_trace_header(xml: &[u8], organ_id: &str, timestamp: &str) -> Option<Vec<u8>> {
    let tag = last_end_tag(xml)?;
    let p = &tag.prefix;
    let organ = escape(organ_id);
    let time = escape(timestamp);
    let entry = match line_indent(xml, tag.start) {
        None => format!(
            "<{p}TraceHeader><{p}OrganId>{organ}</{p}OrganId><{p}Timestamp>{time}</{p}Timestamp></{p}TraceHeader>"
        ),
        Some(indent) => {
            let indent = String::from_utf8_lossy(indent).into_owned();
            let eol = match (xml.get(tag.end), xml.get(tag.end + 1)) {
                (Some(b'\r'), Some(b'\n')) => "\r\n",
                (Some(b'\n'), _) => "\n",
                _ => {
                    // The line break before the end tag.
                    let line_start = tag.start - indent.len();
                    if line_start >= 2 && xml[line_start - 2] == b'\r' {
                        "\r\n"
                    } else {
                        "\n"
                    }
                }
            };
            let step = if indent.contains('\t') { "\t" } else { "  " };
            let child = start_tag_end(xml, p, tag.start)
                .and_then(|after| {
                    let first = after + xml[after..tag.start].iter().position(|&b| b == b'<')?;
                    line_indent(xml, first)
                        .filter(|_| xml[after..first].contains(&b'\n'))
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                })
                .filter(|c| c.len() > indent.len() && c.starts_with(&indent))
                .unwrap_or_else(|| format!("{indent}{step}"));
            format!(
                "{eol}{indent}<{p}TraceHeader>{eol}{child}<{p}OrganId>{organ}</{p}OrganId>{eol}{child}<{p}Timestamp>{time}</{p}Timestamp>{eol}{indent}</{p}TraceHeader>"
            )
        }
    };
    let mut out = Vec::with_capacity(xml.len() + entry.len());
    out.extend_from_slice(&xml[..tag.end]);
    out.extend_from_slice(entry.as_bytes());
    out.extend_from_slice(&xml[tag.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRLF: &str = "<a>\r\n  <edXML:TraceHeaderList>\r\n    <edXML:TraceHeader>\r\n      <edXML:OrganId>X</edXML:OrganId>\r\n    </edXML:TraceHeader>\r\n    <edXML:Bussiness/>\r\n  </edXML:TraceHeaderList>\r\n</a>\r\n";

    #[test]
    fn crlf_and_indentation_are_copied() {
        let out = insert_trace_header(CRLF.as_bytes(), "vxp.sim", "2025/11/27 10:30:00")
            .expect("inserted");
        let expected = "<a>\r\n  <edXML:TraceHeaderList>\r\n    <edXML:TraceHeader>\r\n      <edXML:OrganId>X</edXML:OrganId>\r\n    </edXML:TraceHeader>\r\n    <edXML:TraceHeader>\r\n      <edXML:OrganId>vxp.sim</edXML:OrganId>\r\n      <edXML:Timestamp>2025/11/27 10:30:00</edXML:Timestamp>\r\n    </edXML:TraceHeader>\r\n    <edXML:Bussiness/>\r\n  </edXML:TraceHeaderList>\r\n</a>\r\n";
        assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    }

    #[test]
    fn last_of_several_lf_tabs_and_no_prefix() {
        let xml = "<L>\n\t<TraceHeader>\n\t\t<OrganId>A</OrganId>\n\t</TraceHeader>\n\t<TraceHeader >\n\t\t<OrganId>B</OrganId>\n\t</TraceHeader >\n</L>";
        let out = insert_trace_header(xml.as_bytes(), "S&T", "t").expect("inserted");
        let expected = "<L>\n\t<TraceHeader>\n\t\t<OrganId>A</OrganId>\n\t</TraceHeader>\n\t<TraceHeader >\n\t\t<OrganId>B</OrganId>\n\t</TraceHeader >\n\t<TraceHeader>\n\t\t<OrganId>S&amp;T</OrganId>\n\t\t<Timestamp>t</Timestamp>\n\t</TraceHeader>\n</L>";
        assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    }

    #[test]
    fn compact_and_absent() {
        let xml = "<L><e:TraceHeader><e:OrganId>A</e:OrganId></e:TraceHeader></L>";
        let out = insert_trace_header(xml.as_bytes(), "S", "t").expect("inserted");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "<L><e:TraceHeader><e:OrganId>A</e:OrganId></e:TraceHeader><e:TraceHeader><e:OrganId>S</e:OrganId><e:Timestamp>t</e:Timestamp></e:TraceHeader></L>"
        );
        assert!(insert_trace_header(b"<L><e:TraceHeaderList/></L>", "S", "t").is_none());
        assert!(insert_trace_header(b"</TraceHeaderX>", "S", "t").is_none());
        assert!(insert_trace_header(b"", "S", "t").is_none());
    }
}
