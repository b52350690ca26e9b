//! [`TestServer`]: binds, runs the accept loop on a runtime of its own, shuts down on drop.
//!
//! The server runs on a dedicated thread with its own tokio runtime, so it keeps answering
//! whatever the test does with its own thread: a current-thread `#[tokio::test]`, a blocking
//! client, or a plain `#[test]` through [`TestServer::start_blocking`]. Connections are
//! served by hand (hyper HTTP/1.1) so that a fault can close one without answering.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::config::ServerConfig;
use crate::control::Control;
use crate::counters::Counters;
use crate::routes;
use crate::state::{AppState, ConnHandle, Shared};

/// A running reference server. Dropping it closes the listener and every connection.
pub struct TestServer {
    addr: SocketAddr,
    control: Control,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

type Ready = oneshot::Receiver<io::Result<SocketAddr>>;

impl TestServer {
    /// Starts a server on `127.0.0.1` with a port chosen by the system.
    pub async fn start(config: ServerConfig) -> io::Result<TestServer> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a server on `addr` (port 0: chosen by the system).
    pub async fn start_on(addr: SocketAddr, config: ServerConfig) -> io::Result<TestServer> {
        let (mut server, ready) = Self::spawn(addr, config)?;
        server.addr = ready.await.map_err(|_| thread_died())??;
        Ok(server)
    }

    /// [`TestServer::start_on`] for synchronous code (must not be called from inside an
    /// async runtime's worker thread).
    pub fn start_blocking(addr: SocketAddr, config: ServerConfig) -> io::Result<TestServer> {
        let (mut server, ready) = Self::spawn(addr, config)?;
        server.addr = ready.blocking_recv().map_err(|_| thread_died())??;
        Ok(server)
    }

    fn spawn(addr: SocketAddr, config: ServerConfig) -> io::Result<(TestServer, Ready)> {
        let state = Shared::new(config);
        let router = routes::router(state.clone());
        let (ready_tx, ready_rx) = oneshot::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tokenkeeper-testserver".to_owned())
            .spawn({
                let state = state.clone();
                move || run(addr, Served { router, state }, ready_tx, shutdown_rx)
            })?;
        let server = TestServer {
            addr,
            control: Control(state),
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        };
        Ok((server, ready_rx))
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.control.counters()
    }

    /// A handle to change the server's behaviour while it runs.
    pub fn control(&self) -> Control {
        self.control.clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn thread_died() -> io::Error {
    io::Error::other("the server thread stopped before it was ready")
}

/// What each connection serves: the router, and the state its gauges live in.
#[derive(Clone)]
struct Served {
    router: Router,
    state: AppState,
}

/// The server thread: a runtime, the listener, the accept loop until shutdown. Dropping
/// the runtime at the end cancels every connection task.
fn run(
    addr: SocketAddr,
    served: Served,
    ready: oneshot::Sender<io::Result<SocketAddr>>,
    shutdown: oneshot::Receiver<()>,
) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tokenkeeper-testserver-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    rt.block_on(async move {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(listener.local_addr());
        tokio::select! {
            () = accept_loop(listener, served) => {}
            _ = shutdown => {}
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
}

async fn accept_loop(listener: TcpListener, served: Served) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(serve_connection(stream, served.clone()));
                }
                // Out of file descriptors and the like: back off briefly, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, served: Served) {
    let _open = served.state.gauges.connection();
    let _ = stream.set_nodelay(true);
    let handle = ConnHandle::default();
    let per_request = handle.clone();
    let router = served.router;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(per_request.clone());
        router.clone().oneshot(req)
    });
    let mut conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = &mut conn => {}
        // Dropping the connection closes the socket without an answer: a FIN, or an RST
        // when the linger time is zero.
        () = handle.killed() => {
            let mut io = conn.into_parts().io.into_inner();
            if handle.wants_reset() {
                let _ = io.set_zero_linger();
            } else if let Some(raw) = handle.take_raw() {
                let _ = io.write_all(&raw).await;
                let _ = io.shutdown().await;
            }
        }
    }
}
