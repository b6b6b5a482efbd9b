use super::*;

#[test]
fn version_line_is_parsed_and_other_text_refused() {
    let parsed = BinaryVersion::parse(
        "kcm-rs v0.1.0 (commit 2b9fcc6c37e532aac1463abc4676e1c178a93ff3, built 2026-12-02T01:41:17Z)\n",
    );
    assert_eq!(
        parsed,
        Some(BinaryVersion {
            program: "kcm-rs".into(),
            version: "v0.1.0".into(),
            commit: "2b9fcc6c37e532aac1463abc4676e1c178a93ff3".into(),
            built: "2026-12-02T01:41:17Z".into(),
        })
    );
    assert_eq!(BinaryVersion::parse("kcm-rs v0.1.0"), None);
    assert_eq!(
        BinaryVersion::parse("kcm-rs v0.1.0 (commit , built x)"),
        None
    );
}

#[test]
fn ldd_output_gives_files_and_names_what_is_missing() {
    let output = "\tlinux-vdso.so.1 (0x00007ffd)\n\
        \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f01)\n\
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)\n\
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f03)\n";
    assert_eq!(
        parse_ldd(output).unwrap(),
        [
            "/lib/x86_64-linux-gnu/libgcc_s.so.1",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2"
        ]
        .map(PathBuf::from)
    );
    let missing = parse_ldd("\tlibfoo.so.1 => not found\n").unwrap_err();
    assert!(missing.contains("libfoo.so.1"), "{missing}");
}
