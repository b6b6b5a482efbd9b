use super::*;

#[test]
fn parents_come_first_and_paths_are_checked() {
    let mut root = RootFs::default();
    root.add_file("/usr/local/bin/kcm-rs", b"x".to_vec(), 0o755)
        .unwrap();
    root.add_dir("/home/nonroot", 0o700, USER_ID, USER_ID)
        .unwrap();
    let paths: Vec<&str> = root.entries().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "home",
            "home/nonroot",
            "usr",
            "usr/local",
            "usr/local/bin",
            "usr/local/bin/kcm-rs"
        ]
    );
    assert_eq!(root.get("/home/nonroot").map(|e| e.uid), Some(USER_ID));
    for bad in ["relative", "/", "/a/../b", "/a//b", "/./a"] {
        assert!(root.add_file(bad, Vec::new(), 0o644).is_err(), "{bad}");
    }
}
