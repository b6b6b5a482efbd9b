use super::*;

#[test]
fn the_self_signed_chain_is_upstreams_shape() {
    let (chain, _) = self_signed(Some("10.1.2.3".parse().expect("ip"))).expect("generated");
    assert_eq!(chain.len(), 2, "leaf + CA");
    let (_, leaf) = x509_parser::parse_x509_certificate(chain[0].as_ref()).expect("leaf");
    let cn = leaf
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cn.starts_with("localhost@"), "{cn}");
    let (_, ca) = x509_parser::parse_x509_certificate(chain[1].as_ref()).expect("ca");
    let ca_cn = ca
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ca_cn.starts_with("localhost-ca@"), "{ca_cn}");
    let sans = format!(
        "{:?}",
        leaf.subject_alternative_name()
            .ok()
            .flatten()
            .map(|s| s.value.clone())
    );
    assert!(
        sans.contains("localhost") && sans.contains("[10, 1, 2, 3]"),
        "{sans}"
    );
}

#[test]
fn cipher_suite_lists_apply_to_tls12_only() {
    let p = provider(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()], &[]);
    let names: Vec<String> = p
        .cipher_suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert!(
        names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_owned()),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("TLS13_")), "{names:?}");
    let legacy = provider(&["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".into()], &[]);
    assert!(
        legacy
            .cipher_suites
            .iter()
            .any(|s| format!("{:?}", s.suite()) == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
    );
}

#[test]
fn cert_dir_files_are_generated_once_and_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = TlsOptions {
        cert_file: None,
        key_file: None,
        cert_dir: Some(dir.path().join("certs")),
        min_version: TlsMinVersion::Tls12,
        cipher_suites: Vec::new(),
        curves: Vec::new(),
        http2: true,
        bind_ip: None,
    };
    let trust = Arc::new(Trust::new(
        super::super::trust::Source::None,
        super::super::trust::Source::None,
    ));
    ServingTls::new(&options, trust.clone()).expect("generated");
    let crt = dir.path().join("certs/kube-controller-manager.crt");
    let first = std::fs::read(&crt).expect("written");
    ServingTls::new(&options, trust).expect("reused");
    assert_eq!(std::fs::read(&crt).expect("still there"), first);
}

#[test]
fn curve_preferences_choose_the_key_exchange_groups() {
    let p = provider(&[], &[24, 29]);
    let names: Vec<String> = p
        .kx_groups
        .iter()
        .map(|g| format!("{:?}", g.name()))
        .collect();
    assert_eq!(names, ["secp384r1", "X25519"]);
}
