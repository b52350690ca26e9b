//! `tokenkeeper demo`: a short run with every fault ends with 0 failures, and the client's and
//! the server's counts agree.

use crate::common::{table_row, tokenkeeper};

#[test]
fn a_short_demo_with_faults_has_no_failures_and_refreshes_every_lifetime() {
    let run = tokenkeeper(&["demo", "--duration-secs", "8", "--token-secs", "2"], &[]);
    let all = run.all();
    assert_eq!(run.code, Some(0), "{all}");
    // Not a terminal: plain progress lines, and every fault announced.
    assert!(run.stdout.contains("t="), "{all}");
    assert!(run.stdout.contains("revokes every token"), "{all}");
    assert!(run.stdout.contains("drops the connections"), "{all}");

    let (failures, _) = table_row(&run.stdout, "failures").expect("a failures row");
    assert_eq!(failures, 0, "{all}");
    let (refreshes, server_refreshes) =
        table_row(&run.stdout, "refreshes").expect("a refreshes row");
    assert!(
        refreshes >= 3,
        "expected at least 3 refreshes in 4 token lifetimes\n{all}"
    );
    assert_eq!(Some(refreshes), server_refreshes, "{all}");
    // Revoke-all: the refresh token is dead, so the client logs in again, once.
    let (re_logins, server_re_logins) =
        table_row(&run.stdout, "re-logins").expect("a re-logins row");
    assert_eq!((re_logins, server_re_logins), (1, Some(1)), "{all}");
    let (recovered, server_401s) = table_row(&run.stdout, "401s recovered").expect("a 401 row");
    assert!(recovered >= 1, "{all}");
    assert_eq!(Some(recovered), server_401s, "{all}");
    let (resends, dropped) = table_row(&run.stdout, "transient resends").expect("a resend row");
    assert_eq!((resends, dropped), (3, Some(3)), "{all}");
    let (ok, server_ok) = table_row(&run.stdout, "successes").expect("a successes row");
    let (requests, _) = table_row(&run.stdout, "requests").expect("a requests row");
    assert_eq!(ok, requests, "{all}");
    assert_eq!(Some(ok), server_ok, "{all}");
    assert!(run.stdout.contains("PASS: 0 failures"), "{all}");
    assert!(
        !run.stdout.contains('✗'),
        "client and server disagree\n{all}"
    );
}

#[test]
fn without_faults_the_client_only_refreshes() {
    let run = tokenkeeper(
        &[
            "demo",
            "--duration-secs",
            "3",
            "--token-secs",
            "1",
            "--no-faults",
            "--concurrency",
            "8",
        ],
        &[],
    );
    let all = run.all();
    assert_eq!(run.code, Some(0), "{all}");
    assert!(
        table_row(&run.stdout, "refreshes").expect("row").0 >= 2,
        "{all}"
    );
    assert_eq!(
        table_row(&run.stdout, "re-logins"),
        Some((0, Some(0))),
        "{all}"
    );
    assert_eq!(
        table_row(&run.stdout, "failures").map(|r| r.0),
        Some(0),
        "{all}"
    );
}

#[test]
fn out_of_range_settings_are_refused_before_anything_runs() {
    for args in [
        &["demo", "--token-secs", "0"][..],
        &["demo", "--token-secs", "1801"][..],
        &["demo", "--duration-secs", "0"][..],
    ] {
        let run = tokenkeeper(args, &[]);
        assert_eq!(run.code, Some(2), "{args:?}\n{}", run.all());
        assert!(run.stderr.contains("invalid value"), "{}", run.all());
    }
}

/// Reads a `GET /metrics` answer from the demo's metrics endpoint: the status line and body.
fn scrape(addr: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("the metrics endpoint listens");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_owned(), body.to_owned())
}

/// The value of an unlabelled sample.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_demo_serves_prometheus_metrics_while_it_runs() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenkeeper"));
    cmd.args([
        "demo",
        "--duration-secs",
        "4",
        "--token-secs",
        "1",
        "--no-faults",
        "--concurrency",
        "4",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tokenkeeper binary runs");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let addr = loop {
        let line = lines
            .next()
            .expect("the demo announces its metrics endpoint")
            .unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.trim_start().strip_prefix("metrics http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // Scrape until the client has refreshed at least once (1-second tokens), while the demo
    // still runs. Each scrape is a complete, valid exposition.
    let mut refreshed = None;
    for _ in 0..40 {
        let (head, body) = scrape(&addr);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{head}"
        );
        assert!(
            body.contains("# TYPE tokenkeeper_requests_total counter\n"),
            "{body}"
        );
        // The endpoint is up before the first login; without faults there is one.
        let logins = sample(&body, "tokenkeeper_logins_total").unwrap();
        assert!(logins <= 1.0, "{body}");
        let refreshes = sample(&body, "tokenkeeper_refreshes_total").unwrap();
        if logins >= 1.0 && refreshes >= 1.0 {
            assert!(
                sample(&body, "tokenkeeper_token_expiry_timestamp_seconds").is_some(),
                "{body}"
            );
            refreshed = Some((
                refreshes,
                sample(&body, "tokenkeeper_requests_total").unwrap(),
            ));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the demo ended before the scrape"
    );
    let (refreshes, requests) = refreshed.expect("a refresh seen in the metrics mid-run");
    assert!(requests >= 1.0);
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}");
    let (final_refreshes, _) = table_row(&seen, "refreshes").expect("a refreshes row");
    assert!(final_refreshes as f64 >= refreshes, "{seen}");
    // The endpoint went away with the demo.
    assert!(std::net::TcpStream::connect(&addr).is_err());
}
