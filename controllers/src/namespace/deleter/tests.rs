use super::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn finalising_drops_only_our_token_and_sorts_the_rest() {
    assert_eq!(
        finalizers_after(
            &strings(&["kubernetes", "z.io/hold", "a.io/hold", "z.io/hold"]),
            FINALIZER_KUBERNETES
        ),
        strings(&["a.io/hold", "z.io/hold"])
    );
    assert!(finalizers_after(&strings(&["kubernetes"]), FINALIZER_KUBERNETES).is_empty());
    assert_eq!(
        finalizers_after(&strings(&["example.com/hold"]), FINALIZER_KUBERNETES),
        strings(&["example.com/hold"]),
        "content is deleted even without our token; the finalize is then a re-sort"
    );
}

#[test]
fn a_namespace_without_spec_finalizers_is_finalised() {
    let mut namespace = Namespace::default();
    assert!(is_finalized(&namespace));
    namespace.spec = Some(NamespaceSpec {
        finalizers: Some(Vec::new()),
    });
    assert!(is_finalized(&namespace));
    namespace.spec = Some(NamespaceSpec {
        finalizers: Some(strings(&["kubernetes"])),
    });
    assert!(!is_finalized(&namespace));
}

#[test]
fn the_remaining_message_is_upstreams() {
    assert_eq!(
        remaining_message(15),
        "some content remains in the namespace, estimate 15 seconds before it is removed"
    );
}
