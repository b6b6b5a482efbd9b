//! The kcm-rs process against a real apiserver: one watch per resource type however many
//! controllers use it, the serving port, exit codes, and a clean SIGTERM.

use std::{process::Command, time::Duration};

use testenv::{Check, KcmRs, TestEnv, env::Identity, kcm_rs_binary, wait_until};

/// Open WATCH requests the apiserver counts for `resource` (summed over scopes).
async fn open_watches(env: &TestEnv, resource: &str) -> anyhow::Result<f64> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = env.admin_client().request_text(request).await?;
    let needle = format!("resource=\"{resource}\"");
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_longrunning_requests{"))
        .filter(|l| l.contains(&needle) && l.contains("verb=\"WATCH\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn https_get(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    https_get_as(port, path, None)
}

/// GET over HTTPS, with a bearer token when given.
fn https_get_as(port: u16, path: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut curl = Command::new("curl");
    curl.args(["-sk", "-w", "\n%{http_code}"]);
    if let Some(token) = token {
        curl.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = curl
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    Ok((code.trim().parse().unwrap_or(0), body.to_string()))
}

/// Starts kcm-rs with RS + RC (both watch pods) plus `extra` flags and checks that each of the
/// three types gets exactly one watch.
async fn one_watch_per_type(env: &TestEnv, extra: &[&str]) -> anyhow::Result<()> {
    let resources = ["pods", "replicasets", "replicationcontrollers"];
    let mut before = Vec::new();
    for r in resources {
        before.push(open_watches(env, r).await?);
    }
    let mut args = vec!["--controllers=replicaset-controller,replicationcontroller-controller"];
    args.extend_from_slice(extra);
    let kcm = KcmRs::start_synced(env, &args).await?;
    // Both controllers running (per-controller leases are taken one after the other) ...
    let before_ref = &before;
    let started = wait_until(
        Duration::from_secs(30),
        "a watch on every type",
        || async move {
            let mut now = Vec::new();
            for r in resources {
                now.push(open_watches(env, r).await.unwrap_or(0.0));
            }
            if now.iter().zip(before_ref).all(|(n, b)| n - b >= 1.0) {
                Check::Done(())
            } else {
                Check::NotYet(format!(
                    "open WATCH requests {now:?}, before kcm-rs {before_ref:?}"
                ))
            }
        },
    )
    .await;
    if let Err(e) = started {
        panic!("{e}\nkcm-rs log:\n{}", kcm.process().log_tail(30));
    }
    // ... and time for any (wrongly) duplicated watch to show up too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (r, was) in resources.iter().zip(before) {
        let now = open_watches(env, r).await?;
        assert_eq!(
            now - was,
            1.0,
            "open WATCH requests on {r}: {was} before kcm-rs {extra:?}, {now} after"
        );
    }
    drop(kcm);
    Ok(())
}

#[tokio::test]
async fn controllers_sharing_a_type_open_one_watch_for_it() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    one_watch_per_type(env, &[]).await?;
    // Per-controller leases: one replica leading both controllers still watches each type once.
    let lease = format!(
        "--leader-elect-resource-name=kcm-watches-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    one_watch_per_type(
        env,
        &[
            "--leader-elect=true",
            "--leader-elect-per-controller",
            &lease,
            "--leader-elect-lease-duration=6s",
            "--leader-elect-renew-deadline=4s",
            "--leader-elect-retry-period=1s",
        ],
    )
    .await
}

#[tokio::test]
async fn serves_health_metrics_and_configz_and_exits_0_on_sigterm() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let port = free_port()?;
    // Delegated authentication and authorization through the admin identity, as upstream needs
    // for /metrics and /configz; /healthz, /readyz and /livez are always allowed.
    let admin = env.kubeconfig(Identity::Admin);
    let mut kcm = KcmRs::start_synced(
        env,
        &[
            &format!("--secure-port={port}"),
            "--controllers=replicaset-controller",
            "--concurrent-replicaset-syncs=3",
            &format!("--authentication-kubeconfig={}", admin.display()),
            &format!("--authorization-kubeconfig={}", admin.display()),
        ],
    )
    .await?;
    assert_eq!(https_get(port, "/metrics")?.0, 403, "anonymous /metrics");
    let (code, body) = https_get(port, "/healthz")?;
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (code, body) = https_get(port, "/healthz?verbose")?;
    assert_eq!(code, 200);
    assert!(body.contains("[+]replicaset-controller ok"), "{body}");
    // Only the exact always-allow paths are open; a check's own path needs authorization.
    assert_eq!(https_get(port, "/healthz/replicaset-controller")?.0, 403);
    let admin_token = Some(env.admin_token());
    assert_eq!(
        https_get_as(port, "/healthz/replicaset-controller", admin_token)?.0,
        200
    );
    assert_eq!(https_get(port, "/readyz")?, (200, "ok".to_string()));
    assert_eq!(https_get(port, "/livez")?.0, 200);
    let (code, metrics) = https_get_as(port, "/metrics", Some(env.admin_token()))?;
    assert_eq!(code, 200);
    for family in [
        "workqueue_depth{name=\"replicaset\"}",
        "workqueue_adds_total{name=\"replicaset\"}",
        "workqueue_queue_duration_seconds_bucket{name=\"replicaset\"",
        "workqueue_work_duration_seconds_bucket{name=\"replicaset\"",
        "workqueue_retries_total{name=\"replicaset\"}",
        "workqueue_unfinished_work_seconds{name=\"replicaset\"}",
        "workqueue_longest_running_processor_seconds{name=\"replicaset\"}",
        "rest_client_requests_total{",
        "rest_client_request_duration_seconds_bucket{",
        "process_resident_memory_bytes",
        "running_managed_controllers{manager=\"kube-controller-manager\",name=\"replicaset-controller\"} 1",
    ] {
        assert!(metrics.contains(family), "/metrics lacks {family}");
    }
    let (code, configz) = https_get_as(port, "/configz", Some(env.admin_token()))?;
    assert_eq!(code, 200);
    let configz: serde_json::Value = serde_json::from_str(&configz)?;
    let rs = &configz["kubecontrollermanager.config.k8s.io"]["ReplicaSetController"]["ConcurrentRSSyncs"];
    assert_eq!(rs, 3, "{configz}");

    let status = kcm.process_mut().terminate(Duration::from_secs(20)).await?;
    assert_eq!(status.code(), Some(0), "{}", kcm.process().log_tail(20));
    Ok(())
}

#[test]
fn bad_input_exits_2_naming_the_culprit_and_starts_nothing() -> anyhow::Result<()> {
    let binary = kcm_rs_binary()?;
    let out = Command::new(&binary).arg("--controllers=bogus").output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("\"bogus\" is not in the list of known controllers")
    );

    let dir = std::env::temp_dir().join(format!("kcm-rs-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: kubecontrollermanager.config.k8s.io/v1alpha1\nkind: KubeControllerManagerConfiguration\n\
         replicaSetController:\n  concurrentRSSync: 3\n",
    )?;
    let out = Command::new(&binary)
        .arg(format!("--config={}", file.display()))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("concurrentRSSync"),
        "{stderr}"
    );

    let out = Command::new(&binary).arg("--help").output()?;
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for flag in [
        "--concurrent-replicaset-syncs",
        "--min-resync-period",
        "12h0m0s",
        "--leader-elect-lease-duration",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    Ok(())
}
