//! Retries of a delegated call (`DefaultAuthWebhookRetryBackoff`: 500 ms × 1.5, jitter 0.2,
//! 5 steps), for the failures upstream's `DefaultShouldRetry` retries: 429, 500, 504 and
//! timeouts. A refused connection is not retried, so an apiserver outage fails fast. Every
//! attempt first takes a token from the delegation's bucket (upstream's delegated clients run at
//! QPS 200, burst 400), so a flood of new tokens cannot hammer the apiserver.

use std::future::Future;
use std::time::Duration;

use kcm_shared::token_bucket::TokenBucket;
use rand::Rng;

const STEPS: u32 = 5;
const INITIAL: Duration = Duration::from_millis(500);
const FACTOR: f64 = 1.5;
const JITTER: f64 = 0.2;
/// Upstream's delegated clients' client-side rate limit.
pub const QPS: f64 = 200.0;
pub const BURST: u32 = 400;

/// The bucket of one delegation client.
pub fn bucket() -> TokenBucket {
    TokenBucket::new(QPS, BURST)
}

/// Calls `f` until it succeeds, fails in a way not worth retrying, or the steps run out; the
/// error text names the resource and the cause.
pub async fn with_backoff<T, F, Fut>(
    resource: &str,
    bucket: &TokenBucket,
    mut f: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = INITIAL;
    let mut step = 1;
    loop {
        let wait = bucket.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        match f().await {
            Ok(value) => {
                super::metrics::delegated(resource, "201");
                return Ok(value);
            }
            Err(error) => {
                super::metrics::delegated(resource, &code(&error));
                if step >= STEPS || !retryable(&error) {
                    return Err(format!("{resource}: {error}"));
                }
                let jitter = rand::rng().random_range(0.0..=JITTER);
                tokio::time::sleep(delay.mul_f64(1.0 + jitter)).await;
                delay = delay.mul_f64(FACTOR);
                step += 1;
            }
        }
    }
}

fn code(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.code.to_string(),
        _ => "<error>".to_owned(),
    }
}

fn retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 504),
        other => {
            let text = format!("{other:?}").to_ascii_lowercase();
            !text.contains("refused") && (text.contains("timed out") || text.contains("reset"))
        }
    }
}
