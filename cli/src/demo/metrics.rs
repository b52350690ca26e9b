//! `--metrics-addr`: the client's metrics in the Prometheus text format at `GET /metrics`,
//! served while the demo runs.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tokenkeeper_reqwest::{Keeper, prometheus};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The metrics endpoint; it stops when dropped.
pub(crate) struct MetricsServer {
    /// Where it listens (the port chosen when asked for port 0).
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `addr` and serves `keeper`'s metrics at `/metrics` (404 elsewhere).
pub(crate) async fn serve(addr: SocketAddr, keeper: Keeper) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let text = prometheus::render_keeper(&keeper);
            async move { ([(CONTENT_TYPE, prometheus::CONTENT_TYPE)], text) }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("tokenkeeper demo: the metrics endpoint stopped: {e}");
        }
    });
    Ok(MetricsServer { addr, task })
}
