use super::*;
use http::HeaderValue;

#[test]
fn bearer_tokens_follow_upstream_parsing() {
    let mut h = HeaderMap::new();
    assert_eq!(bearer_token(&h), None);
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("bEaReR abc"),
    );
    assert_eq!(bearer_token(&h).as_deref(), Some("abc"));
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Basic abc"),
    );
    assert_eq!(bearer_token(&h), None);
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer"),
    );
    assert_eq!(bearer_token(&h), None);
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer  x"),
    );
    assert_eq!(
        bearer_token(&h),
        None,
        "an empty token after a double space"
    );
}

#[test]
fn extra_keys_are_unescaped() {
    assert_eq!(unescape_extra_key("scopes"), "scopes");
    assert_eq!(unescape_extra_key("example.com%2fkey"), "example.com/key");
    assert_eq!(unescape_extra_key("bad%zz"), "bad%zz");
}

#[test]
fn authenticated_is_added_once() {
    let u = with_authenticated(User {
        name: "x".into(),
        groups: vec!["a".into()],
        ..Default::default()
    });
    assert_eq!(u.groups, vec!["a".to_string(), AUTHENTICATED.to_string()]);
    let again = with_authenticated(u.clone());
    assert_eq!(again.groups, u.groups);
}

#[tokio::test]
async fn nothing_configured_is_anonymous() {
    let authn = Authenticator {
        trust: Arc::new(Trust::new(
            super::super::trust::Source::None,
            super::super::trust::Source::None,
        )),
        tokens: None,
    };
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer abc"),
    );
    assert_eq!(
        authn.authenticate(&[], &mut h).await,
        Outcome::User(User::anonymous())
    );
}

#[tokio::test]
async fn a_token_the_apiserver_cannot_review_is_401_not_anonymous() {
    let client = super::super::authz::tests::dead_client();
    let authn = Authenticator {
        trust: Arc::new(Trust::new(
            super::super::trust::Source::None,
            super::super::trust::Source::None,
        )),
        tokens: Some(
            TokenReviewer::new(client, std::time::Duration::from_secs(10)).expect("reviewer"),
        ),
    };
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer abc"),
    );
    assert!(matches!(
        authn.authenticate(&[], &mut h).await,
        Outcome::Unauthorized(_)
    ));
    // No token: still anonymous.
    assert_eq!(
        authn.authenticate(&[], &mut HeaderMap::new()).await,
        Outcome::User(User::anonymous())
    );
}

#[test]
fn websocket_tokens_follow_upstreams_rules() {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("my-token");
    let mut h = HeaderMap::new();
    let protocols = format!("{BEARER_PROTOCOL_PREFIX}{encoded}, v4.channel.k8s.io");
    h.insert(
        WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&protocols).expect("value"),
    );
    assert_eq!(websocket_token(&h), Ok(None), "not an upgrade");
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("keep-alive, Upgrade"),
    );
    h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    assert_eq!(
        websocket_token(&h),
        Ok(Some(WebsocketToken {
            token: "my-token".into(),
            others: vec!["v4.channel.k8s.io".into()],
        }))
    );
    let alone = format!("{BEARER_PROTOCOL_PREFIX}{encoded}");
    h.insert(
        WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&alone).expect("value"),
    );
    assert_eq!(websocket_token(&h), Err("missing additional subprotocol"));
    let bad = format!("{BEARER_PROTOCOL_PREFIX}!!!, x");
    h.insert(
        WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&bad).expect("value"),
    );
    assert_eq!(
        websocket_token(&h),
        Err("invalid base64.bearer.authorization token encoding")
    );
}
