//! Controller credentials from ServiceAccount tokens (`--use-service-account-credentials`).
//!
//! With the flag on, upstream gives each controller the identity
//! `system:serviceaccount:kube-system:<client-name>`, so the bootstrap roles
//! `system:controller:<client-name>` authorize it and the manager's own identity needs little
//! more than the right to mint tokens. kubeadm turns it on; a drop-in must too.
//!
//! This mirrors client-go's `DynamicControllerClientBuilder`: the controller's client keeps the
//! kubeconfig's server and CA but none of its credentials, and a [`ServiceAccountTokenSource`]
//! supplies a bearer token obtained through the root client (get-or-create the ServiceAccount,
//! then a TokenRequest for [`TOKEN_LIFETIME_SECONDS`]). The token is fetched on first use and
//! again once 80% of its lifetime has passed, or at once after the apiserver answers 401. The
//! lifetime is measured on the local monotonic clock from the moment the token was requested,
//! never by comparing the apiserver's timestamps with the local clock.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, Request, Response, StatusCode, header::AUTHORIZATION};
use k8s_openapi::api::{
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::ServiceAccount,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use parking_lot::Mutex;
use tokio::time::Instant;
use tower::{BoxError, Layer, Service};

/// What upstream's dynamic client builder asks for (`defaultExpirationSeconds`).
pub const TOKEN_LIFETIME_SECONDS: i64 = 3600;
/// A token is renewed when this share of its lifetime is left (`defaultLeewayPercent`).
const LEEWAY_PERCENT: u64 = 20;
/// Attempts per fetch, with doubling pauses from [`FIRST_RETRY_DELAY`] (upstream: 4 steps of 500ms·2ⁿ).
const FETCH_ATTEMPTS: u32 = 4;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("ServiceAccount {namespace}/{name}: {source}")]
    ServiceAccount {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("TokenRequest for ServiceAccount {namespace}/{name}: {source}")]
    Request {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("TokenRequest for ServiceAccount {namespace}/{name}: {reason}")]
    Unusable {
        namespace: String,
        name: String,
        reason: &'static str,
    },
}

/// A token ready to send, and when to fetch the next one.
#[derive(Clone)]
struct CachedToken {
    authorization: HeaderValue,
    refresh_at: Instant,
}

/// Bearer tokens of one ServiceAccount, fetched through the manager's root client and cached.
pub struct ServiceAccountTokenSource {
    root: Client,
    namespace: String,
    name: String,
    cached: Mutex<Option<CachedToken>>,
    /// One fetch at a time: callers that arrive during a fetch wait for its result.
    fetching: tokio::sync::Mutex<()>,
}

