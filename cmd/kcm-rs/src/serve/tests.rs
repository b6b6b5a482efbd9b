use super::*;
use http_body_util::BodyExt;

fn state() -> ServingState {
    let checks = HealthChecks::new();
    checks.add_health("replicaset-controller", || Ok(()));
    checks.add_ready("informers-synced", || Err("pods not synced".into()));
    ServingState {
        checks,
        configz: Arc::new("{\"kubecontrollermanager.config.k8s.io\":{}}".into()),
    }
}

async fn body(resp: Response<Full<Bytes>>) -> (StatusCode, String) {
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn get(path: &str) -> Request<()> {
    Request::get(path).body(()).expect("request")
}

#[tokio::test]
async fn routes() {
    let s = state();
    assert_eq!(
        body(route(&s, &get("/healthz"))).await,
        (StatusCode::OK, "ok".into())
    );
    let (code, text) = body(route(&s, &get("/healthz?verbose"))).await;
    assert_eq!(code, StatusCode::OK);
    assert!(text.contains("[+]replicaset-controller ok"), "{text}");
    assert_eq!(
        body(route(&s, &get("/healthz/replicaset-controller")))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        body(route(&s, &get("/healthz/nope"))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        body(route(&s, &get("/livez"))).await,
        (StatusCode::OK, "ok".into())
    );
    let (code, text) = body(route(&s, &get("/readyz"))).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text.contains("[-]informers-synced failed"), "{text}");
    assert_eq!(
        body(route(&s, &get("/readyz?exclude=informers-synced")))
            .await
            .0,
        StatusCode::OK
    );
    let (code, text) = body(route(&s, &get("/configz"))).await;
    assert_eq!(code, StatusCode::OK);
    assert!(text.contains("kubecontrollermanager.config.k8s.io"));
    assert_eq!(body(route(&s, &get("/metrics"))).await.0, StatusCode::OK);
    assert_eq!(
        body(route(&s, &get("/other"))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn serves_tls_with_a_self_signed_pair() {
    let options = ServingOptions {
        bind_address: "127.0.0.1".into(),
        port: 0,
        cert_file: None,
        key_file: None,
    };
    let cancel = CancellationToken::new();
    let addr = start(&options, state(), cancel.clone())
        .await
        .expect("serving starts");
    assert_ne!(addr.port(), 0);
    // A second server on the same port fails with an error naming the flags.
    let taken = ServingOptions {
        port: addr.port(),
        ..options
    };
    let err = start(&taken, state(), cancel.clone())
        .await
        .expect_err("port is taken");
    assert!(err.to_string().contains("--secure-port"), "{err}");
    cancel.cancel();
}

#[test]
fn half_a_pair_is_an_error() {
    let options = ServingOptions {
        bind_address: "127.0.0.1".into(),
        port: 0,
        cert_file: Some("/nonexistent.crt".into()),
        key_file: None,
    };
    assert!(matches!(tls_config(&options), Err(ServeError::HalfPair)));
    let options = ServingOptions {
        key_file: Some("/nonexistent.key".into()),
        ..options
    };
    let err = tls_config(&options).expect_err("missing file");
    assert!(
        err.to_string().contains("--tls-cert-file /nonexistent.crt"),
        "{err}"
    );
}
