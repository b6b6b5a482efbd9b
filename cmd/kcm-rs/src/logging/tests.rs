use super::*;

#[test]
fn verbosity_mapping() {
    assert_eq!(level_for_verbosity(0), Level::INFO);
    assert_eq!(level_for_verbosity(2), Level::DEBUG);
    assert_eq!(level_for_verbosity(4), Level::DEBUG);
    assert_eq!(level_for_verbosity(6), Level::TRACE);
    assert_eq!(severity_letter(Level::WARN), 'W');
    assert_eq!(severity_letter(Level::DEBUG), 'I');
}
