//! The HTTPS serving port: `/healthz`, `/livez`, `/readyz`, `/metrics` and `/configz`, behind
//! upstream's delegated authentication and authorization.
//!
//! Upstream starts this server before leader election so standbys answer probes and expose
//! metrics too; so do we. The handler chain is upstream's (`controller-manager/app/serve.go
//! BuildHandlerChain`): authenticate ([`authn`]: front-proxy headers, client certificate,
//! bearer token via TokenReview, else anonymous), authorize ([`authz`]: `system:masters`, the
//! always-allow paths, else a SubjectAccessReview), then route. Every request is a
//! non-resource request: path = URL path, verb = lowercased method.
//!
//! [`tls`] serves the certificate (files reloaded on change, `--cert-dir`, or self-signed),
//! [`trust`] and [`lookup`] hold the client and front-proxy CAs, [`listener`] keeps connection
//! floods from starving the process.

pub mod authn;
pub mod authz;
pub mod delegated;
pub mod listener;
pub mod lookup;
mod metrics;
mod retry;
pub mod status;
pub mod tls;
pub mod tokenreview;
pub mod trust;

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use kcm_shared::health::HealthChecks;
use tokio_util::sync::CancellationToken;

use crate::options::serving::ServingConfig;
use authn::{Authenticator, Outcome};
use authz::{AlwaysAllowPaths, Authorizer, Verdict};
use listener::{Handler, Limits, Peer};
use trust::{HeaderNames, Source, Trust};

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct ServingOptions {
    pub bind_address: IpAddr,
    pub port: u16,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub serving: ServingConfig,
}

