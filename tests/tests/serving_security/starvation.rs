//! Issue 19 item 3: with 256 descriptors and 300 idle TCP connections held on the serving port,
//! a ReplicaSet still converges, `/healthz` still answers and the process does not spin; and the
//! same when the descriptor limit is lowered (prlimit on the running process) to a few above what
//! it uses, so accept really fails with EMFILE. The same floods against upstream are measured
//! and printed for comparison.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::PostParams;
use testenv::{
    TestEnv, TestNamespace, env::Identity, kcm_rs_binary, wait_for_object, workloads::replica_set,
};

use crate::support::{Caller, free_port};

const NOFILE: u32 = 256;
const IDLE_CONNECTIONS: usize = 300;
const REPLICAS: i32 = 10;

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

/// What one flood did to one manager.
struct Outcome {
    converged: bool,
    healthz: u16,
    cpu: f64,
    accept_errors: usize,
}

/// Starts `binary` under `prlimit --nofile=256`, optionally lowers the limit to `spare`
/// descriptors above what it has open once synced, holds the idle connections while a
/// ReplicaSet scales, and measures.
async fn flood(
    env: &TestEnv,
    ns: &TestNamespace,
    label: &str,
    binary: &std::path::Path,
    spare: Option<usize>,
) -> anyhow::Result<Outcome> {
    let port = free_port()?;
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg("--")
        .arg(binary)
        .arg(format!(
            "--kubeconfig={}",
            env.kubeconfig(Identity::Admin).display()
        ))
        .args([
            "--leader-elect=false",
            "--controllers=replicaset-controller",
            "--use-service-account-credentials=false",
            "--bind-address=127.0.0.1",
            "-v",
            "2",
        ])
        .arg(format!("--secure-port={port}"));
    let mut process = env.spawn(label, command)?;
    process
        .wait_for_log("Caches are synced", Duration::from_secs(90))
        .await?;
    if let Some(spare) = spare {
        let open = std::fs::read_dir(format!("/proc/{}/fd", process.pid()))?.count();
        let limit = open + spare;
        let status = Command::new("prlimit")
            .args([
                "--pid",
                &process.pid().to_string(),
                &format!("--nofile={limit}:{limit}"),
            ])
            .status()?;
        anyhow::ensure!(status.success(), "prlimit --pid failed");
        println!("{label}: {open} descriptors open; limit lowered to {limit}");
    }
    // Hold the connections: plain TCP, no TLS, no request.
    let mut held = Vec::new();
    for _ in 0..IDLE_CONNECTIONS {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = cpu_seconds(process.pid());
    let started = tokio::time::Instant::now();
    let name = format!(
        "flood-{label}-{}",
        spare.map_or("cap".to_owned(), |s| s.to_string())
    );
    let rs = replica_set(&name, REPLICAS, &[("app", &name)], &[]);
    ns.api::<ReplicaSet>()
        .create(&PostParams::default(), &rs)
        .await?;
    let converged = wait_for_object(
        &ns.api::<ReplicaSet>(),
        &name,
        Duration::from_secs(60),
        "all replicas created",
        |rs| rs.status.as_ref().map(|s| s.replicas) == Some(REPLICAS),
    )
    .await
    .map(|_| started.elapsed());
    let probe_started = std::time::Instant::now();
    let healthz = Caller::anonymous().call(port, "GET", "/healthz")?.code;
    let probe_time = probe_started.elapsed();
    // Keep holding for a while: an accept loop spinning on EMFILE would show here.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let held_for = started.elapsed();
    let cpu = cpu_seconds(process.pid()) - cpu_before;
    let log = std::fs::read_to_string(process.log_path()).unwrap_or_default();
    let accept_errors = log.matches("Accept error").count();
    println!(
        "{label}: {} idle connections held, RS converged {:?}, /healthz {healthz} in {probe_time:?}, {cpu:.2} CPU-s over {held_for:?}, {accept_errors} accept-error log lines",
        held.len(),
        converged.as_ref().map_err(|e| e.to_string()),
    );
    drop(held);
    process.terminate(Duration::from_secs(15)).await?;
    Ok(Outcome {
        converged: converged.is_ok(),
        healthz,
        cpu,
        accept_errors,
    })
}

#[tokio::test]
async fn idle_connections_and_few_descriptors_do_not_starve_the_controllers() -> anyhow::Result<()>
{
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-flood").await?;
    let ours = flood(env, &ns, "kcm-rs", &kcm_rs_binary()?, None).await?;
    let upstream = env.bin_dir().join("kube-controller-manager");
    flood(env, &ns, "upstream", &upstream, None).await?;
    assert!(
        ours.converged,
        "kcm-rs: the ReplicaSet did not converge under the flood"
    );
    assert_eq!(ours.healthz, 200, "kcm-rs: /healthz under the flood");
    assert!(
        ours.cpu < 5.0,
        "kcm-rs burned {:.2} CPU-seconds under the flood",
        ours.cpu
    );
    Ok(())
}

#[tokio::test]
async fn accept_backs_off_when_descriptors_run_out() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-emfile").await?;
    let ours = flood(env, &ns, "kcm-rs", &kcm_rs_binary()?, Some(8)).await?;
    let upstream = env.bin_dir().join("kube-controller-manager");
    flood(env, &ns, "upstream", &upstream, Some(8)).await?;
    assert!(
        ours.accept_errors > 0,
        "kcm-rs never ran out of descriptors: the test proves nothing"
    );
    assert!(
        ours.converged,
        "kcm-rs: the ReplicaSet did not converge without descriptors"
    );
    assert_eq!(ours.healthz, 200, "kcm-rs: /healthz without descriptors");
    assert!(
        ours.cpu < 5.0,
        "kcm-rs burned {:.2} CPU-seconds without descriptors",
        ours.cpu
    );
    Ok(())
}
