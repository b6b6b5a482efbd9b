//! What kcm-rs says and does when it cannot talk to the apiserver properly, beside upstream
//! kube-controller-manager in the same situation (issue 19, items 5 and 6):
//!
//! - a dead port, a CA that did not sign the server, a CA file with no certificate and a token
//!   the apiserver rejects: kcm-rs exits 1 with a message naming the kubeconfig, the server and
//!   the cause, as upstream names the cause; under leader election the elector's errors name
//!   them too, at the default verbosity;
//! - a Lease namespace that does not exist, and an identity without rights on Leases: an error
//!   line on every attempt (upstream: `klog.Errorf` each time);
//! - an identity without list rights: its informers' LISTs back off as client-go's reflector
//!   does, counted at the apiserver (`authorization_attempts_total{result="no-opinion"}`, RBAC's
//!   denial), beside upstream's count over the same window.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use testenv::{
    KcmRs, ManagedProcess, TestEnv, bench::metric_sum, env::Identity, process::ProcessState,
};
use tokio::sync::Mutex;

/// Tests that make the apiserver deny requests share its denial counter: one at a time.
static DENIALS: Mutex<()> = Mutex::const_new(());

const EXIT_WITHIN: Duration = Duration::from_secs(40);

/// A kubeconfig derived from the admin one, written next to the test's logs.
struct BrokenKubeconfig {
    name: &'static str,
    path: PathBuf,
    /// The server the kubeconfig names.
    server: String,
    /// What kcm-rs must say (besides the kubeconfig path).
    kcm_says: &'static [&'static str],
    /// What upstream says about the same cause.
    upstream_says: &'static [&'static str],
}

