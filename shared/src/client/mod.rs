//! API clients: one per controller, each with its own user agent and its own QPS/burst budget.
//!
//! kube-client retries 429/503/504 but has no client-side rate limit, while upstream gives every
//! controller's clientset a token bucket (`--kube-api-qps`, `--kube-api-burst`; 20/30 by default,
//! ×20/×100 for the namespace controller). [`ClientFactory::client_for`] builds such a client: kube's
//! default stack (auth, retry, timeouts) plus [`ThrottleLayer`], which waits for a token before
//! each request and records the `rest_client_*` metrics that upstream exports.
//!
//! With `--use-service-account-credentials`, [`ClientFactory::controller_client`] authenticates
//! as the controller's own ServiceAccount instead (see [`service_account`]).
//!
//! The limits mean what they mean in client-go's `RESTClientFor` ([`RateLimits::throttling`]):
//! a QPS of 0 is client-go's default 5 and a burst of 0 its default 10, a negative QPS means no
//! limiter at all. The bucket is the crate's one [`TokenBucket`] (`golang.org/x/time/rate`
//! reservation semantics): a request always takes a token, the balance may go negative, and the
//! request waits until its token would have been earned. No QPS value can make it panic; a
//! tiny one makes requests past the burst wait (practically) for ever, as client-go's do.

pub mod failure;
pub mod service_account;

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, Request, Response, header::USER_AGENT};
use kube::{Client, Config, client::ClientBuilder, config::AuthInfo};
use prometheus::{HistogramVec, IntCounterVec, register_histogram_vec, register_int_counter_vec};
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service};

use crate::token_bucket::TokenBucket;

/// Histogram buckets upstream uses for `rest_client_request_duration_seconds`.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0,
];

static REQUESTS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rest_client_requests_total",
        "Number of HTTP requests, partitioned by status code, method, and host.",
        &["code", "method", "host"]
    )
    .expect("rest_client_requests_total registers once")
});

static REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "rest_client_request_duration_seconds",
        "Request latency in seconds. Broken down by verb, and host.",
        &["verb", "host"],
        LATENCY_BUCKETS.to_vec()
    )
    .expect("rest_client_request_duration_seconds registers once")
});

static RATE_LIMITER_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "rest_client_rate_limiter_duration_seconds",
        "Client side rate limiter latency in seconds. Broken down by verb, and host.",
        &["verb", "host"],
        LATENCY_BUCKETS.to_vec()
    )
    .expect("rest_client_rate_limiter_duration_seconds registers once")
});

/// Tower layer that throttles requests through a shared [`TokenBucket`] and records metrics.
///
/// Without a bucket (an unlimited client) requests pass at once and, as in client-go, no
/// rate-limiter latency is recorded.
#[derive(Clone, Debug)]
pub struct ThrottleLayer {
    bucket: Option<Arc<TokenBucket>>,
    host: Arc<str>,
    injected_panic: Option<Arc<InjectedPanic>>,
}

impl ThrottleLayer {
    pub fn new(bucket: Option<Arc<TokenBucket>>, host: impl Into<Arc<str>>) -> Self {
        Self {
            bucket,
            host: host.into(),
            injected_panic: None,
        }
    }
}

/// The environment variable that makes one client's request worker panic, for the test of
/// what the process does then (tests/tests/failures.rs): `<client name>[:<nth request>]`.
/// Not a flag, and not in `--help`: nothing but that test has a use for it.
pub const TEST_PANIC_ENV: &str = "KCM_RS_TEST_PANIC_CLIENT";

/// A panic planned for the `at`-th request of a client.
#[derive(Debug)]
struct InjectedPanic {
    client: String,
    at: u64,
    seen: std::sync::atomic::AtomicU64,
}

impl InjectedPanic {
    fn from_env(client: &str) -> Option<Arc<Self>> {
        let spec = std::env::var(TEST_PANIC_ENV).ok()?;
        let (name, at) = match spec.split_once(':') {
            Some((name, at)) => (name, at.parse().ok()?),
            None => (spec.as_str(), 1),
        };
        (name == client).then(|| {
            Arc::new(Self {
                client: client.to_string(),
                at,
                seen: Default::default(),
            })
        })
    }

