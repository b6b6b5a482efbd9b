//! Accepting connections so that the serving port cannot starve the controllers.
//!
//! * Accept errors (EMFILE, ENFILE, ENOBUFS, …) back off like Go's `http.Server.Serve`: 5 ms,
//!   doubling to 1 s, reset by the next success. Without it a full descriptor table turns the
//!   accept loop into a busy spin (the socket stays readable while accept fails).
//! * At most [`Limits::max_connections`] connections are held (lowered, down to 4, each time
//!   accept runs out of descriptors). When a new one arrives at the cap,
//!   or accept fails for want of descriptors, the oldest *idle* connection (TLS handshake not
//!   done, or no request in flight) is closed, so a prober always gets in: idle connections
//!   cannot lock `/healthz` out. Upstream has no cap; this is a kcm-rs hardening.
//! * TLS handshakes must finish within [`Limits::handshake_timeout`], request headers within
//!   [`Limits::header_read_timeout`] (upstream's ReadHeaderTimeout, 32 s), and a connection with
//!   no request in flight is closed after [`Limits::idle_timeout`] (upstream's IdleTimeout, 90 s).

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use parking_lot::Mutex;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::tls::ServingTls;

/// Connection limits and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub http2_max_streams: u32,
    /// Upstream's MaxHeaderBytes (1 MiB).
    pub max_header_bytes: usize,
}

impl Limits {
    /// The defaults, with the connection cap at a quarter of the descriptor limit (16 to 4096),
    /// so the controllers keep most descriptors for their apiserver connections.
    pub fn for_this_process(http2_max_streams: u32) -> Self {
        Limits {
            max_connections: (descriptor_limit() / 4).clamp(16, 4096),
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(32),
            idle_timeout: Duration::from_secs(90),
            http2_max_streams,
            max_header_bytes: 1 << 20,
        }
    }
}

/// The soft `RLIMIT_NOFILE`.
fn descriptor_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    }
}

/// What a request handler gets besides the request.
#[derive(Clone)]
pub struct Peer {
    pub certificates: Arc<Vec<CertificateDer<'static>>>,
    pub address: SocketAddr,
}

/// Handles one request.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        request: Request<Incoming>,
        peer: Peer,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;
}

/// One live connection as the cap sees it.
struct Slot {
    busy: Arc<AtomicUsize>,
    close: CancellationToken,
}

/// The live connections, oldest first.
#[derive(Default)]
struct Table {
    next: u64,
    slots: BTreeMap<u64, Slot>,
}

