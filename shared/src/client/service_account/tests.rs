use std::{
    convert::Infallible,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use kube::client::Body;
use serde_json::json;
use tower::ServiceExt;

use super::*;

/// What the fake apiserver behind the root client has seen and how it behaves.
#[derive(Default)]
struct FakeApiserver {
    account_exists: AtomicBool,
    accounts_created: AtomicUsize,
    tokens_minted: AtomicUsize,
    refuse_tokens: AtomicBool,
}

fn respond(status: u16, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::from(body.to_string().into_bytes()))
        .expect("response")
}

fn not_found() -> Response<Body> {
    respond(
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
    )
}

/// A root client answering just the calls a token source makes.
fn root_client(fake: Arc<FakeApiserver>) -> Client {
    let service = tower::service_fn(move |req: Request<Body>| {
        let fake = fake.clone();
        async move {
            let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "replicaset-controller", "namespace": "kube-system"}});
            let path = req.uri().path().to_owned();
            let response = match (req.method().as_str(), path.as_str()) {
                ("GET", "/api/v1/namespaces/kube-system/serviceaccounts/replicaset-controller") => {
                    if fake.account_exists.load(Ordering::SeqCst) {
                        respond(200, account)
                    } else {
                        not_found()
                    }
                }
                ("POST", "/api/v1/namespaces/kube-system/serviceaccounts") => {
                    fake.account_exists.store(true, Ordering::SeqCst);
                    fake.accounts_created.fetch_add(1, Ordering::SeqCst);
                    respond(201, account)
                }
                (
                    "POST",
                    "/api/v1/namespaces/kube-system/serviceaccounts/replicaset-controller/token",
                ) if fake.account_exists.load(Ordering::SeqCst)
                    && !fake.refuse_tokens.load(Ordering::SeqCst) =>
                {
                    let n = fake.tokens_minted.fetch_add(1, Ordering::SeqCst) + 1;
                    respond(
                        201,
                        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"audiences": [], "expirationSeconds": TOKEN_LIFETIME_SECONDS},
                        "status": {"token": format!("token-{n}"), "expirationTimestamp": "2000-01-01T00:00:00Z"}}),
                    )
                }
                _ => not_found(),
            };
            Ok::<_, Infallible>(response)
        }
    });
    Client::new(service, "default")
}

fn source(fake: &Arc<FakeApiserver>) -> Arc<ServiceAccountTokenSource> {
    ServiceAccountTokenSource::new(
        root_client(fake.clone()),
        "kube-system",
        "replicaset-controller",
    )
}

fn bearer(n: usize) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer token-{n}")).expect("header")
}

#[tokio::test(start_paused = true)]
async fn a_token_is_reused_until_a_fifth_of_its_lifetime_is_left() {
    let fake = Arc::new(FakeApiserver::default());
    fake.account_exists.store(true, Ordering::SeqCst);
    let source = source(&fake);
    assert_eq!(source.authorization().await.expect("token"), bearer(1));
    assert_eq!(source.authorization().await.expect("token"), bearer(1));
    // The expirationTimestamp lies in the past; only the local clock since the request counts.
    tokio::time::advance(Duration::from_secs(2879)).await;
    assert_eq!(source.authorization().await.expect("token"), bearer(1));
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(source.authorization().await.expect("token"), bearer(2));
    assert_eq!(fake.tokens_minted.load(Ordering::SeqCst), 2);
    assert_eq!(fake.accounts_created.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_missing_account_is_created_before_the_first_token() {
    let fake = Arc::new(FakeApiserver::default());
    let source = source(&fake);
    assert_eq!(source.authorization().await.expect("token"), bearer(1));
    assert_eq!(fake.accounts_created.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn only_the_rejected_token_is_forgotten() {
    let fake = Arc::new(FakeApiserver::default());
    fake.account_exists.store(true, Ordering::SeqCst);
    let source = source(&fake);
    let first = source.authorization().await.expect("token");
    source.invalidate(&first);
    let second = source.authorization().await.expect("token");
    assert_eq!(second, bearer(2));
    // A late 401 for the old token must not throw away the new one.
    source.invalidate(&first);
    assert_eq!(source.authorization().await.expect("token"), bearer(2));
    assert_eq!(fake.tokens_minted.load(Ordering::SeqCst), 2);
}

type Echoed = Response<Option<HeaderValue>>;
type EchoFuture = std::future::Ready<Result<Echoed, BoxError>>;

/// Answers with `status` and echoes the Authorization header it got.
fn downstream(
    status: u16,
) -> impl Service<Request<()>, Response = Echoed, Error = BoxError, Future = EchoFuture> {
    tower::service_fn(move |req: Request<()>| {
        let sent = req.headers().get(AUTHORIZATION).cloned();
        std::future::ready(Ok(Response::builder()
            .status(status)
            .body(sent)
            .expect("response")))
    })
}

#[tokio::test(start_paused = true)]
async fn the_layer_authenticates_requests_and_a_401_fetches_a_new_token() {
    let fake = Arc::new(FakeApiserver::default());
    fake.account_exists.store(true, Ordering::SeqCst);
    let layer = BearerTokenLayer::new(source(&fake));

    let ok = layer.layer(downstream(200));
    let response = ok.oneshot(Request::new(())).await.expect("response");
    assert_eq!(response.into_body(), Some(bearer(1)));

    let rejected = layer.layer(downstream(401));
    let response = rejected.oneshot(Request::new(())).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.into_body(), Some(bearer(1)));

    let after = layer.layer(downstream(200));
    let response = after.oneshot(Request::new(())).await.expect("response");
    assert_eq!(response.into_body(), Some(bearer(2)));
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_fails_the_request_not_the_service() {
    let fake = Arc::new(FakeApiserver::default());
    fake.account_exists.store(true, Ordering::SeqCst);
    fake.refuse_tokens.store(true, Ordering::SeqCst);
    let mut service = BearerTokenLayer::new(source(&fake)).layer(downstream(200));

    // poll_ready succeeds (an error there would end kube's Buffer for good) ...
    let ready = service
        .ready()
        .await
        .expect("ready despite the failed fetch");
    let error = ready
        .call(Request::new(()))
        .await
        .expect_err("no token, no request");
    assert!(error.to_string().contains("TokenRequest"), "{error}");

    // ... so the same service works once tokens can be had again.
    fake.refuse_tokens.store(false, Ordering::SeqCst);
    let response = service
        .ready()
        .await
        .expect("ready")
        .call(Request::new(()))
        .await
        .expect("response");
    assert_eq!(response.into_body(), Some(bearer(1)));
}
