//! Attachment content: base64 text kept as a slice of the input, decoded in a streaming
//! fashion (count and SHA-256 without holding the decoded bytes), and the SDK's
//! zip-of-one-file convention unpacked on request (`edxml.md` §7).

use base64::Engine as _;
use base64::engine::general_purpose::GeneralPurposeConfig;
use base64::engine::{DecodePaddingMode, Simd};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::sync::OnceLock;

/// Base64 text of one attachment, exactly as read (it may contain line breaks).
///
/// Cloning is cheap: the text is a reference-counted slice of the message it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Base64Content {
    text: Bytes,
}

impl std::fmt::Debug for Base64Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64Content({} chars)", self.text.len())
    }
}

/// Decoded size and SHA-256 of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentDigest {
    /// Number of decoded bytes.
    pub bytes: u64,
    /// SHA-256 of the decoded bytes.
    pub sha256: [u8; 32],
}

impl AttachmentDigest {
    /// The SHA-256 as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The content is not valid base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A character outside the base64 alphabet (or padding before the end).
    #[error("not valid base64: unexpected character {found:?} at position {position}")]
    InvalidCharacter {
        /// Position among the base64 characters (white space not counted).
        position: u64,
        /// The character found.
        found: char,
    },
    /// The number of base64 characters cannot encode whole bytes.
    #[error("not valid base64: {length} characters cannot encode whole bytes (truncated content?)")]
    InvalidLength {
        /// Number of base64 characters (white space not counted).
        length: u64,
    },
}

/// The content could not be unzipped.
#[derive(Debug, thiserror::Error)]
#[error("cannot unzip attachment: {0}")]
pub struct UnzipError(String);

/// Base64 characters handled per step (a multiple of 4).
const CHUNK: usize = 64 * 1024;

fn engine() -> &'static Simd {
    static ENGINE: OnceLock<Simd> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Simd::standard(
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        )
    })
}

fn is_b64_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl Base64Content {
    /// Wraps base64 text (any white space inside is tolerated).
    pub fn from_text(text: Bytes) -> Self {
        Base64Content { text }
    }

    /// Encodes bytes (one unbroken line, standard alphabet, padded).
    pub fn encode(data: &[u8]) -> Self {
        Base64Content {
            text: Bytes::from(engine().encode(data)),
        }
    }

    /// The text as read.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The text with white space removed and padding added: what the strict writer emits.
    /// Borrows when the text is already clean.
    pub fn canonical_text(&self) -> std::borrow::Cow<'_, [u8]> {
        let t: &[u8] = &self.text;
        let has_space = memchr::memchr3(b'\n', b'\r', b' ', t).is_some() || t.contains(&b'\t');
        if !has_space && t.len().is_multiple_of(4) {
            return std::borrow::Cow::Borrowed(t);
        }
        let mut clean: Vec<u8> = t.iter().copied().filter(|b| !is_b64_space(*b)).collect();
        while !clean.len().is_multiple_of(4) && clean.len() % 4 != 1 {
            clean.push(b'=');
        }
        std::borrow::Cow::Owned(clean)
    }

    /// Decodes in steps, handing each decoded piece to `sink`; returns the decoded length.
    /// At most one step of decoded bytes is held at a time.
    pub fn decode_chunks(&self, mut sink: impl FnMut(&[u8])) -> Result<u64, DecodeError> {
        let text: &[u8] = &self.text;
        let mut out = vec![0u8; CHUNK / 4 * 3];
        let mut total = 0u64;
        let mut consumed = 0u64; // base64 characters decoded so far
        let mut pending: Vec<u8> = Vec::new(); // clean characters not yet decoded
        let clean_text =
            memchr::memchr3(b'\n', b'\r', b' ', text).is_none() && !text.contains(&b'\t');
        let mut decode = |piece: &[u8], consumed: &mut u64| -> Result<(), DecodeError> {
            let n = engine()
                .decode_slice(piece, &mut out[..])
                .map_err(|e| map_error(e, *consumed, piece.len()))?;
            *consumed += piece.len() as u64;
            total += n as u64;
            sink(&out[..n]);
            Ok(())
        };
        if clean_text {
            // Fast path: decode straight from the input.
            let mut rest = text;
            while rest.len() > CHUNK {
                let (piece, tail) = rest.split_at(CHUNK);
                decode(piece, &mut consumed)?;
                rest = tail;
            }
            if !rest.is_empty() {
                decode(rest, &mut consumed)?;
            }
        } else {
            pending.reserve(CHUNK);
            for line in text.split(|b| is_b64_space(*b)) {
                let mut line = line;
                while !line.is_empty() {
                    let room = CHUNK - pending.len();
                    let take = room.min(line.len());
                    pending.extend_from_slice(&line[..take]);
                    line = &line[take..];
                    if pending.len() == CHUNK {
                        decode(&pending, &mut consumed)?;
                        pending.clear();
                    }
                }
            }
            if !pending.is_empty() {
                decode(&pending, &mut consumed)?;
            }
        }
        Ok(total)
    }

    /// Decoded length and SHA-256, without holding the decoded content.
    pub fn digest(&self) -> Result<AttachmentDigest, DecodeError> {
        let mut hasher = Sha256::new();
        let bytes = self.decode_chunks(|piece| hasher.update(piece))?;
        Ok(AttachmentDigest {
            bytes,
            sha256: hasher.finalize().into(),
        })
    }

    /// Decoded length only (validates the whole content).
    pub fn decoded_len(&self) -> Result<u64, DecodeError> {
        self.decode_chunks(|_| {})
    }

    /// The decoded content.
    pub fn decode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut v = Vec::with_capacity(self.text.len() / 4 * 3 + 3);
        self.decode_chunks(|piece| v.extend_from_slice(piece))?;
        Ok(v)
    }
}

