use super::*;
use clap::CommandFactory;

#[test]
fn clap_definition_is_consistent() {
    Flags::command().debug_assert();
}

#[test]
fn normalization_rewrites_only_long_flag_names() {
    let got = normalize_args([
        "kcm-rs",
        "--concurrent_rc_syncs=3",
        "--leader_elect",
        "--kubeconfig=/etc/a_b.conf",
        "--master",
        "https://x_y",
        "-v=2",
        "--",
        "--not_a_flag",
    ]);
    let want: Vec<OsString> = [
        "kcm-rs",
        "--concurrent-rc-syncs=3",
        "--leader-elect",
        "--kubeconfig=/etc/a_b.conf",
        "--master",
        "https://x_y",
        "-v=2",
        "--",
        "--not_a_flag",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    assert_eq!(got, want);
}

#[test]
fn go_bools() {
    for yes in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(parse_go_bool(yes), Ok(true));
    }
    for no in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(parse_go_bool(no), Ok(false));
    }
    assert!(parse_go_bool("yes").is_err());
    assert!(parse_go_bool("tRUE").is_err());
}

#[test]
fn controller_entries_split_like_a_string_slice() {
    let entries = controller_entries(&["*,-podgc".into(), "deployment".into(), String::new()]);
    assert_eq!(entries, ["*", "-podgc", "deployment"]);
    assert!(controller_entries(&[String::new()]).is_empty());
    assert_eq!(controller_entries(&["a,,b".into()]), ["a", "", "b"]);
}

#[test]
fn help_prints_defaults_in_go_syntax() {
    let help = Flags::command().render_long_help().to_string();
    for expected in [
        "[default: 12h0m0s]",
        "[default: 5m0s]",
        "[default: 15s]",
        "[default: 10s]",
        "[default: 2s]",
        "[default: 0s]",
        "[default: 12500]",
        "[default: 0.0.0.0]",
        "[default: /healthz,/readyz,/livez]",
        "[default: 10257]",
        "[default: kube-controller-manager]",
        "bootstrap-signer-controller, token-cleaner-controller",
    ] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }
}
