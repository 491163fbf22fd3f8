//! Listeners and connection serving: HTTP/1.1 and HTTP/2 (h2c) on one port,
//! header limits, graceful shutdown with a drain deadline.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower::util::Oneshot;

pub mod admin;
mod console;
mod idle;
mod reply;

use crate::config::{Config, ConfigErrors};
use crate::http1;
use crate::proxy::Peer;
use crate::stack::{self, Gateway, GatewayService};
use admin::AdminState;

/// A bound gateway, ready to serve.
pub struct Server {
    listener: TcpListener,
    admin: Option<TcpListener>,
    /// The stack requests run on; a reload swaps it, and a request keeps the
    /// one it started with.
    current: Arc<ArcSwap<Gateway>>,
    /// The config the listeners were set up with (server settings need a restart).
    config: Arc<Config>,
    ready: Arc<AtomicBool>,
}

/// Reloads the config file into a running server.
#[derive(Clone)]
pub struct Reloader {
    current: Arc<ArcSwap<Gateway>>,
    path: PathBuf,
}

// === impl Reloader ===

impl Reloader {
    /// Reads and validates the file; if valid, swaps it in. An invalid file
    /// changes nothing: the running config keeps serving.
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        let config = crate::config::load(&self.path)?;
        let old = self.current.load_full();
        if config.server.listen != old.config.server.listen
            || config.server.admin_listen != old.config.server.admin_listen
        {
            tracing::warn!("Listener addresses change only with a restart");
        }
        let new = stack::rebuild(Arc::new(config), Some(&old));
        self.current.store(Arc::new(new));
        Ok(())
    }
}

// === impl Server ===

impl Server {
    /// Binds `server.listen` and builds the stack.
    pub async fn bind(config: Arc<Config>) -> io::Result<Server> {
        let listener = TcpListener::bind(config.server.listen).await?;
        let admin = TcpListener::bind(config.server.admin_listen).await?;
        Ok(Server::from_listeners(listener, Some(admin), config))
    }

    /// Serves on an already bound listener, without the admin listener.
    pub fn from_listener(listener: TcpListener, config: Arc<Config>) -> Server {
        Server::from_listeners(listener, None, config)
    }

    /// Serves on already bound listeners (tests bind `127.0.0.1:0` first).
    pub fn from_listeners(
        listener: TcpListener,
        admin: Option<TcpListener>,
        config: Arc<Config>,
    ) -> Server {
        let gateway = stack::build(config.clone());
        Server {
            listener,
            admin,
            current: Arc::new(ArcSwap::from_pointee(gateway)),
            config,
            ready: Arc::default(),
        }
    }

