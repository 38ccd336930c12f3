//! Helpers for the black-box end-to-end tests: find (or build) the `lienthong` binary and
//! run it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Path of the `lienthong` binary of this build, building it if it is not there yet.
pub fn lienthong_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("LIENTHONG_BIN") {
            return PathBuf::from(p);
        }
        // target/<profile>/deps/<test-exe> -> target/<profile>/lienthong
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>/deps layout")
            .to_path_buf();
        let bin = profile_dir.join(format!("lienthong{}", std::env::consts::EXE_SUFFIX));
        if !bin.exists() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "lienthong", "--bin", "lienthong"])
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build -p lienthong failed");
        }
        assert!(bin.exists(), "no lienthong binary at {}", bin.display());
        bin
    })
    .clone()
}

/// A command running the `lienthong` binary.
pub fn lienthong() -> Command {
    Command::new(lienthong_bin())
}

/// The directory of the official sample messages.
pub fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/edxml/tests/data")
}

/// A scratch directory for this test process.
pub fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("lienthong-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Standard base64 (padded), enough to build test messages without the codec under test.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        let sym = |i: u32| char::from(A[((n >> i) & 63) as usize]);
        out.push(sym(18));
        out.push(sym(12));
        out.push(if c.len() > 1 { sym(6) } else { '=' });
        out.push(if c.len() > 2 { sym(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_known_values() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
