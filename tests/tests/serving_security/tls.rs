//! TLS as upstream: a replaced `--tls-cert-file` is served without a restart, the self-signed
//! default is a two-certificate chain for localhost, TLS 1.1 is refused.

use std::process::Command;
use std::time::Duration;

use testenv::{Check, TestEnv, wait_until};

use crate::support::{Certificates, Manager, free_port};

/// The subject of the leaf `openssl s_client` sees, and how many certificates were sent.
fn served(port: u16, extra: &[&str]) -> anyhow::Result<(String, usize, bool)> {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-showcerts",
        ])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let subject = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("0 s:"))
        .unwrap_or_default()
        .to_owned();
    let chain = text.matches("-----BEGIN CERTIFICATE-----").count();
    Ok((subject, chain, out.status.success()))
}

#[tokio::test]
async fn a_certificate_replaced_on_disk_is_served_without_a_restart() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let certs = Certificates::new(env, "reload")?;
    let first = certs
        .client_ca
        .server(&certs.dir, "serving-1", "first-serving-cert")?;
    let second = certs
        .client_ca
        .server(&certs.dir, "serving-2", "second-serving-cert")?;
    let cert = certs.dir.join("tls.crt");
    let key = certs.dir.join("tls.key");
    for upstream in [false, true] {
        std::fs::copy(&first.cert, &cert)?;
        std::fs::copy(&first.key, &key)?;
        let port = free_port()?;
        let flags = vec![
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--tls-cert-file={}", cert.display()),
            format!("--tls-private-key-file={}", key.display()),
        ];
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        let (subject, _, _) = served(port, &[])?;
        assert!(
            subject.contains("first-serving-cert"),
            "{}: {subject}",
            manager.label()
        );
        // Replace both files (key first, as a rotation tool writing in place would).
        std::fs::copy(&second.key, &key)?;
        std::fs::copy(&second.cert, &cert)?;
        let started = tokio::time::Instant::now();
        wait_until(
            Duration::from_secs(90),
            "the new certificate is served",
            || async {
                match served(port, &[]) {
                    Ok((s, _, _)) if s.contains("second-serving-cert") => Check::Done(()),
                    Ok((s, _, _)) => Check::NotYet(s),
                    Err(e) => Check::NotYet(e.to_string()),
                }
            },
        )
        .await?;
        println!(
            "{}: new certificate served after {:?}",
            manager.label(),
            started.elapsed()
        );
        manager.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_default_certificate_is_a_self_signed_chain_and_tls11_is_refused() -> anyhow::Result<()>
{
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    for upstream in [false, true] {
        let port = free_port()?;
        let flags = vec![
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
        ];
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        let (subject, chain, _) = served(port, &[])?;
        println!("{}: leaf {subject}, {chain} certificates", manager.label());
        assert!(
            subject.contains("localhost@"),
            "{}: {subject}",
            manager.label()
        );
        assert_eq!(chain, 2, "{}: leaf + CA", manager.label());
        let (_, _, ok) = served(port, &["-tls1_1"])?;
        assert!(!ok, "{}: TLS 1.1 handshake succeeded", manager.label());
        manager.stop().await?;
    }
    Ok(())
}

/// Whether curl reused its HTTP/2 connection for a second request.
fn second_request_reused(port: u16, cert: Option<&testenv::pki::Pair>) -> anyhow::Result<bool> {
    let url = format!("https://127.0.0.1:{port}/healthz");
    let mut curl = Command::new("curl");
    curl.args(["-sk", "--http2", "-v", "-o", "/dev/null", "-o", "/dev/null"]);
    if let Some(pair) = cert {
        curl.arg("--cert")
            .arg(&pair.cert)
            .arg("--key")
            .arg(&pair.key);
    }
    let out = curl.args([&url, &url]).output()?;
    let log = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(log.contains("HTTP/2 200"), "no HTTP/2 answer:\n{log}");
    Ok(log.contains("Re-using existing connection"))
}

/// UnauthenticatedHTTP2DOSMitigation: an anonymous HTTP/2 client gets its answer and then a
/// GOAWAY, an authenticated one keeps its connection (kcm-rs and upstream).
#[tokio::test]
async fn anonymous_http2_connections_serve_one_request() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let certs = Certificates::new(env, "h2")?;
    let masters = certs.client("h2-admin", "h2-admin", &["system:masters"])?;
    for upstream in [false, true] {
        let port = free_port()?;
        let flags = vec![
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--client-ca-file={}", certs.client_ca.ca_cert().display()),
        ];
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        // Five times over: the GOAWAY must precede the answer, not race it.
        let mut anonymous = false;
        for _ in 0..5 {
            anonymous |= second_request_reused(port, None)?;
        }
        let authenticated = second_request_reused(port, Some(&masters))?;
        println!(
            "{}: HTTP/2 connection reused — anonymous {anonymous}, masters cert {authenticated}",
            manager.label()
        );
        assert_eq!(
            (anonymous, authenticated),
            (false, true),
            "{}",
            manager.label()
        );
        manager.stop().await?;
    }
    Ok(())
}

/// `--cert-dir`: the pair is generated once as `kube-controller-manager.{crt,key}` and the same
/// certificate is served again after a restart (kcm-rs and upstream).
#[tokio::test]
async fn cert_dir_pairs_are_written_once_and_reused() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let certs = Certificates::new(env, "certdir")?;
    for upstream in [false, true] {
        let dir = certs.dir.join(format!("cert-dir-{upstream}"));
        let mut served_subjects = Vec::new();
        for _ in 0..2 {
            let port = free_port()?;
            let flags = vec![
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--cert-dir={}", dir.display()),
            ];
            let manager = Manager::serving(env, upstream, &flags, port).await?;
            served_subjects.push(served(port, &[])?.0);
            for file in ["kube-controller-manager.crt", "kube-controller-manager.key"] {
                assert!(dir.join(file).is_file(), "{}: no {file}", manager.label());
            }
            manager.stop().await?;
        }
        println!("{upstream}: served {served_subjects:?}");
        assert_eq!(
            served_subjects[0], served_subjects[1],
            "reused after a restart"
        );
        assert!(
            served_subjects[0].contains("localhost@"),
            "{served_subjects:?}"
        );
    }
    Ok(())
}
