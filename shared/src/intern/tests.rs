use super::*;

#[test]
fn equal_strings_share_one_allocation() {
    let a = intern("kube-system-intern-test");
    let b = intern(&String::from("kube-system-intern-test"));
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(&*a, "kube-system-intern-test");
}

#[test]
fn strings_nobody_holds_are_forgotten_by_a_sweep() {
    for i in 0..5000 {
        drop(intern(&format!("churn-{i}")));
    }
    let kept = intern("kept-across-sweeps");
    for i in 5000..10000 {
        drop(intern(&format!("churn-{i}")));
    }
    assert!(len() < 9000, "swept: {}", len());
    assert!(Arc::ptr_eq(&kept, &intern("kept-across-sweeps")));
}