/// What the handlers read.
#[derive(Clone)]
pub struct ServingState {
    pub checks: HealthChecks,
    /// The `/configz` body, rendered once the port is bound.
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
    #[error("--cert-dir: cannot write {path}: {message}")]
    CertDir { path: String, message: String },
    #[error("--tls-cert-file and --tls-private-key-file must be given together")]
    HalfPair,
    #[error("making a self-signed serving certificate: {0}")]
    SelfSigned(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{0}")]
    Delegation(String),
}

/// Sets up authentication, authorization and TLS, binds the port and serves until `cancel`.
/// `configz` renders the `/configz` body from the bound address, which is returned.
pub async fn start(
    options: &ServingOptions,
    checks: HealthChecks,
    configz: impl FnOnce(SocketAddr) -> String,
    cancel: CancellationToken,
) -> Result<SocketAddr, ServeError> {
    let authn_options = &options.serving.authentication;
    let authz_options = &options.serving.authorization;
    let authn_client = delegated::client(
        "--authentication-kubeconfig",
        authn_options.kubeconfig.as_deref(),
    )
    .await
    .map_err(ServeError::Delegation)?;
    let authz_client = delegated::client(
        "--authorization-kubeconfig",
        authz_options.kubeconfig.as_deref(),
    )
    .await
    .map_err(ServeError::Delegation)?;

    // DelegatingAuthenticationOptions.ApplyTo: a flag wins; else the ConfigMap when lookup is
    // allowed and there is a client.
    let lookup = !authn_options.skip_lookup && authn_client.is_some();
    let source = |file: &Option<PathBuf>| match file {
        Some(path) => Source::File(path.clone()),
        None if lookup => Source::ConfigMap,
        None => Source::None,
    };
    let header_flags = &authn_options.request_header;
    let trust = Arc::new(Trust::new(
        source(&authn_options.client_ca_file),
        source(&header_flags.client_ca_file),
    ));
    if authn_client.is_none() && !authn_options.skip_lookup {
        for (missing, key, what) in [
            (
                authn_options.client_ca_file.is_none(),
                "client-ca-file",
                "client certificate",
            ),
            (
                header_flags.client_ca_file.is_none(),
                "requestheader-client-ca-file",
                "request-header client certificate",
            ),
        ] {
            if missing {
                tracing::warn!(
                    "No authentication-kubeconfig provided in order to lookup {key} in configmap/{} in {}, so {what} authentication won't work.",
                    lookup::NAME,
                    lookup::NAMESPACE
                );
            }
        }
    }
    let names = HeaderNames {
        allowed_names: header_flags.allowed_names.clone(),
        username_headers: header_flags.username_headers.clone(),
        uid_headers: header_flags.uid_headers.clone(),
        group_headers: header_flags.group_headers.clone(),
        extra_headers_prefix: header_flags.extra_headers_prefix.clone(),
    };
    trust::load_files(&trust, &names, cancel.clone()).map_err(ServeError::Delegation)?;
    if let (true, Some(delegation)) = (
        trust.client_ca_source == Source::ConfigMap
            || trust.request_header_source == Source::ConfigMap,
        &authn_client,
    ) {
        lookup::start(
            delegation.watch.clone(),
            trust.clone(),
            authn_options.tolerate_lookup_failure,
            cancel.clone(),
        )
        .await
        .map_err(ServeError::Delegation)?;
    }
    let tokens = match authn_client {
        Some(delegation) => Some(
            tokenreview::TokenReviewer::new(delegation.reviews, authn_options.token_cache_ttl)
                .map_err(ServeError::Delegation)?,
        ),
        None => None,
    };
    if authz_client.is_none() {
        tracing::warn!(
            "No authorization-kubeconfig provided, so SubjectAccessReview of authorization tokens won't work."
        );
    }
    let authorizer = Authorizer {
        groups: authz_options.always_allow_groups.clone(),
        paths: AlwaysAllowPaths::new(&authz_options.always_allow_paths),
        webhook: authz_client.map(|delegation| {
            authz::SubjectAccessReviewer::new(
                delegation.reviews,
                authz_options.allowed_ttl,
                authz_options.denied_ttl,
            )
        }),
    };

    let tls_options = tls::TlsOptions {
        cert_file: options.cert_file.clone(),
        key_file: options.key_file.clone(),
        cert_dir: options.serving.cert_dir.clone(),
        min_version: options.serving.tls_min_version,
        cipher_suites: options.serving.tls_cipher_suites.clone(),
        curves: options.serving.tls_curve_preferences.clone(),
        http2: !options.serving.disable_http2,
        bind_ip: Some(options.bind_address),
    };
    let serving_tls = tls::ServingTls::new(&tls_options, trust.clone())?;
    serving_tls.spawn_reloader(cancel.clone());

    let addr = SocketAddr::new(options.bind_address, options.port);
    let listener = listener::bind(addr, options.serving.permit_port_sharing).map_err(|source| {
        ServeError::Bind {
            addr: addr.to_string(),
            source,
        }
    })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let state = ServingState {
        checks,
        configz: Arc::new(configz(local)),
    };
    let chain = Arc::new(Chain {
        state,
        authenticator: Authenticator { trust, tokens },
        authorizer,
    });
    let limits = Limits::for_this_process(options.serving.http2_max_streams);
    tracing::info!(address = %local, max_connections = limits.max_connections, "serving securely");
    tokio::spawn(listener::serve(
        listener,
        serving_tls,
        chain,
        limits,
        cancel,
    ));
    Ok(local)
}

/// Authentication → authorization → routes, as upstream's handler chain.
struct Chain {
    state: ServingState,
    authenticator: Authenticator,
    authorizer: Authorizer,
}

impl Handler for Chain {
    async fn handle(&self, request: Request<Incoming>, peer: Peer) -> Response<Full<Bytes>> {
        let (mut parts, _body) = request.into_parts();
        let pretty = status::wants_pretty(
            parts.uri.query(),
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        );
        let mut close_after = false;
        let mut response = match self
            .authenticator
            .authenticate(&peer.certificates, &mut parts.headers)
            .await
        {
            Outcome::Unauthorized(errors) => {
                metrics::authentication("failure");
                // Upstream logs every failed authentication at error level.
                tracing::error!(
                    client = %peer.address,
                    path = parts.uri.path(),
                    reasons = errors.join("; "),
                    "Unable to authenticate the request"
                );
                let mut response = status::unauthorized(pretty);
                response.extensions_mut().insert(listener::CloseAfter);
                response
            }
            Outcome::User(user) => {
                metrics::authentication("success");
                // Anonymous HTTP/2 clients get one request per connection, as upstream.
                close_after = user.name == authn::ANONYMOUS;
                let verb = parts.method.as_str().to_ascii_lowercase();
                // Go's URL.Path is percent-decoded; authorization and routing both see that.
                let Some(path) = decode_path(parts.uri.path()) else {
                    return text(StatusCode::BAD_REQUEST, "400 Bad Request".into());
                };
                match self.authorizer.authorize(&user, &verb, &path).await {
                    Verdict::Allow => {
                        metrics::authorization("allowed");
                        route_at(&self.state, &Request::from_parts(parts, ()), &path)
                    }
                    Verdict::Forbid(reason) => {
                        metrics::authorization("denied");
                        tracing::debug!(user = user.name, verb, path, reason, "forbidden");
                        status::forbidden(&user.name, &verb, &path, &reason, pretty)
                    }
                    Verdict::Error(error) => {
                        metrics::authorization("error");
                        let uri = parts
                            .uri
                            .path_and_query()
                            .map(|p| p.as_str())
                            .unwrap_or("/");
                        tracing::error!(user = user.name, verb, path, error, "authorization error");
                        status::internal_error(uri, &error)
                    }
                }
            }
        };
        if close_after {
            response.extensions_mut().insert(listener::CloseAfter);
        }
        // WithCacheControl.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-cache, private"),
        );
        response
    }
}

/// Routes one request. Kept synchronous: every handler only reads in-memory state.
#[cfg(test)]
pub fn route<B>(state: &ServingState, req: &Request<B>) -> Response<Full<Bytes>> {
    route_at(state, req, req.uri().path())
}

/// `url.PathUnescape` as Go's server applies it to the request path: `None` for a malformed
/// escape or a result that is not UTF-8 (Go answers those 400 before any handler).
pub fn decode_path(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Routes a request to the (decoded) `path`.
fn route_at<B>(state: &ServingState, req: &Request<B>, path: &str) -> Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or("");
    let verbose = query
        .split('&')
        .any(|kv| kv == "verbose" || kv.starts_with("verbose="));
    let excluded: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("exclude="))
        .map(str::to_string)
        .collect();
    match path {
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

#[cfg(test)]
mod tests;
