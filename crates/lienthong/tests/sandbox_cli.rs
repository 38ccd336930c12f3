//! `lienthong sandbox` starts the DVCQG simulator on the given address.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn post(addr: &str, path: &str, headers: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn sandbox_serves_the_portal_simulator() {
    let port = || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    };
    let addr = format!("127.0.0.1:{}", port());
    let vdxp = format!("127.0.0.1:{}", port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lienthong"))
        .args(["sandbox", "--dvcqg", &addr, "--vdxp", &vdxp])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let body = r#"{"username":"lienthong","password":"lienthong-secret"}"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        if let Some(a) = post(&addr, "/auth", "dstcode: H41-DVC\r\n", body) {
            break a;
        }
        assert!(Instant::now() < deadline, "simulator did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let wrong = post(&addr, "/auth", "dstcode: H00-XXX\r\n", body).expect("answer");
    // the axis simulator refuses an unsigned call
    let unsigned = post(&vdxp, "/getReceivedEdocList", "", "").expect("axis answer");
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.contains("\"session\""), "{answer}");
    assert!(
        wrong.contains("Sai") && !wrong.contains("\"session\""),
        "{wrong}"
    );
    assert!(unsigned.contains("\"ErrorCode\":\"401\""), "{unsigned}");
}
