use super::*;

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[test]
fn names_are_valid_labels_and_unique() {
    for prefix in ["rs", "My_Test::case", "-", "", &"x".repeat(100)] {
        let a = unique_name(prefix);
        let b = unique_name(prefix);
        assert!(is_dns_label(&a), "{a:?} from {prefix:?}");
        assert_ne!(a, b);
    }
    assert!(unique_name("My_Test").starts_with("my-test-"));
}