fn write_kubeconfigs(env: &TestEnv, dir: &Path) -> anyhow::Result<Vec<BrokenKubeconfig>> {
    std::fs::create_dir_all(dir)?;
    let admin = std::fs::read_to_string(env.kubeconfig(Identity::Admin))?;
    let server = env.apiserver_url().trim_end_matches('/').to_string();
    let replace_line = |text: &str, key: &str, value: &str| -> String {
        text.lines()
            .map(|line| match line.trim_start().strip_prefix(key) {
                Some(_) => {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    format!("{indent}{key} {value}")
                }
                None => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let other_ca = rcgen::generate_simple_self_signed(vec!["other-ca".to_string()])?;
    std::fs::write(dir.join("other-ca.crt"), other_ca.cert.pem())?;
    std::fs::write(dir.join("garbage.crt"), "this is not a certificate\n")?;
    let ca = |file: &str| dir.join(file).display().to_string();
    let dead_server = format!("https://127.0.0.1:{}", free_port()?);
    let cases = [
        (
            "dead-port",
            replace_line(&admin, "server:", &dead_server),
            dead_server.clone(),
            &["connection refused"][..],
            &["connection refused"][..],
        ),
        (
            "other-ca",
            replace_line(&admin, "certificate-authority:", &ca("other-ca.crt")),
            server.clone(),
            &["certificate signed by unknown authority"][..],
            &["certificate signed by unknown authority"][..],
        ),
        (
            "garbage-ca",
            replace_line(&admin, "certificate-authority:", &ca("garbage.crt")),
            String::new(),
            &["garbage.crt holds no PEM certificate"][..],
            &["unable to load root certificates"][..],
        ),
        (
            "forged-token",
            replace_line(&admin, "token:", "forged-token-0123456789"),
            server.clone(),
            &["401 Unauthorized"][..],
            &["Unauthorized"][..],
        ),
    ];
    let mut written = Vec::new();
    for (name, text, server, kcm_says, upstream_says) in cases {
        let path = dir.join(format!("{name}.kubeconfig"));
        std::fs::write(&path, text)?;
        written.push(BrokenKubeconfig {
            name,
            path,
            server,
            kcm_says,
            upstream_says,
        });
    }
    Ok(written)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_exit(process: &mut ManagedProcess, within: Duration) -> anyhow::Result<i32> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let ProcessState::Exited(status) = process.state() {
            return Ok(status.code().unwrap_or(-1));
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{} still running after {within:?}", process.name());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn log_of(process: &ManagedProcess) -> String {
    std::fs::read_to_string(process.log_path()).unwrap_or_default()
}

/// The error-level lines (klog `E…`) of a log.
fn error_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.starts_with('E')).collect()
}

fn upstream_command(env: &TestEnv, kubeconfig: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env.bin_dir().join("kube-controller-manager"));
    command
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args([
            "--controllers=replicaset-controller",
            "--leader-elect=false",
            "--secure-port=0",
            "--use-service-account-credentials=false",
            "--v=0",
        ])
        .args(extra);
    command
}

/// Without leader election, each broken kubeconfig ends both processes with exit 1; kcm-rs's
/// last error names the kubeconfig, the server and the cause, upstream's the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_name_the_kubeconfig_the_server_and_the_cause() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let cases = write_kubeconfigs(env, &env.dir().join("broken-kubeconfigs"))?;
    let mut runs = Vec::new();
    for case in &cases {
        let kubeconfig = format!("--kubeconfig={}", case.path.display());
        let kcm = KcmRs::start(
            env,
            &[
                &kubeconfig,
                "--controllers=replicaset-controller",
                "-v",
                "0",
            ],
        )?;
        let upstream = env.spawn(
            &format!("upstream-{}", case.name),
            upstream_command(env, &case.path, &[]),
        )?;
        runs.push((case, kcm, upstream));
    }
    for (case, kcm, upstream) in &mut runs {
        let kcm_code = wait_exit(kcm.process_mut(), EXIT_WITHIN).await?;
        let upstream_code = wait_exit(upstream, EXIT_WITHIN).await?;
        let kcm_log = log_of(kcm.process());
        let upstream_log = log_of(upstream);
        let last = error_lines(&kcm_log)
            .last()
            .copied()
            .unwrap_or_default()
            .to_string();
        println!(
            "{}:\n  kcm-rs   ({kcm_code}): {last}\n  upstream ({upstream_code}): {}",
            case.name,
            error_lines(&upstream_log)
                .last()
                .copied()
                .unwrap_or_default()
        );
        assert_eq!(
            (kcm_code, upstream_code),
            (1, 1),
            "{}: exit codes",
            case.name
        );
        let path = case.path.display().to_string();
        assert!(
            last.contains(&path),
            "{}: no kubeconfig path in {last:?}",
            case.name
        );
        assert!(
            last.contains(&case.server),
            "{}: no server in {last:?}",
            case.name
        );
        for needle in case.kcm_says {
            assert!(
                last.contains(needle),
                "{}: {needle:?} not in {last:?}",
                case.name
            );
        }
        for needle in case.upstream_says {
            assert!(
                upstream_log.contains(needle),
                "{}: upstream did not say {needle:?}:\n{upstream_log}",
                case.name
            );
        }
    }
    Ok(())
}

/// Under leader election (the default) the same causes reach the log through the elector, at
/// error level and with the server and kubeconfig, on every attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elected_connection_errors_name_the_kubeconfig_the_server_and_the_cause()
-> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let cases = write_kubeconfigs(env, &env.dir().join("broken-kubeconfigs-elected"))?;
    for case in cases.iter().filter(|c| !c.server.is_empty()) {
        let kubeconfig = format!("--kubeconfig={}", case.path.display());
        let mut kcm = KcmRs::start(
            env,
            &[
                &kubeconfig,
                "--controllers=replicaset-controller",
                "--leader-elect=true",
                "--leader-elect-retry-period=1s",
                "-v",
                "0",
            ],
        )?;
        let process = kcm.process_mut();
        process
            .wait_for_log("error retrieving lease", Duration::from_secs(20))
            .await
            .with_context(|| case.name)?;
        // At least two attempts, each logged.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let log = log_of(process);
        let lines: Vec<&str> = error_lines(&log)
            .into_iter()
            .filter(|l| l.contains("error retrieving lease"))
            .collect();
        assert!(lines.len() >= 2, "{}: {lines:?}", case.name);
        let line = lines[0];
        for needle in case.kcm_says.iter().copied().chain([case.server.as_str()]) {
            assert!(
                line.contains(needle),
                "{}: {needle:?} not in {line:?}",
                case.name
            );
        }
        assert!(line.contains(&case.path.display().to_string()), "{line}");
        process.kill()?;
    }
    Ok(())
}

