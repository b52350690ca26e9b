//! Deadlines the native driver enforces: the engine's auth deadline (a token endpoint that
//! never answers is aborted and retried, then the waiters fail), and the default timeouts of
//! the API client the keeper builds (a resource that never answers does not hang its caller).
//! Time is moved by hand (a `ManualClock`, or tokio's paused clock): nothing here waits for a
//! timeout in real time.

mod reqwest_support;

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest_support::{PASSWORD, USER, now};
use tokenkeeper_core::Error as EngineError;
use tokenkeeper_core::Secret;
use tokenkeeper_reqwest::clock::ManualClock;
use tokenkeeper_reqwest::{Config, Credentials, Dialect, Keeper, TokenSet};

/// A server that accepts connections, reads what comes, and never answers. It counts the
/// connections it accepted and those the client closed.
struct Silent {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    /// The peer address of every connection accepted, in order.
    peers: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
}

impl Silent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (a, c, p) = (accepted.clone(), closed.clone(), peers.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                if let Ok(peer) = stream.peer_addr() {
                    p.lock().unwrap().push(peer);
                }
                a.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Silent {
            addr,
            accepted,
            closed,
            peers,
        }
    }

    /// How many connections were made to it before this call, accepted or still queued: a
    /// connection of its own queues behind every earlier one, and the count is read when the
    /// listener has taken it. Waits for the listener's thread in real time (under paused tokio
    /// time a virtual sleep would not let it run); it waits for the network, not a timeout.
    fn connections_so_far(&self) -> usize {
        let sentinel = std::net::TcpStream::connect(self.addr).unwrap();
        let me = sentinel.local_addr().unwrap();
        for _ in 0..10_000 {
            if let Some(i) = self.peers.lock().unwrap().iter().position(|p| *p == me) {
                return i;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the listener never took the sentinel connection");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Waits (for the network, never for a timeout) until `counter` reaches `n`.
async fn until(counter: &AtomicUsize, n: usize) {
    for _ in 0..1000 {
        if counter.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("counter stuck at {}", counter.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_token_endpoint_that_never_answers_is_aborted_at_the_auth_deadline_then_retried() {
    let silent = Silent::start();
    let clock = ManualClock::starting_now();
    let keeper = Keeper::builder(Dialect::vitalgraph(&silent.url()).unwrap())
        .credentials(Credentials::password(USER, PASSWORD))
        .config(Config {
            auth_timeout: Duration::from_secs(30),
            max_refresh_attempts: 2,
            ..Config::default()
        })
        .clock(clock.clone())
        .seed(7)
        .build()
        .unwrap();
    let client = keeper.client();
    let url = format!("{}/api/echo", silent.url());
    let request = tokio::spawn(async move { client.get(url).send().await });

    until(&silent.accepted, 1).await; // the login is on its way, and unanswered
    clock.advance(Duration::from_secs(31)); // past the deadline
    until(&silent.closed, 1).await; // the driver closed the connection
    clock.advance(Duration::from_secs(1)); // past the backoff: the second attempt
    until(&silent.accepted, 2).await;
    clock.advance(Duration::from_secs(31));
    until(&silent.closed, 2).await;

    let err = request.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err.engine(),
            Some(EngineError::AuthUnavailable {
                attempts: 2,
                status: None,
                circuit_open: false,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        2,
        "two attempts, no more"
    );
    let m = keeper.metrics();
    assert_eq!((m.login_failures, m.failures), (2, 1));
    assert!(keeper.tokens().is_none());
}

#[tokio::test(start_paused = true)]
async fn the_api_client_the_keeper_builds_does_not_hang_on_a_silent_resource() {
    let silent = Silent::start();
    let keeper = Keeper::builder(Dialect::vitalgraph(&silent.url()).unwrap())
        .credentials(Credentials::password(USER, PASSWORD))
        .seed(7)
        .build()
        .unwrap();
    let now = now();
    keeper
        .set_tokens(TokenSet {
            access_token: Secret::new("a-token"),
            refresh_token: None,
            issued_at: now,
            expires_at: now.saturating_add(Duration::from_secs(3600)),
            refresh_expires_at: None,
        })
        .unwrap();
    // A POST may have run once sent: it fails instead of being resent (a GET would be resent
    // as the engine's rules say, and then fail the same way).
    let client = keeper.client();
    let send = client
        .post(format!("{}/api/echo", silent.url()))
        .body("{}")
        .send();
    // Paused time jumps to the next timer: without the client's read timeout, this outer
    // one would end the wait instead.
    let err = tokio::time::timeout(Duration::from_secs(300), send)
        .await
        .expect("the client's own timeout ended the request")
        .unwrap_err();
    assert!(
        matches!(
            err.engine(),
            Some(EngineError::Transport {
                may_have_reached_server: true,
                attempts: 1,
                stopped: tokenkeeper_core::TransportStop::NotIdempotent,
            })
        ),
        "{err:?}"
    );
    assert!(
        err.reqwest().is_some_and(reqwest::Error::is_timeout),
        "{err:?}"
    );
    assert_eq!(silent.connections_so_far(), 1, "sent once, not resent");
}