impl Table {
    /// Closes the oldest connection with nothing in flight; false if all are busy.
    fn evict_idle(&mut self) -> bool {
        let victim = self
            .slots
            .iter()
            .find(|(_, s)| s.busy.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match victim.and_then(|id| self.slots.remove(&id)) {
            Some(slot) => {
                slot.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// The cap never goes below this, so probes and scrapes still get in.
const MIN_CONNECTIONS: usize = 4;

/// Go's `Serve` backoff on temporary accept errors.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts until `cancel`, serving each connection with `handler`.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Arc<ServingTls>,
    handler: Arc<H>,
    limits: Limits,
    cancel: CancellationToken,
) {
    let table = Arc::new(Mutex::new(Table::default()));
    let mut backoff = Duration::ZERO;
    // Lowered when accept runs out of descriptors: the cap guessed from RLIMIT_NOFILE was too
    // high for what the rest of the process needs (or the limit was lowered since).
    let mut cap = limits.max_connections;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, address) = match accepted {
            Ok(a) => {
                backoff = Duration::ZERO;
                a
            }
            Err(error) if is_per_connection(&error) => continue,
            Err(error) => {
                backoff = if backoff.is_zero() {
                    ACCEPT_BACKOFF_MIN
                } else {
                    (backoff * 2).min(ACCEPT_BACKOFF_MAX)
                };
                // Out of descriptors: give one back by closing the oldest idle connection, and
                // hold fewer connections from now on so the controllers keep some.
                let evicted = if is_out_of_descriptors(&error) {
                    let mut t = table.lock();
                    let lowered = t.slots.len().saturating_sub(1).max(MIN_CONNECTIONS);
                    if lowered < cap {
                        tracing::warn!(
                            from = cap,
                            to = lowered,
                            "out of file descriptors: lowering the connection cap"
                        );
                        cap = lowered;
                    }
                    t.evict_idle()
                } else {
                    false
                };
                log_accept_error(&error, backoff, evicted);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                continue;
            }
        };
        let (id, slot_busy, close) = {
            let mut t = table.lock();
            if t.slots.len() >= cap && !t.evict_idle() {
                // Every connection has a request in flight: refuse this one.
                drop(stream);
                tracing::debug!(%address, "connection limit reached; closing a new connection");
                continue;
            }
            let id = t.next;
            t.next += 1;
            let busy = Arc::new(AtomicUsize::new(0));
            let close = cancel.child_token();
            t.slots.insert(
                id,
                Slot {
                    busy: busy.clone(),
                    close: close.clone(),
                },
            );
            (id, busy, close)
        };
        let tls = tls.clone();
        let handler = handler.clone();
        let table = table.clone();
        tokio::spawn(async move {
            serve_connection(stream, address, tls, handler, limits, slot_busy, close).await;
            table.lock().slots.remove(&id);
        });
    }
}

fn log_accept_error(error: &io::Error, backoff: Duration, evicted: bool) {
    tracing::warn!(%error, retry_in = ?backoff, closed_idle_connection = evicted, "http: Accept error; retrying");
}

/// Errors about one pending connection, not the listener: accept the next at once.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

async fn serve_connection<H: Handler>(
    stream: TcpStream,
    address: SocketAddr,
    tls: Arc<ServingTls>,
    handler: Arc<H>,
    limits: Limits,
    busy: Arc<AtomicUsize>,
    close: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let acceptor = TlsAcceptor::from(tls.config());
    let handshake = tokio::select! {
        _ = close.cancelled() => return,
        h = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)) => h,
    };
    let tls_stream = match handshake {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            tracing::debug!(%error, %address, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%address, "TLS handshake timed out");
            return;
        }
    };
    let certificates = Arc::new(
        tls_stream
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default(),
    );
    let peer = Peer {
        certificates,
        address,
    };
    let activity = Arc::new(Activity::new());
    let io = Tracked {
        inner: tls_stream,
        activity: activity.clone(),
    };
    // The service asks for a GOAWAY and waits until the connection loop has started it, so the
    // frame precedes the response (as Go's) and the client does not reuse the connection.
    let goaway = Arc::new(tokio::sync::Notify::new());
    let goaway_sent = Arc::new(tokio::sync::Notify::new());
    let service = {
        let busy = busy.clone();
        let activity = activity.clone();
        let goaway = goaway.clone();
        let goaway_sent = goaway_sent.clone();
        service_fn(move |request| {
            let handler = handler.clone();
            let peer = peer.clone();
            let busy = busy.clone();
            let activity = activity.clone();
            let goaway = goaway.clone();
            let goaway_sent = goaway_sent.clone();
            async move {
                let http2 = request.version() == http::Version::HTTP_2;
                busy.fetch_add(1, Ordering::AcqRel);
                let mut response = handler.handle(request, peer).await;
                busy.fetch_sub(1, Ordering::AcqRel);
                activity.touch();
                if response.extensions_mut().remove::<CloseAfter>().is_some() && http2 {
                    goaway.notify_one();
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), goaway_sent.notified()).await;
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let idle = idle_watch(&activity, &busy, limits.idle_timeout);
    tokio::pin!(connection, idle);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            _ = close.cancelled() => return,
            _ = &mut idle => {
                tracing::debug!(%address, "closing an idle connection");
                return;
            }
            _ = goaway.notified() => {
                // GOAWAY, then the responses in flight: Go's `Connection: close` on HTTP/2.
                if !shutting_down {
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
                goaway_sent.notify_one();
            }
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %address, "connection ended with an error");
                }
                return;
            }
        }
    }
}

/// A response extension: serve this response, then close the connection if it is HTTP/2
/// (upstream's UnauthenticatedHTTP2DOSMitigation: `Connection: close` for anonymous and
/// unauthenticated HTTP/2 requests, so they cannot hold an expensive HTTP/2 connection open).
#[derive(Debug, Clone, Copy)]
pub struct CloseAfter;

/// Resolves once the connection has had nothing in flight and no traffic for `idle`.
async fn idle_watch(activity: &Activity, busy: &AtomicUsize, idle: Duration) {
    loop {
        let quiet = activity.since_last();
        if quiet >= idle && busy.load(Ordering::Acquire) == 0 {
            return;
        }
        let wait = idle.saturating_sub(quiet).max(Duration::from_millis(100));
        tokio::time::sleep(wait).await;
    }
}

/// When bytes last moved, as milliseconds since the connection started.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Release);
    }

    fn since_last(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        self.start.elapsed().saturating_sub(last)
    }
}

/// A stream that records activity.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Binds with upstream's socket options. `--permit-address-sharing` needs nothing here: Go's
/// listener sets SO_REUSEADDR on Unix whatever the flag says, and so does this one (a second
/// listener still cannot bind); `--permit-port-sharing` adds SO_REUSEPORT.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

#[cfg(test)]
mod tests;
