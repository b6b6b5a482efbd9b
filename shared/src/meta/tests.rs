use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn both_forms_read_and_compare_alike() {
    let full = map(&[("app", "web"), ("tier", "fe")]);
    let pairs: Vec<(Arc<str>, Arc<str>)> =
        vec![("app".into(), "web".into()), ("tier".into(), "fe".into())];
    let (a, b) = (Labels::Map(Some(&full)), Labels::Pairs(&pairs));
    assert_eq!(a, b);
    assert_eq!(b.get("tier"), Some("fe"));
    assert_eq!(b.get("nope"), None);
    assert_eq!(a.get("app"), Some("web"));
    assert_eq!(b.to_map(), full);
    assert_ne!(a, Labels::NONE);
    assert!(Labels::NONE.is_empty());
    assert_eq!(Labels::NONE, Labels::Pairs(&[]));
}
