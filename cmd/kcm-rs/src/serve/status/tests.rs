use super::*;
use http_body_util::BodyExt;

async fn body(r: Response<Full<Bytes>>) -> String {
    let bytes = r
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn forbidden_appends_the_reason_and_escapes_like_go() {
    let r = forbidden("a<b>&c", "get", "/x", "kubernetes.io/webhook: no", false);
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let text = body(r).await;
    assert!(
        text.contains(r#""message":"forbidden: User \"a\u0026lt;b\u0026gt;\u0026amp;c\" cannot get path \"/x\": kubernetes.io/webhook: no""#),
        "{text}"
    );
}

#[tokio::test]
async fn internal_error_is_plain_text() {
    let r = internal_error("/metrics?x=1", "subjectaccessreviews: refused");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body(r).await,
        "Internal Server Error: \"/metrics?x=1\": subjectaccessreviews: refused\n"
    );
}

#[tokio::test]
async fn curl_gets_indented_json_as_from_upstream() {
    assert!(wants_pretty(None, Some("curl/7.88.1")));
    assert!(!wants_pretty(Some("pretty=false"), Some("curl/7.88.1")));
    assert!(wants_pretty(Some("pretty=1"), Some("Prometheus/2.0")));
    assert!(!wants_pretty(None, Some("Prometheus/2.0")));
    assert_eq!(
        body(unauthorized(true)).await,
        "{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {},\n  \"status\": \"Failure\",\n  \"message\": \"Unauthorized\",\n  \"reason\": \"Unauthorized\",\n  \"code\": 401\n}"
    );
}