/// A Lease namespace that does not exist and an identity that may not read Leases: errors at
/// the default verbosity on every attempt, in both processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_errors_are_logged_at_the_default_verbosity() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _denials = DENIALS.lock().await;
    let cases = [
        (
            "missing-namespace",
            env.kubeconfig(Identity::Admin),
            "--leader-elect-resource-namespace=no-such-namespace",
            "error creating the lease",
            r#"namespaces "no-such-namespace" not found"#,
        ),
        (
            "forbidden",
            env.kubeconfig(Identity::Restricted),
            "--leader-elect-resource-name=kcm-failures-forbidden",
            "error retrieving lease",
            "403 Forbidden",
        ),
    ];
    for (name, kubeconfig, flag, kcm_says, cause) in cases {
        let kubeconfig_flag = format!("--kubeconfig={}", kubeconfig.display());
        let mut kcm = KcmRs::start(
            env,
            &[
                &kubeconfig_flag,
                "--controllers=replicaset-controller",
                "--leader-elect=true",
                "--leader-elect-retry-period=1s",
                flag,
                "-v",
                "0",
            ],
        )?;
        let mut upstream = env.spawn(
            &format!("upstream-lease-{name}"),
            upstream_command(
                env,
                &kubeconfig,
                &[
                    "--leader-elect=true",
                    "--leader-elect-retry-period=1s",
                    flag,
                ],
            ),
        )?;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let kcm_log = log_of(kcm.process());
        let upstream_log = log_of(&upstream);
        kcm.process_mut().kill()?;
        upstream.kill()?;
        let ours: Vec<&str> = error_lines(&kcm_log)
            .into_iter()
            .filter(|l| l.contains(kcm_says) && l.contains(cause))
            .collect();
        let theirs: Vec<&str> = error_lines(&upstream_log)
            .into_iter()
            .filter(|l| l.contains("lease") || l.contains("leader election"))
            .collect();
        println!(
            "{name}: kcm-rs {} error lines, upstream {}",
            ours.len(),
            theirs.len()
        );
        assert!(ours.len() >= 2, "{name}: kcm-rs:\n{kcm_log}");
        assert!(!theirs.is_empty(), "{name}: upstream:\n{upstream_log}");
    }
    Ok(())
}

