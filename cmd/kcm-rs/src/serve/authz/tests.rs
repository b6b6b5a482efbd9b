use super::*;

fn user(groups: &[&str]) -> User {
    User {
        name: "u".into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn paths_are_exact_or_trailing_star_prefixes() {
    let paths = AlwaysAllowPaths::new(&["/healthz".into(), "livez".into(), "/debug/*".into()]);
    assert!(paths.allows("/healthz"));
    assert!(!paths.allows("/healthz/foo"));
    assert!(paths.allows("/livez"));
    assert!(paths.allows("/debug/pprof"));
    assert!(!paths.allows("/metrics"));
    let root = AlwaysAllowPaths::new(&["/".into()]);
    assert!(root.allows("/"));
    assert!(!root.allows("/metrics"));
}

#[tokio::test]
async fn masters_and_paths_allow_everything_else_is_forbidden_without_a_webhook() {
    let authorizer = Authorizer {
        groups: vec!["system:masters".into()],
        paths: AlwaysAllowPaths::new(&["/healthz".into()]),
        webhook: None,
    };
    assert_eq!(
        authorizer
            .authorize(&user(&["system:masters"]), "post", "/anything")
            .await,
        Verdict::Allow
    );
    assert_eq!(
        authorizer.authorize(&user(&[]), "get", "/healthz").await,
        Verdict::Allow
    );
    assert_eq!(
        authorizer.authorize(&user(&[]), "get", "/metrics").await,
        Verdict::Forbid(String::new())
    );
}

#[test]
fn the_review_names_the_non_resource_path_and_verb() {
    let mut u = user(&["g"]);
    u.uid = "1".into();
    let spec = spec(&u, "get", "/metrics");
    let json = serde_json::to_value(&spec).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"user":"u","uid":"1","groups":["g"],"nonResourceAttributes":{"path":"/metrics","verb":"get"}})
    );
}

/// A closed port: connection refused, not retried.
pub(crate) fn dead_client() -> kube::Client {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let config = kube::Config::new(format!("https://127.0.0.1:{port}").parse().expect("uri"));
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
async fn a_failed_review_is_an_error_but_masters_and_paths_still_pass() {
    let authorizer = Authorizer {
        groups: vec!["system:masters".into()],
        paths: AlwaysAllowPaths::new(&["/healthz".into()]),
        webhook: Some(SubjectAccessReviewer::new(
            dead_client(),
            Duration::from_secs(10),
            Duration::from_secs(10),
        )),
    };
    assert!(matches!(
        authorizer.authorize(&user(&[]), "get", "/metrics").await,
        Verdict::Error(e) if e.contains("subjectaccessreviews")
    ));
    assert_eq!(
        authorizer.authorize(&user(&[]), "get", "/healthz").await,
        Verdict::Allow
    );
    assert_eq!(
        authorizer
            .authorize(&user(&["system:masters"]), "get", "/metrics")
            .await,
        Verdict::Allow
    );
}