    /// The admin listener's address, if it has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|a| a.local_addr().ok())
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The stack requests run on now.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// A handle that reloads the config from `path`.
    pub fn reloader(&self, path: PathBuf) -> Reloader {
        Reloader {
            current: self.current.clone(),
            path,
        }
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish for
    /// at most `server.shutdown_timeout`.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let server = &self.config.server;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(server.header_read_timeout)
            .max_buf_size(server.max_header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(server.max_header_bytes).unwrap_or(u32::MAX));
        let graceful = GracefulShutdown::new();
        // Tells the lean HTTP/1.1 loops to stop taking requests; hyper's
        // connections hear it through `graceful`.
        let (drain, draining) = tokio::sync::watch::channel(false);
        // The admin endpoints run until the process ends (health during the drain).
        if let Some(admin) = self.admin.take() {
            let state = AdminState {
                current: self.current.clone(),
                ready: self.ready.clone(),
            };
            tokio::spawn(admin::serve(admin, state, std::future::pending()));
        }
        self.ready.store(true, Ordering::SeqCst);
        tokio::pin!(shutdown);
        // server.max_connections: past it, clients wait in the listen backlog.
        let slots = Arc::new(tokio::sync::Semaphore::new(server.max_connections));
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the connection semaphore is never closed"),
                () = &mut shutdown => break,
            };
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        self.serve(&builder, &graceful, &draining, stream, peer, slot);
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "Accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        self.ready.store(false, Ordering::SeqCst);
        drop(self.listener);
        tracing::info!(deadline = ?server.shutdown_timeout, "Draining connections");
        let _ = drain.send(true);
        if tokio::time::timeout(server.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("Drain deadline passed; closing remaining connections");
        }
    }

    fn serve(
        &self,
        builder: &auto::Builder<TokioExecutor>,
        graceful: &GracefulShutdown,
        draining: &tokio::sync::watch::Receiver<bool>,
        stream: TcpStream,
        peer: SocketAddr,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) {
        let _ = stream.set_nodelay(true);
        // The certificate of the current config: a reload applies to new connections.
        let (tls, idle_timeout) = {
            let now = self.current.load();
            (
                now.config.server.tls.clone(),
                now.config.server.idle_timeout,
            )
        };
        let busy = idle::Busy::default();
        let stream = idle::IdleIo::new(stream, idle_timeout, busy.clone());
        let conn = Arc::new(ConnState {
            current: self.current.clone(),
            peer: Peer::new(peer, tls.is_some()),
            busy,
            header_read_timeout: self.config.server.header_read_timeout,
            max_header_bytes: self.config.server.max_header_bytes,
        });
        let draining = draining.clone();
        let svc = {
            let conn = conn.clone();
            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (in_flight, response) = conn.dispatch(req.map(http_body_util::Either::Left));
                async move {
                    let response = response.await;
                    drop(in_flight);
                    response
                }
            })
        };
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = self.config.server.header_read_timeout;
        let fast = self.config.server.fast_http1;
        tokio::spawn(async move {
            // The connection's slot is freed when this task ends.
            let _slot = slot;
            let (stream, h2): (Box<dyn Io>, bool) = match tls {
                None => (Box::new(stream), false),
                Some(cfg) => match tokio::time::timeout(
                    handshake_timeout,
                    TlsAcceptor::from(cfg).accept(stream),
                )
                .await
                {
                    Ok(Ok(tls)) => {
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        (Box::new(tls), h2)
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                },
            };
            // HTTP/1.1 starts on the fast path's loop, when it is on (the
            // watcher is held meanwhile, so the drain waits for it too);
            // HTTP/2 chosen by ALPN, and whatever the loop hands over, is
            // hyper's.
            let stream = if h2 || !fast {
                stream
            } else {
                let limits = http1::server::Limits {
                    header_read_timeout: conn.header_read_timeout,
                    max_header_bytes: conn.max_header_bytes,
                };
                let dispatch = |req: http::Request<http_body_util::Full<bytes::Bytes>>| {
                    conn.dispatch(req.map(http_body_util::Either::Right))
                };
                match http1::server::serve(stream, limits, dispatch, draining).await {
                    Ok(http1::server::Ended::Closed) => return,
                    Ok(http1::server::Ended::Handoff(stream)) => Box::new(stream),
                    Err(e) => {
                        tracing::debug!(error = %e, "Connection ended with an error");
                        return;
                    }
                }
            };
            let result = watcher
                .watch(
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .into_owned(),
                )
                .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, "Connection ended with an error");
            }
        });
    }
}

/// What the requests of one client connection share, whichever code (the
/// lean HTTP/1.1 loop or hyper) reads them off the wire.
struct ConnState {
    /// The stack; a reload swaps it, and each request takes the one current
    /// when it arrives.
    current: Arc<ArcSwap<Gateway>>,
    peer: Peer,
    busy: idle::Busy,
    header_read_timeout: Duration,
    max_header_bytes: usize,
}

impl ConnState {
    /// Starts a request on the current stack, with the connection's peer in
    /// its extensions; the connection counts as busy (never idle-closed)
    /// until the guard drops.
    fn dispatch(
        &self,
        mut req: http::Request<crate::proxy::RequestBody>,
    ) -> (
        idle::BusyGuard,
        Oneshot<GatewayService, http::Request<crate::proxy::RequestBody>>,
    ) {
        req.extensions_mut().insert(self.peer.clone());
        let in_flight = self.busy.enter();
        (in_flight, self.current.load().service.clone().oneshot(req))
    }
}

/// A client connection, plain or TLS, as the serving code takes it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Shutdown signal received");
}
