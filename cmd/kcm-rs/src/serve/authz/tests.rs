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
