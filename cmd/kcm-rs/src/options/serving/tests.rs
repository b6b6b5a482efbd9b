use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serving: ServingFlags,
}

fn resolved(args: &[&str]) -> Result<ServingConfig, Vec<String>> {
    let cli = Cli::try_parse_from(std::iter::once("kcm-rs").chain(args.iter().copied()))
        .map_err(|e| vec![e.to_string()])?;
    resolve(&cli.serving)
}

#[test]
fn defaults_are_upstreams() {
    let c = resolved(&[]).expect("defaults");
    assert_eq!(c, ServingConfig::default());
    assert_eq!(
        c.authorization.always_allow_paths,
        vec!["/healthz", "/readyz", "/livez"]
    );
    assert_eq!(
        c.authentication.request_header.username_headers,
        vec!["x-remote-user"]
    );
}

#[test]
fn kubeadm_flags_are_read() {
    let c = resolved(&[
        "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
    ])
    .expect("valid");
    assert_eq!(
        c.authentication.client_ca_file.as_deref(),
        Some(std::path::Path::new("/etc/kubernetes/pki/ca.crt"))
    );
    assert!(c.authorization.kubeconfig.is_some());
}

#[test]
fn bad_values_name_the_flag() {
    for (args, needle) in [
        (&["--tls-min-version=VersionTLS11"][..], "--tls-min-version"),
        (&["--tls-min-version=tls9"], "unknown tls version"),
        (
            &["--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA"],
            "--tls-cipher-suites",
        ),
        (
            &["--tls-cipher-suites=NOPE"],
            "Cipher suite NOPE not supported",
        ),
        (
            &["--authorization-always-allow-paths=/a*b"],
            "only trailing * allowed",
        ),
        (
            &["--requestheader-group-headers=a,,b"],
            "--requestheader-group-headers",
        ),
        (&["--requestheader-uid-headers=x-uid"], "X-Remote-Uid"),
        (
            &["--http2-max-streams-per-connection=-1"],
            "--http2-max-streams-per-connection",
        ),
        (&["--tls-sni-cert-key=a,b"], "--tls-sni-cert-key"),
        (
            &["--tls-curve-preferences=25"],
            "curve 25 is not implemented",
        ),
        (&["--tls-curve-preferences=x"], "not a numeric Go CurveID"),
    ] {
        let problems = resolved(args).expect_err("invalid");
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{args:?}: {problems:?}"
        );
    }
}

#[test]
fn lists_are_csv_and_repeatable() {
    let c = resolved(&[
        "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
        "--requestheader-allowed-names=",
    ])
    .expect("valid");
    assert_eq!(c.tls_cipher_suites.len(), 3);
    assert!(c.authentication.request_header.allowed_names.is_empty());
}
