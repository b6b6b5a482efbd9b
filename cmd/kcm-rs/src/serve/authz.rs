//! Delegated authorization (`DelegatingAuthorizationOptions.toAuthorizer`): a union of
//! `kubernetes.io/always-allow-groups` (`system:masters`), `kubernetes.io/always-allow-paths`
//! and `kubernetes.io/webhook` (a `SubjectAccessReview` for the non-resource path and verb),
//! the first Allow or Deny winning.
//!
//! The webhook's answers are cached by the whole review spec (as JSON), Allowed for
//! `--authorization-webhook-cache-authorized-ttl`, anything else for the unauthorized TTL;
//! errors are not cached. Without an authorization kubeconfig there is no webhook and every
//! request that is not on the paths or from the groups is forbidden.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::authn::User;
use super::retry;

/// Upstream's webhook cache size (`lru.New(8192)`); past it, expired entries go, then all.
const MAX_ENTRIES: usize = 8192;
/// Reviews whose key is longer are not cached (upstream's `maxAuthorizerCacheKeyLength`-ish
/// bound of 10000 bytes).
const MAX_KEY_BYTES: usize = 10_000;

/// One authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
    NoOpinion(String),
}

/// The union's verdict for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// 403 with the reason to append to the message (may be empty).
    Forbid(String),
    /// 500: an authorizer failed and none allowed.
    Error(String),
}

/// `path.NewAuthorizer`: exact paths and `prefix*` patterns; a leading `/` is optional.
#[derive(Debug, Clone)]
pub struct AlwaysAllowPaths {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl AlwaysAllowPaths {
    pub fn new(paths: &[String]) -> Self {
        let mut exact = Vec::new();
        let mut prefixes = Vec::new();
        for p in paths {
            let p = p.trim_start_matches('/');
            match p.strip_suffix('*') {
                Some(prefix) => prefixes.push(prefix.to_owned()),
                None => exact.push(p.to_owned()),
            }
        }
        AlwaysAllowPaths { exact, prefixes }
    }

    pub fn allows(&self, path: &str) -> bool {
        let p = path.trim_start_matches('/');
        self.exact.iter().any(|e| e == p) || self.prefixes.iter().any(|pre| p.starts_with(pre))
    }
}

/// The authorizer chain.
pub struct Authorizer {
    pub groups: Vec<String>,
    pub paths: AlwaysAllowPaths,
    pub webhook: Option<SubjectAccessReviewer>,
}

impl Authorizer {
    /// `union.Authorize` for a non-resource request; `verb` is the lowercased method.
    pub async fn authorize(&self, user: &User, verb: &str, path: &str) -> Verdict {
        let mut reasons = Vec::new();
        let mut error = None;
        if user.groups.iter().any(|g| self.groups.contains(g)) {
            return Verdict::Allow;
        }
        if self.paths.allows(path) {
            return Verdict::Allow;
        }
        if let Some(webhook) = &self.webhook {
            match webhook.review(user, verb, path).await {
                Ok(Decision::Allow) => return Verdict::Allow,
                Ok(Decision::Deny(reason)) => return Verdict::Forbid(reason),
                Ok(Decision::NoOpinion(reason)) => {
                    if !reason.is_empty() {
                        reasons.push(format!("kubernetes.io/webhook: {reason}"));
                    }
                }
                Err(e) => error = Some(e),
            }
        }
        match error {
            Some(e) => Verdict::Error(e),
            None => Verdict::Forbid(reasons.join("\n")),
        }
    }
}

/// SubjectAccessReviews with a cache.
pub struct SubjectAccessReviewer {
    client: kube::Client,
    bucket: kcm_shared::token_bucket::TokenBucket,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Decision)>>,
}

impl SubjectAccessReviewer {
    pub fn new(client: kube::Client, allowed_ttl: Duration, denied_ttl: Duration) -> Self {
        SubjectAccessReviewer {
            client,
            bucket: retry::bucket(),
            allowed_ttl,
            denied_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn review(&self, user: &User, verb: &str, path: &str) -> Result<Decision, String> {
        let spec = spec(user, verb, path);
        let key = serde_json::to_string(&spec).unwrap_or_default();
        let cacheable = !key.is_empty() && key.len() <= MAX_KEY_BYTES;
        if cacheable {
            let mut cache = self.cache.lock();
            if let Some((expires, decision)) = cache.get(&key) {
                if Instant::now() < *expires {
                    return Ok(decision.clone());
                }
                cache.remove(&key);
            }
        }
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let review = SubjectAccessReview {
            spec,
            ..Default::default()
        };
        let created = retry::with_backoff("subjectaccessreviews", &self.bucket, || async {
            api.create(&PostParams::default(), &review).await
        })
        .await?;
        let status = created.status.unwrap_or_default();
        let reason = status.reason.unwrap_or_default();
        let decision = if status.allowed {
            Decision::Allow
        } else if status.denied == Some(true) {
            Decision::Deny(reason)
        } else {
            Decision::NoOpinion(reason)
        };
        let ttl = if decision == Decision::Allow {
            self.allowed_ttl
        } else {
            self.denied_ttl
        };
        if cacheable && !ttl.is_zero() {
            let mut cache = self.cache.lock();
            if cache.len() >= MAX_ENTRIES {
                let now = Instant::now();
                cache.retain(|_, (expires, _)| *expires > now);
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now() + ttl, decision.clone()));
        }
        Ok(decision)
    }
}

/// The review upstream's webhook authorizer sends for a non-resource request.
fn spec(user: &User, verb: &str, path: &str) -> SubjectAccessReviewSpec {
    SubjectAccessReviewSpec {
        user: Some(user.name.clone()),
        uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
        groups: Some(user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
        non_resource_attributes: Some(NonResourceAttributes {
            path: Some(path.to_owned()),
            verb: Some(verb.to_owned()),
        }),
        resource_attributes: None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
