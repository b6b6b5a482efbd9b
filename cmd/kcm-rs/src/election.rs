//! Running the controllers under leader election.
//!
//! Default mode is upstream's: one Lease (`--leader-elect-resource-namespace/-name`) gates every
//! controller. Losing it cancels the controllers and ends the process with exit code 1 so the
//! kubelet restarts it as a fresh candidate; SIGTERM drains the controllers, then releases the
//! Lease so a standby takes over within a retry period.
//!
//! With `--leader-elect-per-controller` (beyond upstream) every enabled controller elects on its
//! own Lease `<name>-<controller>`, so replicas share the controllers and a failover moves only
//! the controllers of the instance that died. The process's controllers share one informer
//! factory whose informers start only when the first controller needing them starts leading,
//! so a replica watches only the types its leading controllers need, once each. Losing one
//! controller's Lease still exits the process, as in
//! single-lease mode: a replica that cannot renew one Lease cannot trust the others either.
//! Every enabled controller elects, implemented or not (an unimplemented one leads idly).
//!
//! Balancing (per-controller mode only): the process's electors share a [`HeldLeases`] count. A
//! replica that leads `N` of its controllers' Leases waits an extra `N × retryPeriod` before each
//! attempt to take a Lease it does not hold, and the process's attempts take turns, so free
//! Leases go to the least loaded replicas: replicas started together end up with an even share,
//! and the Leases of a replica that died go to the survivors leading fewest. Replicas started
//! one after another spread too if the later ones start within a few retry periods: alone, a
//! replica takes its k-th Lease only k − 1 retry periods after its first. Nothing ever takes a
//! held Lease away; the cost is a failover slower by `N × retryPeriod`.
//!
//! Wake-ups: while waiting, each elector also watches its Lease and tries again as soon as it
//! changes, rather than after its jittered pause (up to 2.2 retry periods). A release is thus
//! taken within moments, and a standby sees the last renewal of a holder that then died when it
//! happens; as the elector also retries the moment the lease expires by its observation, it
//! takes over `leaseDuration` after that renewal (plus the handicap above, per controller).
//! Without the watch (errors), it falls back to client-go's polling.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kcm_shared::{
    client::ClientFactory,
    events::EventRecorder,
    health::HealthChecks,
    informer::{ReflectorBackoff, RetryDelay},
    k8s::object_reference,
    leader_election::{
        self, ElectionConfig, HeldLeases, KubeLeaseLock, LeaderElector, Outcome, Transition,
    },
};
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};
use parking_lot::Mutex;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    manager::{self, ControllerSetup, RunError, SharedInformers},
    options::KcmConfig,
    process::exit_code,
};

/// The health check name upstream registers for leader election.
const HEALTH_CHECK: &str = "leaderElection";

/// Runs the controllers while elected; returns the process exit code.
pub async fn run_elected(
    config: &Arc<KcmConfig>,
    clients: &ClientFactory,
    checks: &HealthChecks,
    events: &EventRecorder,
    setup: ControllerSetup,
    shutdown: &CancellationToken,
) -> Result<u8, String> {
    let identity = leader_election::identity();
    let le = &config.component.generic.leader_election;
    tracing::info!(%identity, "leader election identity");
    let client = clients
        .client_for("leader-election")
        .map_err(|e| e.to_string())?;
    if !config.process.leader_elect_per_controller {
        let lock = KubeLeaseLock::new(client, &le.resource_namespace, &le.resource_name)
            .with_target(clients.target());
        return Ok(elect_and_run(
            config,
            identity,
            lock,
            None,
            checks,
            events,
            HEALTH_CHECK.to_string(),
            setup,
            shutdown,
        )
        .await);
    }

    let informers =
        SharedInformers::new(clients, config, shutdown.clone()).map_err(|e| e.to_string())?;
    let held = Arc::new(HeldLeases::new());
    let mut elections = JoinSet::new();
    for id in setup.enabled.clone() {
        let name = id.names().canonical;
        let lock = KubeLeaseLock::new(
            client.clone(),
            &le.resource_namespace,
            &format!("{}-{name}", le.resource_name),
        )
        .with_target(clients.target());
        let controller_setup = ControllerSetup {
            enabled: vec![id],
            label: Some(name.to_string()),
            informers: Some(informers.clone()),
            ..setup.clone()
        };
        let (config, identity, checks, events, shutdown, held) = (
            config.clone(),
            identity.clone(),
            checks.clone(),
            events.clone(),
            shutdown.clone(),
            held.clone(),
        );
        elections.spawn(async move {
            let check = format!("{HEALTH_CHECK}-{name}");
            elect_and_run(
                &config,
                identity,
                lock,
                Some(held),
                &checks,
                &events,
                check,
                controller_setup,
                &shutdown,
            )
            .await
        });
    }
    let mut code = 0;
    while let Some(result) = elections.join_next().await {
        let this = result.unwrap_or(1);
        if this != 0 {
            // One lost Lease ends the process (see the module docs).
            return Ok(this);
        }
        code = code.max(this);
    }
    Ok(code)
}