fn map_error(e: base64::DecodeSliceError, consumed: u64, piece_len: usize) -> DecodeError {
    match e {
        base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidByte(i, b)) => {
            DecodeError::InvalidCharacter {
                position: consumed + i as u64,
                found: char::from(b),
            }
        }
        base64::DecodeSliceError::DecodeError(_) => DecodeError::InvalidLength {
            length: consumed + piece_len as u64,
        },
        // The output buffer always fits one step (CHUNK / 4 * 3).
        base64::DecodeSliceError::OutputSliceTooSmall => DecodeError::InvalidLength {
            length: consumed + piece_len as u64,
        },
    }
}

/// Whether a zip entry name has the SDK's `<uuid>.<ext>` shape.
fn is_sdk_entry_name(name: &str) -> bool {
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    stem.len() == 36
        && stem.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && !ext.is_empty()
        && !ext.contains(['.', '/'])
}

/// Unpacks the SDK's zip-of-one-file convention (`edxml.md` §7.3 rule 3).
///
/// Returns `Some(file bytes)` when `decoded` is a ZIP archive with exactly one entry and
/// either the entry is named `<uuid>.<ext>`, or the declared type is `application/zip` and
/// the attachment name does not itself end in `.zip`; `None` when the bytes are the file.
pub fn unpack_zip_of_one(
    decoded: &[u8],
    declared_zip: bool,
    attachment_name: Option<&str>,
) -> Result<Option<Vec<u8>>, UnzipError> {
    if !decoded.starts_with(b"PK\x03\x04") {
        return Ok(None);
    }
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(decoded)) {
        Ok(a) => a,
        Err(e) if declared_zip => return Err(UnzipError(e.to_string())),
        Err(_) => return Ok(None),
    };
    if archive.len() != 1 {
        return Ok(None);
    }
    let name_is_zip = attachment_name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".zip"));
    let mut entry = archive.by_index(0).map_err(|e| UnzipError(e.to_string()))?;
    let sdk_name = entry.name().is_ok_and(|n| is_sdk_entry_name(&n));
    let unwrap = sdk_name || (declared_zip && !name_is_zip);
    if !unwrap {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 30));
    entry
        .read_to_end(&mut out)
        .map_err(|e| UnzipError(e.to_string()))?;
    Ok(Some(out))
}

/// A MIME type guessed from a file name's extension.
pub fn mime_from_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "rtf" => "application/rtf",
        "txt" => "text/plain",
        "xml" | "edxml" => "application/xml",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "tif" | "tiff" => "image/tiff",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(s: &str) -> Base64Content {
        Base64Content::from_text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn decodes_with_line_breaks_and_without_padding() {
        assert_eq!(
            content("aGVs\r\nbG8=").decode().ok(),
            Some(b"hello".to_vec())
        );
        assert_eq!(content(" aGVsbG8 ").decode().ok(), Some(b"hello".to_vec()));
        assert_eq!(content("").decode().ok(), Some(Vec::new()));
    }

    #[test]
    fn long_content_across_steps() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let enc = Base64Content::encode(&data);
        assert_eq!(enc.decode().ok(), Some(data.clone()));
        // the same with a line break every 76 characters
        let wrapped: Vec<u8> = enc
            .text()
            .chunks(76)
            .flat_map(|c| c.iter().copied().chain(*b"\r\n"))
            .collect();
        let wrapped = Base64Content::from_text(Bytes::from(wrapped));
        assert_eq!(wrapped.decode().ok(), Some(data.clone()));
        assert_eq!(wrapped.canonical_text().as_ref(), enc.text());
        let d = wrapped.digest().expect("digest");
        assert_eq!(d.bytes, 300_000);
        assert_eq!(d.sha256_hex(), hex(&Sha256::digest(&data)));
    }

    #[test]
    fn garbage_is_an_error_with_position() {
        let err = content("aGVs!G8=").decode().expect_err("garbage");
        assert_eq!(
            err,
            DecodeError::InvalidCharacter {
                position: 4,
                found: '!'
            }
        );
        assert!(err.to_string().contains("base64"));
        assert!(matches!(
            content("aGVsb").decode(),
            Err(DecodeError::InvalidLength { length: 5 })
        ));
    }

    #[test]
    fn sdk_entry_names() {
        assert!(is_sdk_entry_name(
            "3ed3cc90-1dcb-4382-9725-1de9cd899790.edxml"
        ));
        assert!(!is_sdk_entry_name("report.pdf"));
        assert!(!is_sdk_entry_name(
            "3ed3cc90-1dcb-4382-9725-1de9cd899790.tar.gz"
        ));
    }

    #[test]
    fn raw_content_is_not_unzipped() {
        assert!(matches!(
            unpack_zip_of_one(b"%PDF-1.4", true, Some("a.pdf")),
            Ok(None)
        ));
    }
}
