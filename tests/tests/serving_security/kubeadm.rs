//! kubeadm's command line, as `config/manifests/static-pod.yaml` carries it, starts kcm-rs (and
//! upstream, for comparison) with the environment's files in place of `/etc/kubernetes/...`, and
//! the probes kubeadm configures (HTTPS GET /healthz on 10257, no credentials) pass.

use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use testenv::{Check, TestEnv, env::Identity, kcm_rs_binary, wait_until};

use crate::support::{Caller, Certificates, free_port};

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config/manifests/static-pod.yaml"
);

/// The manifest's command with kubeadm's paths mapped to the test environment's files.
fn command_line(env: &TestEnv, certs: &Certificates) -> anyhow::Result<Vec<String>> {
    let manifest: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(MANIFEST)?)?;
    let command = manifest["spec"]["containers"][0]["command"]
        .as_sequence()
        .context("the static pod has a command")?;
    let pki = env.dir().join("pki");
    let map = [
        (
            "/etc/kubernetes/controller-manager.conf",
            env.kubeconfig(Identity::KubeControllerManager),
        ),
        ("/etc/kubernetes/pki/ca.crt", pki.join("client-ca.crt")),
        ("/etc/kubernetes/pki/ca.key", pki.join("client-ca.key")),
        ("/etc/kubernetes/pki/sa.key", pki.join("sa.key")),
        (
            "/etc/kubernetes/pki/front-proxy-ca.crt",
            certs.front_proxy_ca.ca_cert(),
        ),
    ];
    let mut args = Vec::new();
    for word in command.iter().skip(1) {
        let mut word = word
            .as_str()
            .context("command words are strings")?
            .to_owned();
        for (from, to) in &map {
            word = word.replace(from, &to.display().to_string());
        }
        anyhow::ensure!(!word.contains("/etc/kubernetes"), "unmapped path in {word}");
        args.push(word);
    }
    Ok(args)
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[tokio::test]
async fn kubeadms_command_line_starts_and_its_probes_pass() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let certs = Certificates::new(env, "kubeadm")?;
    let mut args = command_line(env, &certs)?;
    assert!(
        args.iter().any(|a| a == "--bind-address=127.0.0.1"),
        "{args:?}"
    );
    // kubeadm's port is 10257; on a shared machine it may be taken, then the same command line
    // plus --secure-port on a free port.
    let port = if port_is_free(10257) {
        10257
    } else {
        let port = free_port()?;
        println!("10257 is taken on this machine; adding --secure-port={port}");
        args.push(format!("--secure-port={port}"));
        port
    };
    let masters = Caller {
        label: "masters cert",
        cert: Some(certs.client("kubeadm-admin", "kubeadm-admin", &["system:masters"])?),
        ..Default::default()
    };
    let forged = Caller {
        label: "forged token",
        token: Some("forged".into()),
        ..Default::default()
    };
    let upstream_binary = env.bin_dir().join("kube-controller-manager");
    for (label, binary) in [("kcm-rs", kcm_rs_binary()?), ("upstream", upstream_binary)] {
        let mut command = Command::new(&binary);
        command.args(&args);
        let mut process = env.spawn(label, command)?;
        // The kubelet's startup probe: HTTPS GET /healthz, no credentials, every 10 s, 24 tries.
        let started = tokio::time::Instant::now();
        wait_until(
            Duration::from_secs(240),
            "the startup probe passes",
            || async {
                match Caller::anonymous().call(port, "GET", "/healthz") {
                    Ok(a) if a.code == 200 => Check::Done(()),
                    Ok(a) => Check::NotYet(format!("{} {}", a.code, a.body)),
                    Err(e) => Check::NotYet(e.to_string()),
                }
            },
        )
        .await
        .with_context(|| format!("{label}:\n{}", process.log_tail(40)))?;
        let anonymous_metrics = Caller::anonymous().call(port, "GET", "/metrics")?.code;
        let masters_metrics = masters.call(port, "GET", "/metrics")?.code;
        let forged_healthz = forged.call(port, "GET", "/healthz")?.code;
        println!(
            "{label}: probe ok after {:?}; anonymous /metrics {anonymous_metrics}, masters cert /metrics {masters_metrics}, forged token /healthz {forged_healthz}",
            started.elapsed()
        );
        assert_eq!(
            (anonymous_metrics, masters_metrics, forged_healthz),
            (403, 200, 401),
            "{label}"
        );
        if label == "kcm-rs" {
            // Issue 19 item 8: /configz names the address and port really served.
            let configz = masters.call(port, "GET", "/configz")?;
            let value: serde_json::Value = serde_json::from_str(&configz.body)?;
            let generic = &value["kubecontrollermanager.config.k8s.io"]["Generic"];
            assert_eq!(generic["Address"], "127.0.0.1", "{}", configz.body);
            assert_eq!(generic["Port"], port, "{}", configz.body);
        }
        assert!(
            matches!(process.state(), testenv::process::ProcessState::Running),
            "{label} exited:\n{}",
            process.log_tail(40)
        );
        process.terminate(Duration::from_secs(15)).await?;
        // Leader election: the next candidate must not wait for this one's Lease to expire
        // forever; upstream does not release it, so give it the lease duration.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// A bad serving value exits 2 naming the flag, before anything starts.
#[test]
fn bad_serving_values_exit_2_naming_the_flag() -> anyhow::Result<()> {
    let binary = kcm_rs_binary()?;
    for (arg, needle) in [
        ("--tls-min-version=VersionTLS11", "--tls-min-version"),
        (
            "--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA",
            "--tls-cipher-suites",
        ),
        (
            "--tls-cipher-suites=NOPE",
            "Cipher suite NOPE not supported",
        ),
        (
            "--authorization-always-allow-paths=/a*b",
            "--authorization-always-allow-paths",
        ),
        (
            "--requestheader-username-headers=,",
            "--requestheader-username-headers",
        ),
        ("--tls-curve-preferences=25", "--tls-curve-preferences"),
    ] {
        let out = Command::new(&binary).arg(arg).output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {stderr}");
        assert!(stderr.contains(needle), "{arg}: {stderr}");
    }
    Ok(())
}
