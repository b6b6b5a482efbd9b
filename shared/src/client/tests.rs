use super::*;

#[derive(Clone)]
struct Echo;
impl Service<Request<()>> for Echo {
    type Response = Response<()>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Response<()>, BoxError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new(())))
    }
}

#[tokio::test(start_paused = true)]
async fn throttle_delays_requests_beyond_the_burst() {
    use tower::ServiceExt;
    let bucket = Arc::new(TokenBucket::new(5.0, 2));
    let mut svc = ThrottleLayer::new(Some(bucket), "test-throttle:1").layer(Echo);
    let start = Instant::now();
    for _ in 0..4 {
        let req = Request::get("/api/v1/pods").body(()).expect("request");
        svc.ready()
            .await
            .expect("ready")
            .call(req)
            .await
            .expect("response");
    }
    // Two free tokens, then two more at 5 qps: 2 × 200ms.
    assert_eq!(start.elapsed(), Duration::from_millis(400));
    let counted = REQUESTS_TOTAL
        .with_label_values(&["200", "GET", "test-throttle:1"])
        .get();
    assert_eq!(counted, 4);
}

async fn send(svc: &mut Throttle<Echo>) {
    use tower::ServiceExt;
    let req = Request::get("/api/v1/pods").body(()).expect("request");
    svc.ready()
        .await
        .expect("ready")
        .call(req)
        .await
        .expect("response");
}

#[tokio::test(start_paused = true)]
async fn a_tiny_qps_stalls_requests_past_the_burst_without_panicking() {
    // --kube-api-qps=1e-30 used to panic the client's worker in Duration::from_secs_f64 on
    // the first throttled request. Now the request just waits, as client-go's would.
    let limits = RateLimits {
        qps: 1e-30,
        burst: 2,
    };
    let Ok(Throttling::Bucket { qps, burst }) = limits.throttling() else {
        panic!("{limits:?} must give a bucket");
    };
    let bucket = Arc::new(TokenBucket::new(f64::from(qps), burst));
    let mut svc = ThrottleLayer::new(Some(bucket), "test-tiny-qps:1").layer(Echo);
    send(&mut svc).await;
    send(&mut svc).await;
    let third = tokio::time::timeout(Duration::from_secs(86_400 * 365), send(&mut svc)).await;
    assert!(
        third.is_err(),
        "the third request must still be waiting a year later"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unlimited_client_never_waits_and_records_no_limiter_latency() {
    let mut svc = ThrottleLayer::new(None, "test-unlimited:1").layer(Echo);
    let start = Instant::now();
    for _ in 0..1000 {
        send(&mut svc).await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    let observed = RATE_LIMITER_DURATION
        .with_label_values(&["GET", "test-unlimited:1"])
        .get_sample_count();
    assert_eq!(observed, 0);
}

#[test]
fn limits_mean_what_they_mean_in_client_go() {
    let bucket = |qps, burst| Ok(Throttling::Bucket { qps, burst });
    let cases: &[(f32, i32, Result<Throttling, NegativeBurst>)] = &[
        (20.0, 30, bucket(20.0, 30)),
        // rest.DefaultQPS / rest.DefaultBurst stand in for zeros.
        (0.0, 0, bucket(5.0, 10)),
        (0.0, 30, bucket(5.0, 30)),
        (20.0, 0, bucket(20.0, 10)),
        (-0.0, 7, bucket(5.0, 7)),
        // A negative QPS: no rate limiter at all, whatever the burst.
        (-1.0, 30, Ok(Throttling::Unlimited)),
        (-1.0, -5, Ok(Throttling::Unlimited)),
        (f32::NEG_INFINITY, 0, Ok(Throttling::Unlimited)),
        (f32::NAN, 30, Ok(Throttling::Unlimited)),
        (f32::INFINITY, -1, Ok(Throttling::Unlimited)),
        (1e-30, 1, bucket(1e-30, 1)),
        (f32::MAX, i32::MAX, bucket(f32::MAX, i32::MAX as u32)),
        (
            20.0,
            -1,
            Err(NegativeBurst {
                qps: 20.0,
                burst: -1,
            }),
        ),
        (
            0.0,
            i32::MIN,
            Err(NegativeBurst {
                qps: 0.0,
                burst: i32::MIN,
            }),
        ),
    ];
    for (qps, burst, want) in cases {
        let got = RateLimits {
            qps: *qps,
            burst: *burst,
        }
        .throttling();
        assert_eq!(&got, want, "qps {qps} burst {burst}");
    }
}

#[test]
fn a_negative_burst_is_a_client_error_not_a_panic() {
    let config = Config::new("https://127.0.0.1:6443".parse().expect("url"));
    let limits = RateLimits {
        qps: 20.0,
        burst: -3,
    };
    let factory = ClientFactory::new(config, limits, "0.1.0");
    let err = factory
        .client_for("replicaset-controller")
        .err()
        .expect("refused");
    assert!(err.to_string().contains("burst -3 is negative"), "{err}");
}

#[test]
fn verbs_and_user_agent() {
    let watch = Request::get("/api/v1/pods?watch=true&resourceVersion=5")
        .body(())
        .expect("request");
    assert_eq!(verb_of(&watch), "WATCH");
    let list = Request::get("/api/v1/pods?limit=500")
        .body(())
        .expect("request");
    assert_eq!(verb_of(&list), "GET");
    let ua = user_agent("kcm-rs", "0.1.0", "replicaset-controller");
    assert!(ua.starts_with("kcm-rs/v0.1.0 ("), "{ua}");
    assert!(ua.ends_with(") replicaset-controller"), "{ua}");
}

#[test]
fn namespace_controller_limits_scale() {
    let limits = RateLimits {
        qps: 20.0,
        burst: 30,
    };
    assert_eq!(
        limits.scaled(20.0, 100),
        RateLimits {
            qps: 400.0,
            burst: 3000
        }
    );
}
