//! Serving-port metrics with upstream's names (`authentication_token_cache_request_total`,
//! `apiserver_delegated_authn_request_total`, `apiserver_delegated_authz_request_total`,
//! `authentication_attempts`, `authorization_attempts_total`), in the default registry that
//! `/metrics` renders.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, register_int_counter_vec};

static TOKEN_CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "authentication_token_cache_request_total",
        "Number of token cache lookups, by status (hit, miss, coalesced).",
        &["status"]
    )
    .expect("authentication_token_cache_request_total registers once")
});

static DELEGATED_AUTHN: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "apiserver_delegated_authn_request_total",
        "Number of HTTP requests partitioned by status code.",
        &["code"]
    )
    .expect("apiserver_delegated_authn_request_total registers once")
});

static DELEGATED_AUTHZ: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "apiserver_delegated_authz_request_total",
        "Number of HTTP requests partitioned by status code.",
        &["code"]
    )
    .expect("apiserver_delegated_authz_request_total registers once")
});

static AUTHENTICATION_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "authentication_attempts",
        "Counter of authenticated attempts.",
        &["result"]
    )
    .expect("authentication_attempts registers once")
});

static AUTHORIZATION_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "authorization_attempts_total",
        "Counter of authorization attempts broken down by result. It can be either 'allowed', 'denied', 'no-opinion' or 'error'.",
        &["result"]
    )
    .expect("authorization_attempts_total registers once")
});

/// `success` (a user, anonymous included, as upstream counts it) or `failure` (401).
pub fn authentication(result: &str) {
    AUTHENTICATION_ATTEMPTS.with_label_values(&[result]).inc();
}

/// `allowed`, `denied` (403), `error` (500).
pub fn authorization(result: &str) {
    AUTHORIZATION_ATTEMPTS.with_label_values(&[result]).inc();
}

pub fn token_cache(status: &str) {
    TOKEN_CACHE.with_label_values(&[status]).inc();
}

/// One delegated call (`tokenreviews` or `subjectaccessreviews`) and its HTTP status code
/// (`<error>` when no response came back).
pub fn delegated(resource: &str, code: &str) {
    let family = if resource == "tokenreviews" {
        &DELEGATED_AUTHN
    } else {
        &DELEGATED_AUTHZ
    };
    family.with_label_values(&[code]).inc();
}
