use super::*;
use crate::deployment::{conditions::*, testing::*};
use k8s_openapi::api::apps::v1::DeploymentStatus;

fn paused(mut d: Deployment, paused: bool) -> Deployment {
    if let Some(s) = d.spec.as_mut() {
        s.paused = Some(paused);
    }
    d
}

fn with_progressing(mut d: Deployment, reason: &str) -> Deployment {
    let mut status = DeploymentStatus::default();
    conditions::set(
        &mut status,
        new_condition(PROGRESSING, UNKNOWN, reason, "m", at(0)),
    );
    d.status = Some(status);
    d
}

#[test]
fn pause_and_resume_conditions() {
    let d = paused(deployment(1, int(1), int(0)), true);
    let c = paused_condition(&d, at(1)).unwrap_or_default();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        (UNKNOWN, Some(PAUSED))
    );
    assert_eq!(c.message.as_deref(), Some("Deployment is paused"));
    // Already paused: nothing.
    assert!(paused_condition(&with_progressing(d.clone(), PAUSED), at(2)).is_none());
    // Resumed.
    let resumed = paused(with_progressing(d.clone(), PAUSED), false);
    let c = paused_condition(&resumed, at(3)).unwrap_or_default();
    assert_eq!(c.reason.as_deref(), Some(RESUMED));
    assert_eq!(c.message.as_deref(), Some("Deployment is resumed"));
    // Not paused and never was: nothing.
    assert!(paused_condition(&paused(deployment(1, int(1), int(0)), false), at(3)).is_none());
}

#[test]
fn no_pause_conditions_without_a_deadline_or_after_it_passed() {
    let mut d = paused(deployment(1, int(1), int(0)), true);
    assert!(paused_condition(&with_progressing(d.clone(), TIMED_OUT), at(1)).is_none());
    if let Some(s) = d.spec.as_mut() {
        s.progress_deadline_seconds = Some(i32::MAX);
    }
    assert!(paused_condition(&d, at(1)).is_none());
}

mod shell;
