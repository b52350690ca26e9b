//! Helpers of the multi-process token-store suites: worker processes
//! (`tokenkeeper-worker`), a real `redis-server` on a free loopback port, and who holds a
//! file lock (`/proc/locks`).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokenkeeper_testserver::{Counters, ServerConfig, TestServer};

/// The user the workers log in as, and the password they read from their environment.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "pw-3b8d21-do-not-print";

const WORKER: &str = env!("CARGO_BIN_EXE_tokenkeeper-worker");

/// A reference server on loopback with rotation and reuse detection on, knowing alice.
pub fn rotating_server() -> TestServer {
    TestServer::start_blocking(
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default()
            .with_user(USER, PASSWORD)
            .with_rotation(true)
            .with_reuse_detection(true),
    )
    .expect("server starts")
}

/// One worker process.
pub struct Worker {
    pub child: Child,
}

/// What a worker printed when it finished.
#[derive(Debug)]
pub struct Report {
    pub json: Value,
    pub stderr: String,
}

impl Report {
    pub fn failures(&self) -> u64 {
        self.json["failures"].as_u64().unwrap()
    }
    pub fn ok(&self) -> u64 {
        self.json["ok"].as_u64().unwrap()
    }
    pub fn metric(&self, name: &str) -> u64 {
        self.json["metrics"][name].as_u64().unwrap()
    }
    pub fn store(&self, name: &str) -> u64 {
        self.json["store"][name].as_u64().unwrap_or(0)
    }
}

impl Worker {
    /// Starts `tokenkeeper-worker --server <server> <args>`.
    pub fn spawn(server: &TestServer, args: &[&str]) -> Worker {
        let child = Command::new(WORKER)
            .arg("--server")
            .arg(server.url())
            .args(["--user", USER])
            .args(args)
            .env("TOKENKEEPER_WORKER_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("worker starts");
        Worker { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the worker to finish and reads its report.
    pub fn report(mut self) -> Report {
        let mut stdout = String::new();
        let mut stderr = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "worker failed: {status} {stderr}");
        let json = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("worker report {stdout:?}: {e}; stderr {stderr}"));
        Report { json, stderr }
    }
}

/// Polls `cond` every 5 ms until it holds, for at most `bound` (an event the test waits
/// for, never a timeout under test); returns how long it took.
pub fn wait_for(bound: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    t0.elapsed()
}

/// Checks what every run must show: nobody failed, one login, no reuse detected.
pub fn assert_shared(reports: &[Report], c: &Counters) {
    for r in reports {
        assert_eq!(r.failures(), 0, "{:?}", r.json);
        assert!(r.ok() > 0, "{:?}", r.json);
    }
    assert_eq!(c.logins_ok, 1, "one login for the fleet: {c:?}");
    assert_eq!((c.reuse_detections, c.refreshes_rejected), (0, 0), "{c:?}");
    let refreshes: u64 = reports.iter().map(|r| r.metric("refresh_count")).sum();
    assert_eq!(
        refreshes, c.refreshes_accepted,
        "every refresh was one of theirs"
    );
}

/// The pid holding an `flock` on `path`, from `/proc/locks`.
pub fn flock_holder(path: &Path) -> Option<u32> {
    let ino = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        let (kind, pid, dev) = (f.get(1)?, f.get(4)?, f.get(5)?);
        (*kind == "FLOCK" && dev.rsplit(':').next()? == ino.to_string())
            .then(|| pid.parse().ok())
            .flatten()
    })
}

/// A `redis-server` (the Debian package) on a free loopback port, without persistence,
/// stopped by its pid.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Redis { child: None, port };
        r.restart();
        r
    }

    /// Starts it (again) on its port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (Debian package redis-server: run tools/setup.sh)");
        self.child = Some(child);
        wait_for(Duration::from_secs(10), "redis-server answers", || {
            self.cli(&["PING"]).as_deref() == Some("PONG")
        });
    }

    /// Stops it by its pid (SIGKILL: like a crash, nothing is flushed).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// `redis-cli -p <port> <args>`'s first output line (None when it cannot connect).
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let line = BufReader::new(&out.stdout[..]).lines().next()?.ok()?;
        (out.status.success() && !line.starts_with("Could not connect")).then_some(line)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