    fn maybe_panic(&self) {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n == self.at {
            panic!(
                "{TEST_PANIC_ENV}: injected panic in the request worker of client {:?}",
                self.client
            );
        }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            bucket: self.bucket.clone(),
            host: self.host.clone(),
            permit: Permit::None,
            injected_panic: self.injected_panic.clone(),
        }
    }
}

/// Where the service stands with respect to the token for the next request.
enum Permit {
    /// No token taken yet.
    None,
    /// A token was reserved; it becomes usable when the sleep ends.
    Waiting {
        sleep: Pin<Box<Sleep>>,
        since: Instant,
    },
    /// The token is usable; the next `call` consumes it.
    Ready { waited: Duration },
}

/// The service [`ThrottleLayer`] produces.
///
/// kube wraps the whole stack in a `tower::buffer::Buffer`, so `poll_ready`/`call` run on one
/// worker and the bucket gates every request of this client in arrival order.
pub struct Throttle<S> {
    inner: S,
    bucket: Option<Arc<TokenBucket>>,
    host: Arc<str>,
    permit: Permit,
    injected_panic: Option<Arc<InjectedPanic>>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Throttle<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        loop {
            match &mut self.permit {
                Permit::None => {
                    let delay = self
                        .bucket
                        .as_ref()
                        .map_or(Duration::ZERO, |bucket| bucket.reserve());
                    let since = Instant::now();
                    self.permit = if delay.is_zero() {
                        Permit::Ready { waited: delay }
                    } else {
                        Permit::Waiting {
                            sleep: Box::pin(tokio::time::sleep(delay)),
                            since,
                        }
                    };
                }
                Permit::Waiting { sleep, since } => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.permit = Permit::Ready {
                        waited: since.elapsed(),
                    };
                }
                Permit::Ready { .. } => return self.inner.poll_ready(cx).map_err(Into::into),
            }
        }
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if let Some(injected) = &self.injected_panic {
            injected.maybe_panic();
        }
        let waited = match std::mem::replace(&mut self.permit, Permit::None) {
            Permit::Ready { waited } => waited,
            // `call` without a successful `poll_ready` breaks the Service contract; don't
            // punish the request for it, but keep the bucket honest.
            _ => {
                if let Some(bucket) = &self.bucket {
                    bucket.reserve();
                }
                Duration::ZERO
            }
        };
        let verb = verb_of(&req);
        let method = req.method().as_str().to_string();
        let host = self.host.clone();
        if self.bucket.is_some() {
            RATE_LIMITER_DURATION
                .with_label_values(&[verb, &*host])
                .observe(waited.as_secs_f64());
        }
        if waited > Duration::from_secs(1) {
            tracing::debug!(?waited, uri = %req.uri(), "client-side throttling delayed a request");
        }
        let started = Instant::now();
        let response = self.inner.call(req);
        Box::pin(async move {
            let result = response.await.map_err(Into::into);
            let code = match &result {
                Ok(resp) => resp.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            REQUESTS_TOTAL
                .with_label_values(&[code.as_str(), method.as_str(), &*host])
                .inc();
            REQUEST_DURATION
                .with_label_values(&[verb, &*host])
                .observe(started.elapsed().as_secs_f64());
            result
        })
    }
}

/// Upstream labels latency by REST verb; a GET with `watch=true` is a WATCH.
fn verb_of<B>(req: &Request<B>) -> &'static str {
    let watch = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    match req.method().as_str() {
        "GET" if watch => "WATCH",
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

/// The user agent upstream builds for a named client: `<binary>/<version> (<os>/<arch>) <name>`.
pub fn user_agent(component: &str, version: &str, client_name: &str) -> String {
    format!(
        "{component}/v{version} ({}/{}) {client_name}",
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH)
    )
    .trim_end()
    .to_string()
}

