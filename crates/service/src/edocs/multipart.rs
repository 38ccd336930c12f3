//! Just enough `multipart/form-data` (RFC 7578) for `POST /v1/edocs`: the part named
//! `document` (the JSON fields) and the file parts (the attachments). Whole bodies only
//! (the request is bounded by `gateway.max_request_bytes`); no nested multipart, no
//! transfer encodings other than binary.

/// One part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `name` of its `Content-Disposition`.
    pub name: String,
    /// `filename`, for a file.
    pub filename: Option<String>,
    /// Its `Content-Type`, if given.
    pub content_type: Option<String>,
    /// Its bytes.
    pub body: Vec<u8>,
}

/// The `boundary` of a `multipart/form-data` content type, or `None` when it is not one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let mime = parts.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// A parameter of a `Content-Disposition` value (`name="x"`), quotes removed.
fn param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The parts of `body`, or what is wrong with it.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut at = find(body, d, 0).ok_or("no boundary line in the multipart body")?;
    let mut parts = Vec::new();
    loop {
        let after = at + d.len();
        if body.get(after..after + 2) == Some(b"--") {
            return Ok(parts);
        }
        // The rest of the boundary line.
        let line_end = find(body, b"\r\n", after).ok_or("truncated multipart body")?;
        let headers_start = line_end + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start)
            .ok_or("a multipart part without the blank line after its headers")?;
        let content_start = headers_end + 4;
        let mut closing = Vec::with_capacity(d.len() + 2);
        closing.extend_from_slice(b"\r\n");
        closing.extend_from_slice(d);
        let content_end =
            find(body, &closing, content_start).ok_or("a multipart part without its boundary")?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in headers.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name");
                filename = param(v, "filename").filter(|f| !f.is_empty());
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        let name = name.ok_or("a multipart part without a name")?;
        parts.push(Part {
            name,
            filename,
            content_type,
            body: body[content_start..content_end].to_vec(),
        });
        at = content_end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_with_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"document\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v\xc4\x83n b\xe1\xba\xa3n.pdf\"\r\n\r\n%PDF\r\n--\r\n--XyZ--\r\n";
        let b = boundary("multipart/form-data; boundary=\"XyZ\"").expect("test value");
        let parts = parse(body, &b).expect("test value");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "document");
        assert_eq!(parts[0].body, b"{\"a\":1}");
        assert_eq!(parts[1].filename.as_deref(), Some("văn bản.pdf"));
        assert_eq!(parts[1].body, b"%PDF\r\n--");
        assert!(parse(b"nothing", "XyZ").is_err());
        assert!(boundary("application/json").is_none());
    }
}
