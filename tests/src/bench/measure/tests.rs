use super::*;

#[test]
fn audit_events_count_once_per_request() {
    let mut r = Requests::default();
    for line in [
        r#"{"stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods"},"responseStatus":{"code":201}}"#,
        r#"{"stage":"ResponseStarted","verb":"watch","objectRef":{"resource":"pods"},"responseStatus":{"code":200}}"#,
        r#"{"stage":"ResponseComplete","verb":"watch","objectRef":{"resource":"pods"},"responseStatus":{"code":200}}"#,
        r#"{"stage":"ResponseComplete","verb":"update","objectRef":{"resource":"replicasets","subresource":"status"},"responseStatus":{"code":409}}"#,
        r#"{"stage":"ResponseComplete","verb":"get","requestURI":"/api?timeout=32s","responseStatus":{"code":200}}"#,
        "not json",
    ] {
        r.add_event(line);
    }
    assert_eq!(r.total, 4);
    assert_eq!(r.errors, 1);
    assert_eq!(r.by_verb["watch"], 1);
    assert_eq!(r.by_resource["update replicasets/status"], 1);
    assert_eq!(r.by_resource["get /api"], 1);
    assert_eq!(r.verbs_text(), "create 1, get 1, update 1, watch 1");
}
