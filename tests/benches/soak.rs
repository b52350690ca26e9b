//! The full soak under faults (see `tests/tests/soak_support/mod.rs`):
//! `cargo bench -p tokenkeeper-testserver --bench soak -- [--requests N] [--concurrency N]
//! [--token-secs S] [--seed N] [--rate-401 F] [--rate-503 F] [--rate-drop F] [--rate-refresh-503 F]`.

#[path = "../tests/soak_support/mod.rs"]
mod soak;

fn main() {
    let mut o = soak::Options::default();
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<f64>().ok());
        match (args[i].as_str(), value) {
            ("--requests", Some(n)) => o.requests = n as u64,
            ("--concurrency", Some(n)) => o.concurrency = n as usize,
            ("--token-secs", Some(n)) => o.token_secs = n as u64,
            ("--seed", Some(n)) => o.seed = n as u64,
            ("--rate-401", Some(r)) => o.rate_401 = r,
            ("--rate-503", Some(r)) => o.rate_503 = r,
            ("--rate-drop", Some(r)) => o.rate_drop = r,
            ("--rate-refresh-503", Some(r)) => o.rate_refresh_503 = r,
            ("--bench", _) => {
                i += 1;
                continue;
            }
            (other, _) => {
                eprintln!("unknown or incomplete option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(soak::run(&o));
    println!("{}", r.render(&o));
    if r.lost() > 0 || r.server["reuse_detections"].as_u64() != Some(0) {
        std::process::exit(1);
    }
}
