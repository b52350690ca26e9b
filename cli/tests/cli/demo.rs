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