/// Go spells architectures differently from Rust; keep the user agent in Go's terms.
fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Per-client limits as configured, mirroring `ClientConnection.{QPS,Burst}` (and `rest.Config`):
/// the raw values, 0 and negative included. [`Self::throttling`] says what they mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    pub qps: f32,
    pub burst: i32,
}

/// What a client does with its [`RateLimits`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Throttling {
    /// No rate limiter: a negative QPS (client-go builds none), NaN (client-go's `qps > 0`
    /// fails) or +inf (`rate.Inf`).
    Unlimited,
    /// A token bucket of `burst` refilling at `qps`, both positive and finite.
    Bucket { qps: f32, burst: u32 },
}

/// A burst no client can live with.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error(
    "burst {burst} is negative while QPS {qps} limits the client: every request would fail \
     (client-go: \"rate: Wait(n=1) exceeds limiter's burst {burst}\")"
)]
pub struct NegativeBurst {
    pub qps: f32,
    pub burst: i32,
}

impl RateLimits {
    /// client-go's `rest.DefaultQPS`, used when QPS is 0.
    pub const DEFAULT_QPS: f32 = 5.0;
    /// client-go's `rest.DefaultBurst`, used when burst is 0.
    pub const DEFAULT_BURST: i32 = 10;

    /// `RESTClientFor`: QPS 0 becomes 5 and burst 0 becomes 10; a token bucket is built only
    /// when QPS is then positive. A negative burst with a finite positive QPS makes client-go
    /// fail every request, so it is refused here instead.
    pub fn throttling(self) -> Result<Throttling, NegativeBurst> {
        let qps = if self.qps == 0.0 {
            Self::DEFAULT_QPS
        } else {
            self.qps
        };
        let burst = if self.burst == 0 {
            Self::DEFAULT_BURST
        } else {
            self.burst
        };
        // client-go's `qps > 0` is false for NaN too, which it leaves unlimited.
        if qps.is_nan() || qps <= 0.0 || qps == f32::INFINITY {
            return Ok(Throttling::Unlimited);
        }
        match u32::try_from(burst) {
            Ok(burst) => Ok(Throttling::Bucket { qps, burst }),
            Err(_) => Err(NegativeBurst {
                qps: self.qps,
                burst: self.burst,
            }),
        }
    }

    /// The namespace controller deletes whole namespaces and gets a larger budget upstream.
    pub fn scaled(self, qps_factor: f32, burst_factor: i32) -> Self {
        Self {
            qps: self.qps * qps_factor,
            burst: self.burst.saturating_mul(burst_factor),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("user agent for client {name:?} is not a valid header value")]
    UserAgent { name: String },
    #[error("building the API client for {name:?}: {source}")]
    Build { name: String, source: kube::Error },
    #[error("API client for {name:?}: {source}")]
    RateLimits {
        name: String,
        #[source]
        source: NegativeBurst,
    },
}

/// Who the controllers' clients authenticate as.
#[derive(Clone)]
enum ControllerCredentials {
    /// The kubeconfig's own credentials, like every other client.
    Root,
    /// The ServiceAccount `<namespace>/<client-name>` of each controller; tokens are minted
    /// through `root`, and `anonymous` is the kubeconfig stripped of its credentials.
    ServiceAccounts {
        root: Client,
        namespace: String,
        anonymous: Box<Config>,
    },
}

/// Builds one [`Client`] per named user, all from the same base configuration.
#[derive(Clone)]
pub struct ClientFactory {
    base: Config,
    limits: RateLimits,
    component: String,
    version: String,
    controllers: ControllerCredentials,
    target: failure::ApiTarget,
}

impl ClientFactory {
    pub fn new(base: Config, limits: RateLimits, version: impl Into<String>) -> Self {
        let target = failure::ApiTarget::new(base.cluster_url.to_string(), None);
        Self {
            base,
            limits,
            component: "kcm-rs".to_string(),
            version: version.into(),
            controllers: ControllerCredentials::Root,
            target,
        }
    }

    /// Records the `--kubeconfig` the base configuration came from, for error messages.
    pub fn with_kubeconfig_path(mut self, path: Option<&std::path::Path>) -> Self {
        self.target.kubeconfig = path.map(std::path::Path::to_path_buf);
        self
    }

