//! The network side: accepts TCP connections, performs the TLS handshake, serves HTTP/1.1
//! and HTTP/2 on them, redirects plain HTTP to HTTPS, and shuts down gracefully: stop
//! accepting, let in-flight requests finish (bounded by a grace period), then return.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::AppState;

/// Timeouts and bounds of the connection layer.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where plain-HTTP requests are sent, e.g. `https://localhost:8443`.
    pub public_url: String,
    /// How long in-flight requests may run after shutdown begins.
    pub shutdown_grace: Duration,
    /// A client must finish the TLS handshake within this time.
    pub handshake_timeout: Duration,
    /// A client must finish sending request headers within this time (slowloris).
    pub header_read_timeout: Duration,
}

/// The bound sockets: HTTPS, and optionally the plain-HTTP redirector.
#[derive(Debug)]
pub struct Listeners {
    pub https: TcpListener,
    pub http: Option<TcpListener>,
}

/// Serves until `shutdown` completes, then drains. Returns once every connection closed or
/// the grace period ran out.
pub async fn serve(
    state: AppState,
    app: Router,
    tls: Arc<ServerConfig>,
    listeners: Listeners,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection task holds a clone of `alive_tx`; when all are dropped, `recv` ends.
    let (alive_tx, mut alive_rx) = mpsc::channel::<Infallible>(1);
    let builder = connection_builder(&options);

    let redirector = listeners.http.map(|listener| {
        let app = redirect_router(options.public_url.clone());
        let builder = builder.clone();
        tokio::spawn(accept_loop(
            listener,
            stop_rx.clone(),
            alive_tx.clone(),
            move |tcp, peer, stop, alive| {
                tokio::spawn(serve_connection(
                    TokioIo::new(tcp),
                    peer,
                    app.clone(),
                    builder.clone(),
                    stop,
                    alive,
                ));
            },
        ))
    });

    let acceptor = TlsAcceptor::from(tls);
    let handshake_timeout = options.handshake_timeout;
    let https = tokio::spawn(accept_loop(
        listeners.https,
        stop_rx.clone(),
        alive_tx.clone(),
        move |tcp, peer, stop, alive| {
            let (acceptor, app, builder) = (acceptor.clone(), app.clone(), builder.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => serve_connection(TokioIo::new(tls), peer, app, builder, stop, alive).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        },
    ));

    shutdown.await;
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    state.start_draining();
    let _ = stop_tx.send(true);
    let _ = https.await;
    if let Some(r) = redirector {
        let _ = r.await;
    }
    drop(alive_tx);
    if tokio::time::timeout(options.shutdown_grace, alive_rx.recv()).await.is_err() {
        tracing::warn!(grace = ?options.shutdown_grace, "grace period over; closing remaining connections");
    }
    tracing::info!("server stopped");
}

fn connection_builder(options: &ServeOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        // Hyper answers 431 itself beyond these; below them our middleware answers with a
        // problem document (see middleware::limits).
        .max_buf_size(128 * 1024)
        .max_headers(128);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(64 * 1024)
        .max_concurrent_streams(128)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    builder
}

/// Accepts until told to stop, handing each socket to `spawn`. Dropping the listener on
/// return makes the port refuse new connections at once.
async fn accept_loop<F>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<Infallible>,
    spawn: F,
) where
    F: Fn(TcpStream, SocketAddr, watch::Receiver<bool>, mpsc::Sender<Infallible>) + Send + 'static,
{
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    spawn(tcp, peer, stop.clone(), alive.clone());
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn serve_connection<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<Infallible>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let conn = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(svc));
    tokio::pin!(conn);
    let stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    tokio::select! {
        res = conn.as_mut() => log_connection_end(peer, res),
        _ = stop.changed(), if !stopping => {
            // Finish the request in flight, then close (HTTP/2: GOAWAY).
            conn.as_mut().graceful_shutdown();
            log_connection_end(peer, conn.await);
        }
    }
}

fn log_connection_end(peer: SocketAddr, res: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = res {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Plain HTTP: GET and HEAD are redirected to the same path on HTTPS; anything else is
/// refused, since its body has already crossed the network in clear.
fn redirect_router(public_url: String) -> Router {
    Router::new().fallback(move |req: Request| {
        let public_url = public_url.clone();
        async move { redirect(&public_url, &req) }
    })
}

fn redirect(public_url: &str, req: &Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = (StatusCode::FORBIDDEN, "Souk only accepts this request over HTTPS.\n").into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        return res;
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = format!("{public_url}{path}");
    match HeaderValue::from_str(&target) {
        Ok(location) => {
            let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
            res.headers_mut().insert(header::LOCATION, location);
            res
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
