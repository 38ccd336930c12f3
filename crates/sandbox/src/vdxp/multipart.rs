//! Just enough `multipart/form-data` (RFC 7578) to take the part `file_doc` out of a
//! `sendEdoc` body, for clients that send what the SDK's code seems to intend rather than
//! what it puts on the wire (`vdxp.md` §7).

use bytes::Bytes;

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The `boundary` parameter of a `multipart/form-data` content type (quotes removed), or
/// `None` when the type is not multipart/form-data or has no boundary.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
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

/// Whether a part's headers name it `name` (`Content-Disposition: form-data; name="…"`).
fn named(headers: &[u8], name: &str) -> bool {
    String::from_utf8_lossy(headers).lines().any(|line| {
        let Some((k, v)) = line.split_once(':') else {
            return false;
        };
        k.trim().eq_ignore_ascii_case("content-disposition")
            && v.split(';').skip(1).any(|p| {
                p.split_once('=').is_some_and(|(pk, pv)| {
                    pk.trim().eq_ignore_ascii_case("name") && pv.trim().trim_matches('"') == name
                })
            })
    })
}

/// The content of the first part named `name`, or `None` when the body holds no such
/// part (or is not well formed).
pub(crate) fn part(body: &Bytes, boundary: &str, name: &str) -> Option<Bytes> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let next_delim = [b"\r\n".as_slice(), delim].concat();
    let mut at = find(body, delim, 0)?;
    loop {
        at += delim.len();
        if body.get(at..at + 2) == Some(b"--") {
            return None;
        }
        // Rest of the delimiter line.
        let line_end = find(body, b"\n", at)? + 1;
        let end = find(body, &next_delim, line_end)?;
        let part = &body[line_end..end];
        let (headers, content_start) = match find(part, b"\r\n\r\n", 0) {
            Some(h) => (&part[..h], h + 4),
            None => {
                let h = find(part, b"\n\n", 0)?;
                (&part[..h], h + 2)
            }
        };
        if named(headers, name) {
            return Some(body.slice(line_end + content_start..end));
        }
        at = end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_forms() {
        assert_eq!(
            boundary("multipart/form-data; boundary====1700000000000===").as_deref(),
            Some("===1700000000000===")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/octet-stream"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn finds_the_named_part() {
        let body = Bytes::from_static(
            b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nzzz\r\n--XX\r\nContent-Disposition: form-data; name=\"file_doc\"; filename=\"a.edxml\"\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n\r\n--XX--\r\n",
        );
        assert_eq!(
            part(&body, "XX", "file_doc").as_deref(),
            Some(b"abc\r\n".as_slice())
        );
        assert_eq!(
            part(&body, "XX", "other").as_deref(),
            Some(b"zzz".as_slice())
        );
        assert_eq!(part(&body, "XX", "missing"), None);
        assert_eq!(part(&body, "YY", "file_doc"), None);
        assert_eq!(part(&Bytes::from_static(b"abc"), "XX", "file_doc"), None);
    }
}
