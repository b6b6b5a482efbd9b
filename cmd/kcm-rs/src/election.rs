//! Running the controllers under leader election.
//!
//! Default mode is upstream's: one Lease (`--leader-elect-resource-namespace/-name`) gates every
//! controller. Losing it cancels the controllers and ends the process with exit code 1 so the
//! kubelet restarts it as a fresh candidate; SIGTERM drains the controllers, then releases the
//! Lease so a standby takes over within a retry period.
//!
//! With `--leader-elect-per-controller` (beyond upstream) every enabled controller elects on its
//! own Lease `<name>-<controller>`, so replicas share the controllers and a failover moves only
//! the controllers of the instance that died. Each controller builds its own informer factory
//! when it starts leading and drops it when it stops, so a replica watches only the types its
//! leading controllers need. Losing one controller's Lease still exits the process, as in
//! single-lease mode: a replica that cannot renew one Lease cannot trust the others either.

use std::sync::Arc;

use kcm_shared::{
    client::ClientFactory,
    events::EventRecorder,
    health::HealthChecks,
    k8s::object_reference,
    leader_election::{self, ElectionConfig, KubeLeaseLock, LeaderElector, Outcome, Transition},
};
use parking_lot::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    manager::{self, ControllerSetup, RunError},
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
        let lock = KubeLeaseLock::new(client, &le.resource_namespace, &le.resource_name);
        return Ok(elect_and_run(
            config,
            identity,
            lock,
            checks,
            events,
            HEALTH_CHECK.to_string(),
            setup,
            shutdown,
        )
        .await);
    }

    let mut elections = JoinSet::new();
    for id in setup.enabled.clone() {
        let name = id.names().canonical;
        let lock = KubeLeaseLock::new(
            client.clone(),
            &le.resource_namespace,
            &format!("{}-{name}", le.resource_name),
        );
        let controller_setup = ControllerSetup {
            enabled: vec![id],
            label: Some(name.to_string()),
            ..setup.clone()
        };
        let (config, identity, checks, events, shutdown) = (
            config.clone(),
            identity.clone(),
            checks.clone(),
            events.clone(),
            shutdown.clone(),
        );
        elections.spawn(async move {
            let check = format!("{HEALTH_CHECK}-{name}");
            elect_and_run(
                &config,
                identity,
                lock,
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
    let elector = LeaderElector::new(election, lock).on_transition(move |transition, lease| {
        let Some(lease) = lease else { return };
        let message = match transition {
            Transition::Acquired => format!("{identity} became leader"),
            Transition::Lost | Transition::Released => format!("{identity} stopped leading"),
            Transition::NewLeader(_) => return,
        };
        recorder.normal(object_reference(&lease.lease), "LeaderElection", message);
    });
    let status = elector.status();
    let renew_deadline = le.renew_deadline;
    checks.add_health(&check_name, move || status.check(renew_deadline));

    let failure: Arc<Mutex<Option<RunError>>> = Arc::default();
    let failed = failure.clone();
    let outcome = elector
        .run(shutdown, move |leading| async move {
            if let Err(error) = manager::run_controllers(setup, leading).await {
                *failed.lock() = Some(error);
            }
        })
        .await;
    match outcome {
        Outcome::Lost => 1,
        Outcome::Stopped => match failure.lock().take() {
            Some(error) => exit_code(Err(error)),
            None => 0,
        },
    }
}
