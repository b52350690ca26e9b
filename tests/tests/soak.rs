//! The soak under faults, short (the full run is `cargo bench -p tokenkeeper-testserver
//! --bench soak`, figures in BENCHMARKS.md): 4,000 requests from 32 tasks with 2-second
//! tokens, rotation with reuse detection, and random 401s, 503s, dropped connections and
//! refresh 503s. No request is lost, every failure is one the retry rules allow, rotation never
//! trips reuse detection, and the client's counts agree with the server's.

mod soak_support;
use soak_support as soak;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_under_faults_loses_no_request() {
    let o = soak::Options {
        requests: 4_000,
        concurrency: 32,
        ..soak::Options::default()
    };
    let r = soak::run(&o).await;
    println!("{}", r.render(&o));
    assert_eq!(r.requests, o.requests);
    assert_eq!(r.lost(), 0, "{}", r.render(&o));
    assert_eq!(r.server["reuse_detections"], 0, "{}", r.render(&o));
    assert_eq!(
        r.logins,
        1,
        "one login, then refreshes only: {}",
        r.render(&o)
    );
    assert!(
        r.ok * 100 >= r.requests * 97,
        "at least 97 % succeed: {}",
        r.render(&o)
    );
    assert_eq!(
        r.refreshes,
        r.server["refreshes_accepted"].as_u64().unwrap(),
        "the client's refreshes are the server's"
    );
}
