//! Accept loops: TLS (with a handshake deadline) and plain HTTP, HTTP/1.1 and HTTP/2, a connection cap,
//! and graceful shutdown (stop accepting, let in-flight requests finish, close idle connections).

use crate::http::HttpResponse;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

/// Handles one request.
pub trait Handler: Clone + Send + Sync + 'static {
    /// The response future.
    fn call(&self, request: hyper::Request<Incoming>) -> impl Future<Output = Result<HttpResponse, Infallible>> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, Infallible>> + Send,
{
    fn call(&self, request: hyper::Request<Incoming>) -> impl Future<Output = Result<HttpResponse, Infallible>> + Send {
        self(request)
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Time to complete the TLS handshake and to send request headers.
    pub read_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
}

/// Resolves once the shutdown flag is true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn builder(config: &ListenerConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(config.read_timeout).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    builder
}

async fn serve_connection<IO, H>(
    io: IO,
    builder: Arc<Builder<TokioExecutor>>,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let service = service_fn(move |request| {
        let handler = handler.clone();
        async move { handler.call(request).await }
    });
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        _ = stopped(&mut shutdown) => {}
    }
    connection.as_mut().graceful_shutdown();
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "connection ended with an error during shutdown");
    }
}

/// Accepts connections until `shutdown` turns true, then waits for open connections to finish.
///
/// `tls`: `Some` for the HTTPS listener. Returns once every connection has closed.
pub async fn accept_loop<H: Handler>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: H,
    config: ListenerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = Arc::new(builder(&config));
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    // Every connection task holds a sender; when all are dropped, `open.recv()` returns None.
    let (open_tx, mut open) = mpsc::channel::<()>(1);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stopped(&mut shutdown) => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = tcp.set_nodelay(true);
        let (builder, handler, tls, done) = (Arc::clone(&builder), handler.clone(), tls.clone(), open_tx.clone());
        let mut conn_shutdown = shutdown.clone();
        let read_timeout = config.read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let _done = done;
            match tls {
                None => serve_connection(tcp, builder, handler, conn_shutdown).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(read_timeout, acceptor.accept(tcp));
                    let stream = tokio::select! {
                        result = handshake => match result {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                        },
                        _ = stopped(&mut conn_shutdown) => return,
                    };
                    serve_connection(stream, builder, handler, conn_shutdown).await
                }
            }
        });
    }
    drop(listener);
    drop(open_tx);
    let _ = open.recv().await;
}
