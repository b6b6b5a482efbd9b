use super::*;

#[test]
fn canonical_json_sorts_keys_at_every_level() {
    let value = HashMap::from([
        ("b", serde_json::json!({"z": 1, "a": [{"y": 2, "x": 3}]})),
        ("a", serde_json::json!(null)),
    ]);
    let text = String::from_utf8(canonical_json(&value, "test").unwrap()).unwrap();
    assert_eq!(text, r#"{"a":null,"b":{"a":[{"x":3,"y":2}],"z":1}}"#);
}