/// The denials the apiserver has counted so far.
async fn denials(env: &TestEnv) -> anyhow::Result<f64> {
    let text = env
        .admin_client()
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    Ok(metric_sum(
        &text,
        "authorization_attempts_total",
        &[r#"result="no-opinion""#],
    ))
}

/// An identity without list rights: kcm-rs's two informers (pods, replicasets) back off from
/// 0.8 s to 30 s as client-go's reflector does, so over a minute the apiserver denies about as
/// many LISTs from kcm-rs as from upstream (kube's own backoff, reset by the watcher's `Init`,
/// retried every 0.8–1.6 s: about 100 a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_list_backs_off_like_client_go() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _denials = DENIALS.lock().await;
    let window = Duration::from_secs(60);
    let restricted = env.kubeconfig(Identity::Restricted);
    let kubeconfig = format!("--kubeconfig={}", restricted.display());

    let before = denials(env).await?;
    let mut kcm = KcmRs::start(env, &[&kubeconfig, "--controllers=replicaset-controller"])?;
    tokio::time::sleep(window).await;
    kcm.process_mut().kill()?;
    let ours = denials(env).await? - before;
    let kcm_log = log_of(kcm.process());

    let before = denials(env).await?;
    let mut upstream = env.spawn(
        "upstream-forbidden-list",
        upstream_command(env, &restricted, &[]),
    )?;
    tokio::time::sleep(window).await;
    upstream.kill()?;
    let theirs = denials(env).await? - before;

    println!("denied requests in {window:?}: kcm-rs {ours}, upstream {theirs}");
    let failures = kcm_log
        .lines()
        .filter(|l| l.starts_with('W') && l.contains("informer list/watch failed"))
        .count();
    assert!(
        kcm_log.contains("verb=\"list\"") || kcm_log.contains("verb=list"),
        "{kcm_log}"
    );
    assert!(kcm_log.contains("code=403"), "{kcm_log}");
    // Two informers, each about 6 attempts in a minute (0.8 + 1.6 + … + 25.6 s, jittered).
    assert!(ours >= 4.0, "kcm-rs stopped retrying: {ours}");
    assert!(ours <= 24.0, "kcm-rs retried {ours} times in {window:?}");
    assert!(
        ours <= theirs * 2.0 + 4.0,
        "kcm-rs {ours} vs upstream {theirs}"
    );
    assert!(
        failures as f64 <= ours + 1.0,
        "{failures} log lines for {ours} denials"
    );
    Ok(())
}

fn https_get(port: u16, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sk", "-m", "2", "-w", "\n%{http_code}"])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A panic in a client's request worker (the task kube spawns per client: with it gone every
/// request of that client fails, the pre-fix zombie of issue 19) is fatal: `/healthz` names it
/// while the process drains, and the process exits 1 so the kubelet restarts it. The panic is
/// injected through `KCM_RS_TEST_PANIC_CLIENT` (kcm_shared::client), on the ReplicaSet
/// controller's third request; the test's ReplicaSet makes sure there is one (a reused
/// environment may hold others, so the panic may come earlier).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_client_worker_fails_healthz_and_exits_1() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let port = free_port()?;
    let mut command = Command::new(testenv::kcm_rs_binary()?);
    command
        .arg(format!(
            "--kubeconfig={}",
            env.kubeconfig(Identity::Admin).display()
        ))
        .args([
            &format!("--secure-port={port}"),
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--controllers=replicaset-controller",
            "--controller-shutdown-timeout=10s",
        ])
        .env("KCM_RS_TEST_PANIC_CLIENT", "replicaset-controller:3");
    let probing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let prober = {
        let probing = probing.clone();
        std::thread::spawn(move || {
            let mut failed_bodies = Vec::new();
            while probing.load(std::sync::atomic::Ordering::Relaxed) {
                let (code, body) = https_get(port, "/healthz?verbose");
                if code == 500 && body.contains("[-]panics failed") {
                    failed_bodies.push(body);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            failed_bodies
        })
    };
    let mut kcm = env.spawn("kcm-rs-panic", command)?;

    let ns = env.namespace("panic").await?;
    ns.api::<k8s_openapi::api::apps::v1::ReplicaSet>()
        .create(
            &kube::api::PostParams::default(),
            &testenv::workloads::replica_set("rs", 5, &[("app", "panic")], &[]),
        )
        .await?;
    let code = wait_exit(&mut kcm, EXIT_WITHIN).await?;
    probing.store(false, std::sync::atomic::Ordering::Relaxed);
    let failed_bodies = prober.join().unwrap_or_default();
    let log = log_of(&kcm);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("panic outside any recoverable scope"), "{log}");
    assert!(
        log.contains("injected panic in the request worker"),
        "{log}"
    );
    assert!(log.contains("shutting down (exit code 1)"), "{log}");
    // The drain after a fatal panic can take milliseconds, too short for a probe to land in;
    // the process logs the health report it serves then, and any probe that landed agrees.
    assert!(log.contains("[-]panics failed"), "{log}");
    println!("{} probes saw [-]panics failed", failed_bodies.len());
    Ok(())
}
