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

fn options() -> ServingOptions {
    ServingOptions {
        bind_address: "127.0.0.1".parse().expect("ip"),
        port: 0,
        cert_file: None,
        key_file: None,
        serving: ServingConfig::default(),
    }
}

#[tokio::test]
async fn serves_tls_with_a_self_signed_pair() {
    let cancel = CancellationToken::new();
    let addr = start(
        &options(),
        state().checks,
        |a| format!("{a}"),
        cancel.clone(),
    )
    .await
    .expect("serving starts");
    assert_ne!(addr.port(), 0);
    // A second server on the same port fails with an error naming the flags.
    let taken = ServingOptions {
        port: addr.port(),
        ..options()
    };
    let err = start(&taken, state().checks, |a| format!("{a}"), cancel.clone())
        .await
        .expect_err("port is taken");
    assert!(err.to_string().contains("--secure-port"), "{err}");
    // Anonymous: /healthz is always allowed, /metrics needs authorization (none configured).
    let client = support::Client::new(addr, None);
    let (code, _, body) = client.get("/healthz").await;
    assert_eq!(code, 200, "{body}");
    let (code, headers, body) = client.get("/metrics").await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"forbidden: User \\\"system:anonymous\\\" cannot get path \\\"/metrics\\\"\",\"reason\":\"Forbidden\",\"details\":{},\"code\":403}\n"
    );
    assert!(
        headers.contains("x-content-type-options: nosniff"),
        "{headers}"
    );
    assert!(
        headers.contains("cache-control: no-cache, private"),
        "{headers}"
    );
    // /configz is rendered from the bound address.
    let (code, _, _) = client.get("/configz").await;
    assert_eq!(code, 403);
    cancel.cancel();
}

#[tokio::test]
async fn client_certificates_from_the_client_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = support::Pki::new();
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, pki.ca_pem()).expect("write ca");
    let mut options = options();
    options.serving.authentication.client_ca_file = Some(ca_file);
    let cancel = CancellationToken::new();
    let addr = start(&options, state().checks, |a| format!("{a}"), cancel.clone())
        .await
        .expect("serving starts");

    // system:masters: everything, without any SubjectAccessReview.
    let masters = support::Client::new(addr, Some(pki.client("alice", &["system:masters"])));
    assert_eq!(masters.get("/metrics").await.0, 200);
    let (code, _, body) = masters.get("/configz").await;
    assert_eq!((code, body.as_str()), (200, addr.to_string().as_str()));
    assert_eq!(masters.request("POST", "/metrics").await.0, 200);
    // Signed by the client CA, not a master, no authorizer: 403 naming the user.
    let bob = support::Client::new(addr, Some(pki.client("bob", &["devs"])));
    let (code, _, body) = bob.get("/metrics").await;
    assert_eq!(code, 403);
    assert!(
        body.contains(r#"User \"bob\" cannot get path \"/metrics\""#),
        "{body}"
    );
    // Signed by another CA: 401 even on /healthz (authentication runs first).
    let stranger = support::Pki::new();
    let eve = support::Client::new(addr, Some(stranger.client("eve", &["system:masters"])));
    let (code, _, body) = eve.get("/healthz").await;
    assert_eq!(code, 401);
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n"
    );
    // A bearer token with no authentication kubeconfig is ignored: anonymous.
    let anonymous = support::Client::new(addr, None).with_token("forged");
    assert_eq!(anonymous.get("/healthz").await.0, 200);
    assert_eq!(anonymous.get("/metrics").await.0, 403);
    cancel.cancel();
}

#[tokio::test]
async fn a_replaced_client_ca_file_is_read_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (support::Pki::new(), support::Pki::new());
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, old.ca_pem()).expect("write ca");
    let mut options = options();
    options.serving.authentication.client_ca_file = Some(ca_file.clone());
    let cancel = CancellationToken::new();
    let addr = start(&options, state().checks, |a| format!("{a}"), cancel.clone())
        .await
        .expect("serving starts");
    let client = support::Client::new(addr, Some(new.client("alice", &["system:masters"])));
    assert_eq!(
        client.get("/metrics").await.0,
        401,
        "signed by a CA not trusted yet"
    );
    std::fs::write(&ca_file, new.ca_pem()).expect("replace ca");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while client.get("/metrics").await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new CA was not read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Bad content keeps the last good bundle.
    std::fs::write(&ca_file, "not a certificate").expect("garbage");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(client.get("/metrics").await.0, 200);
    cancel.cancel();
}

