//! The `tokenkeeper-testserver` binary: prints its URL, serves, dies when killed.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tokenkeeper-testserver");

#[test]
fn binary_prints_its_url_and_serves() {
    let mut child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--user",
            "alice:wonderland",
            "--rotation",
            "--access-ttl-secs",
            "90",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("tokenkeeper-testserver listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let c = reqwest::blocking::Client::new();
    let login = |user: &str, pass: &str| {
        c.post(format!("{url}/api/login"))
            .form(&[("username", user), ("password", pass)])
            .send()
            .unwrap()
    };
    assert_eq!(
        login("admin", "admin").status(),
        401,
        "--user replaces the default"
    );
    let v: Value = login("alice", "wonderland").json().unwrap();
    assert_eq!(v["expires_in"], 90);
    let rt = v["refresh_token"].as_str().unwrap();
    let v: Value = c
        .post(format!("{url}/api/refresh"))
        .bearer_auth(rt)
        .json(&serde_json::json!({ "refresh_token": rt }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(v["refresh_token"].is_string(), "--rotation: {v}");

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(c.get(format!("{url}/health")).send().is_err());
}

/// Any 127.0.0.0/8 address: two binaries can be two origins.
#[test]
fn binary_listens_on_another_loopback_address() {
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.2", "--bare-403-refusals"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("tokenkeeper-testserver listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.2:"), "{url}");
    let c = reqwest::blocking::Client::new();
    let r = c
        .get(format!("{url}/anything"))
        .bearer_auth("t")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = c
        .get(format!("{url}/_control/recorded"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v[0]["path"], "/anything");
    assert_eq!(v[0]["scheme"], "Bearer");
    let r = c.get(format!("{url}/api/echo")).send().unwrap();
    assert_eq!(r.status(), 403, "--bare-403-refusals");
    assert!(r.headers().get("www-authenticate").is_none());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn binary_refuses_a_non_loopback_host() {
    let out = Command::new(BIN)
        .args(["--host", "0.0.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