#[allow(clippy::too_many_arguments)]
async fn elect_and_run(
    config: &KcmConfig,
    identity: String,
    lock: KubeLeaseLock,
    balance: Option<Arc<HeldLeases>>,
    checks: &HealthChecks,
    events: &EventRecorder,
    check_name: String,
    setup: ControllerSetup,
    shutdown: &CancellationToken,
) -> u8 {
    let le = &config.component.generic.leader_election;
    let election = ElectionConfig {
        identity: identity.clone(),
        name: lock.name().to_string(),
        lease_duration: le.lease_duration,
        renew_deadline: le.renew_deadline,
        retry_period: le.retry_period,
        release_on_cancel: true,
    };
    let recorder = events.clone();
    let lease_api = lock.api();
    let lease_name = lock.name().to_string();
    let mut elector = LeaderElector::new(election, lock).on_transition(move |transition, lease| {
        let Some(lease) = lease else { return };
        let message = match transition {
            Transition::Acquired => format!("{identity} became leader"),
            Transition::Lost | Transition::Released => format!("{identity} stopped leading"),
            Transition::NewLeader(_) => return,
        };
        recorder.normal(object_reference(&lease.lease), "LeaderElection", message);
    });
    if let Some(held) = balance {
        elector = elector.with_balance(held);
    }
    let status = elector.status();
    let renew_deadline = le.renew_deadline;
    checks.add_health(&check_name, move || status.check(renew_deadline));

    let failure: Arc<Mutex<Option<RunError>>> = Arc::default();
    let failed = failure.clone();
    let run = elector.run(shutdown, move |leading| async move {
        if let Err(error) = manager::run_controllers(setup, leading).await {
            *failed.lock() = Some(error);
        }
    });
    // The watch lives exactly as long as the election (its wake-ups are ignored while leading):
    // it is dropped when `run` returns.
    let outcome = tokio::select! {
        outcome = run => outcome,
        never = wake_on_lease_changes(lease_api, lease_name, elector.waker()) => match never {},
    };
    match outcome {
        // Upstream's OnStoppedLeading is `klog.FlushAndExit(1)`: leave now, before a follower
        // may take over, without waiting for controllers or queued events. The elector has
        // already cancelled the controllers and logged the loss.
        Outcome::Lost => std::process::exit(1),
        Outcome::Stopped => match failure.lock().take() {
            Some(error) => exit_code(Err(error)),
            None => 0,
        },
    }
}

/// Notifies `wake` on every change of the Lease (including its deletion), for as long as it is
/// polled. Errors are retried with the informers' reflector backoff; without the watch the
/// elector still polls on its own (and logs its own errors), so these are only debug lines.
async fn wake_on_lease_changes(
    api: Api<Lease>,
    name: String,
    wake: Arc<Notify>,
) -> std::convert::Infallible {
    let backoff = ReflectorBackoff::new(Arc::new(RetryDelay::default()));
    let mut changes = watcher::watch_object(api, &name).backoff(backoff).boxed();
    while let Some(change) = changes.next().await {
        match change {
            Ok(_) => wake.notify_one(),
            Err(error) => tracing::debug!(lease = %name, %error, "watching the lease failed"),
        }
    }
    // The watcher's stream never ends; should it, the elector keeps polling on its own.
    std::future::pending().await
}
