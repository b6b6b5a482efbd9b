//! Bearer tokens through `TokenReview` against the authentication kubeconfig's cluster, cached
//! (`webhook.New` wrapped in `cache.New(…, cacheErrs=false, ttl, ttl)`).
//!
//! Cache key: HMAC-SHA256 of the token under a per-process random key, so the map holds no
//! token. Answers ("this user" and "not authenticated") are cached for
//! `--authentication-token-webhook-cache-ttl`; errors (apiserver unreachable, a TokenReview that
//! reports an error) are not. Concurrent reviews of one token are coalesced into one call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::{Api, PostParams};
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::authn::User;
use super::retry;

/// The most cached tokens; past it, expired entries go first, then everything.
const MAX_ENTRIES: usize = 32 * 1024;

type Key = [u8; 32];
type Reviewed = Result<Option<User>, String>;

/// Reviews tokens with a cache.
#[derive(Clone)]
pub struct TokenReviewer {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    bucket: kcm_shared::token_bucket::TokenBucket,
    ttl: Duration,
    hmac: ring::hmac::Key,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cache: HashMap<Key, (Instant, Option<User>)>,
    in_flight: HashMap<Key, broadcast::Sender<Reviewed>>,
}

impl TokenReviewer {
    pub fn new(client: kube::Client, ttl: Duration) -> Result<Self, String> {
        let rng = ring::rand::SystemRandom::new();
        let hmac = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| "no system randomness for the token cache key".to_owned())?;
        Ok(TokenReviewer {
            inner: Arc::new(Inner {
                client,
                bucket: retry::bucket(),
                ttl,
                hmac,
                state: Mutex::new(State::default()),
            }),
        })
    }

    /// `Ok(Some(user))` authenticated, `Ok(None)` not, `Err` the review failed.
    pub async fn review(&self, token: &str) -> Reviewed {
        let inner = &self.inner;
        let mut key = [0u8; 32];
        key.copy_from_slice(ring::hmac::sign(&inner.hmac, token.as_bytes()).as_ref());
        let waiter = {
            let mut state = inner.state.lock();
            if let Some((expires, answer)) = state.cache.get(&key) {
                if Instant::now() < *expires {
                    super::metrics::token_cache("hit");
                    return Ok(answer.clone());
                }
                state.cache.remove(&key);
            }
            match state.in_flight.get(&key) {
                Some(sender) => Some(sender.subscribe()),
                None => {
                    let (sender, _) = broadcast::channel(1);
                    state.in_flight.insert(key, sender);
                    None
                }
            }
        };
        if let Some(mut waiter) = waiter {
            super::metrics::token_cache("coalesced");
            return waiter
                .recv()
                .await
                .unwrap_or_else(|_| Err("token review abandoned".to_owned()));
        }
        super::metrics::token_cache("miss");
        let result = self.call(token).await;
        let mut state = inner.state.lock();
        if let Ok(answer) = &result
            && !inner.ttl.is_zero()
        {
            if state.cache.len() >= MAX_ENTRIES {
                let now = Instant::now();
                state.cache.retain(|_, (expires, _)| *expires > now);
                if state.cache.len() >= MAX_ENTRIES {
                    state.cache.clear();
                }
            }
            state
                .cache
                .insert(key, (Instant::now() + inner.ttl, answer.clone()));
        }
        if let Some(sender) = state.in_flight.remove(&key) {
            let _ = sender.send(result.clone());
        }
        result
    }

    /// One TokenReview (`webhook.WebhookTokenAuthenticator.AuthenticateToken`), retried as
    /// `DefaultAuthWebhookRetryBackoff` for retryable failures.
    async fn call(&self, token: &str) -> Reviewed {
        let api: Api<TokenReview> = Api::all(self.inner.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: None,
            },
            ..Default::default()
        };
        let created = retry::with_backoff("tokenreviews", &self.inner.bucket, || async {
            api.create(&PostParams::default(), &review).await
        })
        .await?;
        let Some(status) = created.status else {
            return Ok(None);
        };
        if status.authenticated != Some(true) {
            // An error reported by the review is an error, not a cacheable "no".
            return match status.error.filter(|e| !e.is_empty()) {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        let user = status.user.unwrap_or_default();
        Ok(Some(User {
            name: user.username.unwrap_or_default(),
            uid: user.uid.unwrap_or_default(),
            groups: user.groups.unwrap_or_default(),
            extra: user.extra.unwrap_or_default(),
        }))
    }
}
