//! serving-security.md §9 Configs 2 to 4: no delegation kubeconfig at all, the client CA from the
//! `extension-apiserver-authentication` ConfigMap (no CA flags), and the same with
//! `--authentication-skip-lookup`, and a front-proxy CA added to that ConfigMap while running;
//! kcm-rs and upstream side by side.

const NAMESPACE: &str = "kube-system";
const NAME: &str = "extension-apiserver-authentication";

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use testenv::{Check, TestEnv, wait_until};

use crate::support::{
    Caller, Certificates, Manager, delegation_kubeconfig, free_port, grant_get,
    service_account_token,
};

#[tokio::test]
async fn configmap_lookup_and_missing_kubeconfigs_match_upstream() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-lookup").await?;
    let certs = Certificates::new(env, "lookup")?;
    let mon = service_account_token(&ns, "mon").await?;
    grant_get(env, &ns, "mon", "metrics", &["/metrics"]).await?;
    let callers = [
        Caller {
            label: "C SA with get /metrics",
            token: Some(mon),
            ..Default::default()
        },
        certs.masters_caller()?,
        certs.stranger_caller()?,
        certs.proxy_caller("G front-proxy cert with headers", "system:masters")?,
    ];
    let kubeconfig = delegation_kubeconfig(env);
    let authn = format!("--authentication-kubeconfig={}", kubeconfig.display());
    let authz = format!("--authorization-kubeconfig={}", kubeconfig.display());
    // (configuration, flags beyond port and address, expected /metrics code per caller)
    let configs: [(&str, Vec<String>, [u16; 4]); 3] = [
        // Config 2: tokens are ignored and certificates unverifiable: everyone is anonymous.
        ("no kubeconfigs", vec![], [403, 403, 403, 403]),
        // Config 4: the client CA comes from the ConfigMap (the test apiserver publishes its
        // --client-ca-file there, and no front-proxy CA).
        (
            "ConfigMap lookup",
            vec![authn.clone(), authz.clone()],
            [200, 200, 401, 401],
        ),
        (
            "lookup skipped",
            vec![authn, authz, "--authentication-skip-lookup".into()],
            [200, 403, 403, 403],
        ),
    ];
    for (config, extra, expected) in &configs {
        let mut codes = Vec::new();
        for upstream in [false, true] {
            let port = free_port()?;
            let mut flags = vec![
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
            ];
            flags.extend(extra.iter().cloned());
            let manager = Manager::serving(env, upstream, &flags, port).await?;
            let mut row = Vec::new();
            for caller in &callers {
                row.push(caller.call(port, "GET", "/metrics")?.code);
            }
            println!(
                "{:>8} {config:<18} /metrics for C, E, F, G: {row:?}",
                manager.label()
            );
            codes.push(row);
            manager.stop().await?;
        }
        assert_eq!(codes[0], codes[1], "{config}: kcm-rs vs upstream");
        assert_eq!(codes[0], expected.to_vec(), "{config}");
    }
    front_proxy_from_a_changed_configmap(env, &certs, &callers[3]).await
}

/// A front-proxy CA and header names added to the ConfigMap while the manager runs are picked up
/// without a restart (watch / 1-minute re-read); the keys are removed again afterwards.
async fn front_proxy_from_a_changed_configmap(
    env: &TestEnv,
    certs: &Certificates,
    proxy: &Caller,
) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(env.admin_client(), NAMESPACE);
    let ca = std::fs::read_to_string(certs.front_proxy_ca.ca_cert())?;
    let kubeconfig = delegation_kubeconfig(env);
    for upstream in [false, true] {
        let port = free_port()?;
        let flags = vec![
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--authentication-kubeconfig={}", kubeconfig.display()),
            format!("--authorization-kubeconfig={}", kubeconfig.display()),
        ];
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        assert_eq!(
            proxy.call(port, "GET", "/metrics")?.code,
            401,
            "{}",
            manager.label()
        );
        let added = serde_json::json!({"data": {
            "requestheader-client-ca-file": ca,
            "requestheader-username-headers": "[\"X-Remote-User\"]",
            "requestheader-group-headers": "[\"X-Remote-Group\"]",
            "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
            "requestheader-allowed-names": "[\"front-proxy-client\"]",
        }});
        api.patch(NAME, &PatchParams::default(), &Patch::Merge(&added))
            .await?;
        let started = tokio::time::Instant::now();
        let picked_up = wait_until(Duration::from_secs(90), "the proxy is trusted", || async {
            match proxy.call(port, "GET", "/metrics") {
                Ok(a) if a.code == 200 => Check::Done(()),
                Ok(a) => Check::NotYet(format!("{} {}", a.code, a.body)),
                Err(e) => Check::NotYet(e.to_string()),
            }
        })
        .await;
        println!(
            "{}: front proxy from the changed ConfigMap trusted after {:?}",
            manager.label(),
            started.elapsed()
        );
        let removed = serde_json::json!({"data": {
            "requestheader-client-ca-file": null,
            "requestheader-username-headers": null,
            "requestheader-group-headers": null,
            "requestheader-extra-headers-prefix": null,
            "requestheader-allowed-names": null,
        }});
        api.patch(NAME, &PatchParams::default(), &Patch::Merge(&removed))
            .await?;
        manager.stop().await?;
        picked_up?;
    }
    Ok(())
}

/// An identity that may not read the ConfigMap: start-up fails (the request-header part must
/// come from it) unless `--authentication-tolerate-lookup-failure`; kcm-rs and upstream alike.
#[tokio::test]
async fn an_unreadable_configmap_is_fatal_unless_tolerated() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let restricted = env.kubeconfig(testenv::env::Identity::Restricted);
    for upstream in [false, true] {
        let label = if upstream { "upstream" } else { "kcm-rs" };
        for tolerate in [false, true] {
            let port = free_port()?;
            let binary = if upstream {
                env.bin_dir().join("kube-controller-manager")
            } else {
                testenv::kcm_rs_binary()?
            };
            let mut command = std::process::Command::new(binary);
            command
                .arg(format!(
                    "--kubeconfig={}",
                    env.kubeconfig(testenv::env::Identity::Admin).display()
                ))
                .args([
                    "--leader-elect=false",
                    "--controllers=replicaset-controller",
                    "--bind-address=127.0.0.1",
                ])
                .arg(format!("--secure-port={port}"))
                .arg(format!(
                    "--authentication-kubeconfig={}",
                    restricted.display()
                ))
                .arg(format!(
                    "--authentication-tolerate-lookup-failure={tolerate}"
                ));
            let mut process = env.spawn(label, command)?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            let outcome = loop {
                if let testenv::process::ProcessState::Exited(status) = process.state() {
                    break format!("exited {status}");
                }
                if Caller::anonymous().call(port, "GET", "/healthz")?.code == 200 {
                    break "serving".to_owned();
                }
                anyhow::ensure!(
                    tokio::time::Instant::now() < deadline,
                    "{label}: neither exited nor served:\n{}",
                    process.log_tail(20)
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            };
            println!("{label} tolerate={tolerate}: {outcome}");
            let log = process.log_tail(40);
            if tolerate {
                assert_eq!(outcome, "serving", "{label}:\n{log}");
            } else {
                assert!(outcome.starts_with("exited"), "{label}:\n{log}");
                assert!(
                    log.contains("unable to load configmap based request-header-client-ca-file"),
                    "{label}:\n{log}"
                );
            }
            process.terminate(Duration::from_secs(10)).await?;
        }
    }
    Ok(())
}