    /// The server and kubeconfig every client talks to, for error messages.
    pub fn target(&self) -> &failure::ApiTarget {
        &self.target
    }

    /// Controllers authenticate as ServiceAccounts in `namespace` (upstream: `kube-system`),
    /// one per client name, as `--use-service-account-credentials` asks
    /// (`createClientBuilders`). Informers, leader election and the manager's own events keep
    /// the kubeconfig's credentials.
    pub fn with_service_account_credentials(
        mut self,
        namespace: &str,
    ) -> Result<Self, ClientError> {
        let root = self.client_for("controller-credentials")?;
        // Upstream: restclient.AnonymousClientConfig keeps server, CA and TLS settings only.
        let mut anonymous = self.base.clone();
        anonymous.auth_info = AuthInfo::default();
        self.controllers = ControllerCredentials::ServiceAccounts {
            root,
            namespace: namespace.to_owned(),
            anonymous: Box::new(anonymous),
        };
        Ok(self)
    }

    pub fn base_config(&self) -> &Config {
        &self.base
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// A client with the kubeconfig's credentials, the default limits and user agent suffix
    /// `name`: for informers, leader election and the manager itself.
    pub fn client_for(&self, name: &str) -> Result<Client, ClientError> {
        self.client_with_limits(name, self.limits)
    }

    /// Like [`Self::client_for`], with its own bucket of the given size.
    pub fn client_with_limits(
        &self,
        name: &str,
        limits: RateLimits,
    ) -> Result<Client, ClientError> {
        self.build(name, limits, self.base.clone(), None)
    }

    /// The client a controller acts through: its own ServiceAccount when configured, otherwise
    /// the same as [`Self::client_for`].
    pub fn controller_client(&self, name: &str) -> Result<Client, ClientError> {
        self.controller_client_with_limits(name, self.limits)
    }

    /// Like [`Self::controller_client`], with its own bucket of the given size.
    pub fn controller_client_with_limits(
        &self,
        name: &str,
        limits: RateLimits,
    ) -> Result<Client, ClientError> {
        match &self.controllers {
            ControllerCredentials::Root => self.client_with_limits(name, limits),
            ControllerCredentials::ServiceAccounts {
                root,
                namespace,
                anonymous,
            } => {
                let source =
                    service_account::ServiceAccountTokenSource::new(root.clone(), namespace, name);
                let layer = service_account::BearerTokenLayer::new(source);
                self.build(name, limits, (**anonymous).clone(), Some(layer))
            }
        }
    }

    fn build(
        &self,
        name: &str,
        limits: RateLimits,
        mut config: Config,
        bearer: Option<service_account::BearerTokenLayer>,
    ) -> Result<Client, ClientError> {
        let agent = user_agent(&self.component, &self.version, name);
        let value = HeaderValue::from_str(&agent).map_err(|_| ClientError::UserAgent {
            name: name.to_string(),
        })?;
        config.headers.retain(|(header, _)| header != USER_AGENT);
        config.headers.push((USER_AGENT, value));
        let host = config
            .cluster_url
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let bucket = match limits.throttling() {
            Ok(Throttling::Unlimited) => None,
            Ok(Throttling::Bucket { qps, burst }) => {
                Some(Arc::new(TokenBucket::new(f64::from(qps), burst)))
            }
            Err(source) => {
                return Err(ClientError::RateLimits {
                    name: name.to_string(),
                    source,
                });
            }
        };
        let builder = ClientBuilder::try_from(config).map_err(|source| ClientError::Build {
            name: name.to_string(),
            source,
        })?;
        let mut throttle = ThrottleLayer::new(bucket, host);
        throttle.injected_panic = InjectedPanic::from_env(name);
        Ok(match bearer {
            Some(bearer) => builder.with_layer(&bearer).with_layer(&throttle).build(),
            None => builder.with_layer(&throttle).build(),
        })
    }
}

#[cfg(test)]
mod tests;
