use super::*;

#[test]
fn reads_the_implemented_list_even_when_wrapped() {
    let help = "--controllers <X>\n  A list...\n  Implemented by kcm-rs: replicaset-controller,\n  \
                namespace-controller, endpoints-controller\n  All controllers (others ...): a, b";
    assert_eq!(
        implemented_controllers(help),
        [
            "replicaset-controller",
            "namespace-controller",
            "endpoints-controller"
        ]
    );
    assert!(implemented_controllers("no list").is_empty());
}