#[tokio::test]
async fn request_headers_only_from_an_allowed_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let front = support::Pki::new();
    let file = dir.path().join("front-proxy-ca.crt");
    std::fs::write(&file, front.ca_pem()).expect("write ca");
    let mut options = options();
    options.serving.authentication.request_header.client_ca_file = Some(file);
    options.serving.authentication.request_header.allowed_names = vec!["front-proxy-client".into()];
    let cancel = CancellationToken::new();
    let addr = start(&options, state().checks, |a| format!("{a}"), cancel.clone())
        .await
        .expect("serving starts");
    let proxy = support::Client::new(addr, Some(front.client("front-proxy-client", &[])))
        .with_header("X-Remote-User", "carol")
        .with_header("X-Remote-Group", "system:masters");
    assert_eq!(proxy.get("/metrics").await.0, 200);
    // A proxy certificate with another name: 401.
    let other = support::Client::new(addr, Some(front.client("someone-else", &[])))
        .with_header("X-Remote-User", "carol")
        .with_header("X-Remote-Group", "system:masters");
    assert_eq!(other.get("/metrics").await.0, 401);
    // Headers without a proxy certificate are ignored: anonymous.
    let bare = support::Client::new(addr, None)
        .with_header("X-Remote-User", "carol")
        .with_header("X-Remote-Group", "system:masters");
    let (code, _, body) = bare.get("/metrics").await;
    assert_eq!(code, 403);
    assert!(body.contains("system:anonymous"), "{body}");
    cancel.cancel();
}

#[tokio::test]
async fn a_replaced_certificate_file_is_served_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = support::Pki::new();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let first = pki.server("first.example");
    std::fs::write(&cert, &first.0).expect("cert");
    std::fs::write(&key, &first.1).expect("key");
    let mut options = options();
    options.cert_file = Some(cert.clone());
    options.key_file = Some(key.clone());
    let cancel = CancellationToken::new();
    let addr = start(&options, state().checks, |a| format!("{a}"), cancel.clone())
        .await
        .expect("serving starts");
    let client = support::Client::new(addr, None);
    assert!(
        client
            .served_names()
            .await
            .contains(&"first.example".to_owned())
    );
    let second = pki.server("second.example");
    std::fs::write(&key, &second.1).expect("key");
    std::fs::write(&cert, &second.0).expect("cert");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if client
            .served_names()
            .await
            .contains(&"second.example".to_owned())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    cancel.cancel();
}

#[test]
fn paths_are_percent_decoded_as_go_does() {
    assert_eq!(decode_path("/metrics").as_deref(), Some("/metrics"));
    assert_eq!(decode_path("/heal%74hz").as_deref(), Some("/healthz"));
    assert_eq!(decode_path("/a%2Fb").as_deref(), Some("/a/b"));
    assert_eq!(decode_path("/bad%zz"), None);
    assert_eq!(decode_path("/short%4"), None);
    assert_eq!(decode_path("/%ff"), None);
}

#[test]
fn half_a_pair_is_an_error() {
    let trust = Arc::new(Trust::new(Source::None, Source::None));
    let mut tls = tls::TlsOptions {
        cert_file: Some("/nonexistent.crt".into()),
        key_file: None,
        cert_dir: None,
        min_version: Default::default(),
        cipher_suites: Vec::new(),
        curves: Vec::new(),
        http2: true,
        bind_ip: None,
    };
    assert!(matches!(
        tls::ServingTls::new(&tls, trust.clone()),
        Err(ServeError::HalfPair)
    ));
    tls.key_file = Some("/nonexistent.key".into());
    let err = tls::ServingTls::new(&tls, trust)
        .err()
        .expect("missing file");
    assert!(
        err.to_string().contains("--tls-cert-file /nonexistent.crt"),
        "{err}"
    );
}

mod support;
