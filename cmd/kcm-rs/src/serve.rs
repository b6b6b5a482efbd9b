//! The HTTPS serving port: `/healthz`, `/livez`, `/readyz`, `/metrics` and `/configz`.
//!
//! Upstream starts this server before leader election so standbys answer probes and expose
//! metrics too; so do we. Without `--tls-cert-file`/`--tls-private-key-file` a self-signed pair
//! for `localhost`/`127.0.0.1` is made at start, as upstream's `MaybeDefaultWithSelfSignedCerts`.
//! There is no delegated authentication yet, which is why the default bind address is 127.0.0.1.

use std::{convert::Infallible, net::SocketAddr, path::PathBuf, sync::Arc};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use kcm_shared::health::HealthChecks;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct ServingOptions {
    pub bind_address: String,
    pub port: u16,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// What the handlers read.
#[derive(Clone)]
pub struct ServingState {
    pub checks: HealthChecks,
    /// The `/configz` body, rendered once at start.
    pub configz: Arc<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--bind-address/--secure-port: cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("--tls-cert-file {path}: {message}")]
    Cert { path: String, message: String },
    #[error("--tls-private-key-file {path}: {message}")]
    Key { path: String, message: String },
    #[error("--tls-cert-file and --tls-private-key-file must be given together")]
    HalfPair,
    #[error("making a self-signed serving certificate: {0}")]
    SelfSigned(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// Binds the port and serves until `cancel`; returns the bound address (useful with port 0).
pub async fn start(
    options: &ServingOptions,
    state: ServingState,
    cancel: CancellationToken,
) -> Result<SocketAddr, ServeError> {
    let acceptor = TlsAcceptor::from(Arc::new(tls_config(options)?));
    let addr = format_addr(&options.bind_address, options.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!(address = %local, "serving securely");
    tokio::spawn(accept_loop(listener, acceptor, state, cancel));
    Ok(local)
}

fn format_addr(bind: &str, port: u16) -> String {
    if bind.contains(':') && !bind.starts_with('[') {
        format!("[{bind}]:{port}")
    } else {
        format!("{bind}:{port}")
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: ServingState,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(error) => {
                tracing::debug!(%error, "accept failed");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(error) => {
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
            };
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, &req)) }
            });
            let conn = auto::Builder::new(TokioExecutor::new());
            let serving = conn.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = cancel.cancelled() => {}
                result = serving => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                }
            }
        });
    }
}

/// Routes one request. Kept synchronous: every handler only reads in-memory state.
pub fn route<B>(state: &ServingState, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
        );
    }
    let query = req.uri().query().unwrap_or("");
    let verbose = query
        .split('&')
        .any(|kv| kv == "verbose" || kv.starts_with("verbose="));
    let excluded: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("exclude="))
        .map(str::to_string)
        .collect();
    match req.uri().path() {
        "/healthz" => report(state.checks.healthz(&excluded), verbose, "healthz"),
        "/livez" => text(
            StatusCode::OK,
            if verbose {
                "[+]ping ok\nlivez check passed\n".into()
            } else {
                "ok".into()
            },
        ),
        "/readyz" => report(state.checks.readyz(&excluded), verbose, "readyz"),
        "/metrics" => Response::builder()
            .status(StatusCode::OK)
            .header(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(Full::new(Bytes::from(kcm_shared::metrics::render())))
            .unwrap_or_default(),
        "/configz" => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(state.configz.as_bytes().to_vec())))
            .unwrap_or_default(),
        path => match path.strip_prefix("/healthz/") {
            Some(name) => match state.checks.health_check(name) {
                Some(Ok(())) => text(StatusCode::OK, "ok".into()),
                Some(Err(_)) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal server error: {name} check failed\n"),
                ),
                None => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
            },
            None => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
        },
    }
}

fn report(report: kcm_shared::health::Report, verbose: bool, what: &str) -> Response<Full<Bytes>> {
    let status = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    text(status, report.render(verbose, what))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

fn tls_config(options: &ServingOptions) -> Result<rustls::ServerConfig, ServeError> {
    let (certs, key) = match (&options.cert_file, &options.key_file) {
        (Some(cert), Some(key)) => (read_certs(cert)?, read_key(key)?),
        (None, None) => self_signed()?,
        _ => return Err(ServeError::HalfPair),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read_certs(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let err = |message: String| ServeError::Cert {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}

fn read_key(path: &PathBuf) -> Result<PrivateKeyDer<'static>, ServeError> {
    let err = |message: String| ServeError::Key {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no PEM private key found".into()))
}

/// A fresh self-signed pair for localhost, as upstream makes when no files are given.
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServeError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let pair = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ServeError::SelfSigned(e.to_string()))?;
    let cert = pair.cert.der().clone();
    let key = PrivateKeyDer::try_from(pair.signing_key.serialize_der())
        .map_err(|e| ServeError::SelfSigned(e.to_string()))?;
    Ok((vec![cert], key))
}

#[cfg(test)]
mod tests;
