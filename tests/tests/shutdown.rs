//! SIGTERM in the middle of a large scale-up (issue 19 item 7): the sync in flight finishes
//! the creations it has sent but starts no new slow-start batch, so the drain ends promptly
//! and adds almost no pods; upstream stops because its requests' context is cancelled.
//!
//! A ReplicaSet scales from 0 to 300 under `--kube-api-qps=30`; when 40 pods exist the process
//! gets SIGTERM. Slow start's batches are 1, 2, 4, 8, 16, 32, 64, …: at 40 pods the batch of 32
//! (pods 32–63) is in flight, so kcm-rs may end at 63 at most.

use std::time::Duration;

use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
use kube::api::{ListParams, PostParams};
use testenv::{
    KcmRs, ManagedProcess, TestEnv, UpstreamKcm, process::ProcessState, workloads::replica_set,
};

const REPLICAS: i32 = 300;
const SIGNAL_AT: usize = 40;
const LIMITS: [&str; 2] = ["--kube-api-qps=30", "--kube-api-burst=30"];

/// The end of the slow-start batch that holds the `n`-th creation (batches 1, 2, 4, …).
fn end_of_batch_holding(n: usize) -> usize {
    let (mut done, mut batch) = (0, 1);
    while done < n {
        done += batch;
        batch *= 2;
    }
    done
}

async fn pod_count(api: &kube::Api<Pod>) -> anyhow::Result<usize> {
    Ok(api.list_metadata(&ListParams::default()).await?.items.len())
}

/// Scales up under `process`, signals it at [`SIGNAL_AT`] pods; returns (pods at the signal,
/// pods once it exited and the apiserver settled, seconds from signal to exit).
async fn scale_up_and_terminate(
    env: &TestEnv,
    process: &mut ManagedProcess,
    prefix: &str,
) -> anyhow::Result<(usize, usize, f64)> {
    let ns = env.namespace(prefix).await?;
    let pods = ns.api::<Pod>();
    ns.api::<ReplicaSet>()
        .create(
            &PostParams::default(),
            &replica_set("big", REPLICAS, &[("app", "big")], &[]),
        )
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let at_signal = loop {
        let n = pod_count(&pods).await?;
        if n >= SIGNAL_AT {
            break n;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "only {n} pods after 60 s:\n{}",
            process.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let signalled = tokio::time::Instant::now();
    let status = process.terminate(Duration::from_secs(30)).await?;
    let drain = signalled.elapsed().as_secs_f64();
    anyhow::ensure!(
        matches!(process.state(), ProcessState::Exited(_)),
        "still running"
    );
    tracing::info!(?status, "exited");
    // Creations already accepted are visible to a list by now; wait a moment for stragglers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok((at_signal, pod_count(&pods).await?, drain))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_scale_up_starts_no_new_creation_batch() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;

    let mut args = vec!["--controllers=replicaset-controller"];
    args.extend(LIMITS);
    let mut kcm = KcmRs::start_synced(env, &args).await?;
    let (ours_at, ours_end, ours_drain) =
        scale_up_and_terminate(env, kcm.process_mut(), "shutdown-kcm").await?;

    let mut upstream =
        UpstreamKcm::start_with_args(env, &["replicaset-controller"], &LIMITS).await?;
    let (theirs_at, theirs_end, theirs_drain) =
        scale_up_and_terminate(env, upstream.process_mut(), "shutdown-upstream").await?;

    println!(
        "pods at SIGTERM → at exit: kcm-rs {ours_at} → {ours_end} (drain {ours_drain:.1}s), \
         upstream {theirs_at} → {theirs_end} (drain {theirs_drain:.1}s)"
    );
    let bound = end_of_batch_holding(ours_at);
    assert!(
        ours_end <= bound,
        "kcm-rs created {ours_end} pods; the batch in flight at {ours_at} ends at {bound}"
    );
    assert!(ours_end < REPLICAS as usize / 2, "{ours_end}");
    assert!(ours_drain < 10.0, "drain took {ours_drain:.1}s");
    let log = std::fs::read_to_string(kcm.process().log_path())?;
    assert!(log.contains("no further creation batches"), "{log}");
    Ok(())
}

#[test]
fn batch_ends_are_those_of_slow_start() {
    assert_eq!(end_of_batch_holding(1), 1);
    assert_eq!(end_of_batch_holding(40), 63);
    assert_eq!(end_of_batch_holding(63), 63);
    assert_eq!(end_of_batch_holding(64), 127);
}
