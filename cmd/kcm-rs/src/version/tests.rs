use super::*;

#[test]
fn stamps_are_a_commit_and_an_rfc3339_date() {
    // A hex object name, "unknown", or what KCM_GIT_COMMIT said: one word either way, as
    // the release tooling parses `--version` by its spaces.
    assert!(
        !GIT_COMMIT.is_empty() && !GIT_COMMIT.contains(char::is_whitespace),
        "{GIT_COMMIT:?}"
    );
    let date = BUILD_DATE.as_bytes();
    assert_eq!(date.len(), "2026-01-02T03:04:05Z".len(), "{BUILD_DATE}");
    for (i, b) in date.iter().enumerate() {
        let expected_digit = !matches!(i, 4 | 7 | 10 | 13 | 16 | 19);
        assert_eq!(b.is_ascii_digit(), expected_digit, "{BUILD_DATE}");
    }
    assert!(
        TEXT.contains(GIT_COMMIT) && TEXT.contains(BUILD_DATE),
        "{TEXT}"
    );
}