impl ServiceAccountTokenSource {
    pub fn new(root: Client, namespace: &str, name: &str) -> Arc<Self> {
        Arc::new(Self {
            root,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            cached: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The `Authorization` header value to send now, fetching a token if none is fresh.
    pub async fn authorization(&self) -> Result<HeaderValue, TokenError> {
        if let Some(value) = self.fresh() {
            return Ok(value);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(value) = self.fresh() {
            return Ok(value);
        }
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 1;
        let token = loop {
            match self.fetch().await {
                Ok(token) => break token,
                Err(error) if attempt < FETCH_ATTEMPTS => {
                    tracing::debug!(%error, attempt, "fetching a service account token failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        };
        let value = token.authorization.clone();
        *self.cached.lock() = Some(token);
        Ok(value)
    }

    /// Forgets the cached token if it is still `rejected`, so the next request fetches another.
    pub fn invalidate(&self, rejected: &HeaderValue) {
        let mut cached = self.cached.lock();
        if cached
            .as_ref()
            .is_some_and(|token| token.authorization == *rejected)
        {
            tracing::info!(
                namespace = %self.namespace,
                name = %self.name,
                "apiserver rejected the service account token; fetching a new one"
            );
            *cached = None;
        }
    }

    fn fresh(&self) -> Option<HeaderValue> {
        self.cached
            .lock()
            .as_ref()
            .filter(|token| Instant::now() < token.refresh_at)
            .map(|token| token.authorization.clone())
    }

    // Upstream: tokenSourceImpl.Token and getOrCreateServiceAccount.
    async fn fetch(&self) -> Result<CachedToken, TokenError> {
        self.ensure_service_account().await?;
        let requested = Instant::now();
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(TOKEN_LIFETIME_SECONDS),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.root.clone(), &self.namespace);
        let granted = api
            .create_token_request(&self.name, &PostParams::default(), &request)
            .await
            .map_err(|source| TokenError::Request {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                source,
            })?;
        let unusable = |reason| TokenError::Unusable {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            reason,
        };
        let token = granted
            .status
            .map(|status| status.token)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| unusable("the response carries no token"))?;
        let lifetime = granted
            .spec
            .expiration_seconds
            .and_then(|seconds| u64::try_from(seconds).ok())
            .filter(|seconds| *seconds > 0)
            .ok_or_else(|| unusable("the response carries no expirationSeconds"))?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| unusable("the token is not a valid header value"))?;
        authorization.set_sensitive(true);
        let usable_for = Duration::from_secs(lifetime * (100 - LEEWAY_PERCENT) / 100);
        tracing::debug!(namespace = %self.namespace, name = %self.name, lifetime, "fetched a service account token");
        Ok(CachedToken {
            authorization,
            refresh_at: requested + usable_for,
        })
    }

    /// Gets the ServiceAccount, creating it when missing (another manager may race us to it).
    async fn ensure_service_account(&self) -> Result<(), TokenError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.root.clone(), &self.namespace);
        let failed = |source| TokenError::ServiceAccount {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        };
        if api.get_opt(&self.name).await.map_err(failed)?.is_some() {
            return Ok(());
        }
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        match api.create(&PostParams::default(), &account).await {
            Ok(_) => {
                tracing::info!(namespace = %self.namespace, name = %self.name, "created service account");
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(source) => Err(failed(source)),
        }
    }
}

/// Tower layer that authenticates every request with a [`ServiceAccountTokenSource`]'s token.
#[derive(Clone)]
pub struct BearerTokenLayer {
    source: Arc<ServiceAccountTokenSource>,
}

impl BearerTokenLayer {
    pub fn new(source: Arc<ServiceAccountTokenSource>) -> Self {
        Self { source }
    }
}

impl<S> Layer<S> for BearerTokenLayer {
    type Service = BearerToken<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerToken {
            inner,
            source: self.source.clone(),
            token: TokenState::Missing,
        }
    }
}

type TokenFuture = Pin<Box<dyn Future<Output = Result<HeaderValue, TokenError>> + Send>>;

/// Where the service stands with the token for the next request.
enum TokenState {
    Missing,
    Fetching(TokenFuture),
    /// The outcome for the next `call`. A failed fetch is reported through that call's
    /// response, never from `poll_ready`: kube's `Buffer` would treat a `poll_ready` error as
    /// the end of the client.
    Ready(Result<HeaderValue, Arc<TokenError>>),
}

/// The service [`BearerTokenLayer`] produces.
pub struct BearerToken<S> {
    inner: S,
    source: Arc<ServiceAccountTokenSource>,
    token: TokenState,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerToken<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        loop {
            match &mut self.token {
                TokenState::Missing => {
                    self.token = match self.source.fresh() {
                        Some(value) => TokenState::Ready(Ok(value)),
                        None => {
                            let source = self.source.clone();
                            TokenState::Fetching(Box::pin(
                                async move { source.authorization().await },
                            ))
                        }
                    };
                }
                TokenState::Fetching(fetch) => match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(outcome) => {
                        self.token = TokenState::Ready(outcome.map_err(Arc::new));
                    }
                },
                TokenState::Ready(_) => return self.inner.poll_ready(cx).map_err(Into::into),
            }
        }
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let authorization = match std::mem::replace(&mut self.token, TokenState::Missing) {
            TokenState::Ready(Ok(value)) => value,
            TokenState::Ready(Err(error)) => {
                return Box::pin(std::future::ready(Err(BoxError::from(error.to_string()))));
            }
            _ => {
                return Box::pin(std::future::ready(Err(BoxError::from(
                    "service account token requested without poll_ready",
                ))));
            }
        };
        req.headers_mut()
            .insert(AUTHORIZATION, authorization.clone());
        let source = self.source.clone();
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await.map_err(Into::into)?;
            if response.status() == StatusCode::UNAUTHORIZED {
                source.invalidate(&authorization);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests;
