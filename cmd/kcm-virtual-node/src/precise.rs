//! Sub-second times for the state machine.
//!
//! `metav1.Time` is stored with second precision, so a delay counted from a stored time
//! would end up to a second early. The pod controller keeps the exact times this node wrote
//! and puts them back while they still match the stored ones, which keeps `ready-after: 2s`
//! at two seconds.

use jiff::Timestamp;
use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time};

use crate::lifecycle::Target;

/// The exact times of this node's last reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PreciseTimes {
    start_time: Option<Timestamp>,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
}

impl PreciseTimes {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// What a report of `target` at `now` wrote.
    pub(crate) fn after_report(mut self, pod: &Pod, target: &Target, now: Timestamp) -> Self {
        let had_start_time = pod.status.as_ref().is_some_and(|s| s.start_time.is_some());
        if !had_start_time && !matches!(target, Target::Rejected { .. }) {
            self.start_time = Some(now);
        }
        match target {
            Target::Running { started_at, .. } => self.started_at = Some(*started_at),
            Target::BackOff { finished_at, .. } => self.finished_at = Some(*finished_at),
            _ => {}
        }
        self
    }
}

/// `stored` is `precise` cut to whole seconds.
fn truncation_of(stored: &Time, precise: Timestamp) -> bool {
    stored.0.as_second() == precise.as_second() && stored.0.subsec_nanosecond() == 0
}

/// The pod with the exact times put back where the stored ones are their truncations.
pub(crate) fn with_precise_times(pod: &Pod, precise: PreciseTimes) -> Option<Pod> {
    if precise.is_empty() {
        return None;
    }
    let mut pod = pod.clone();
    let status = pod.status.as_mut()?;
    let restore = |time: &mut Option<Time>, exact: Option<Timestamp>| {
        if let (Some(stored), Some(exact)) = (time.as_mut(), exact)
            && truncation_of(stored, exact)
        {
            stored.0 = exact;
        }
    };
    restore(&mut status.start_time, precise.start_time);
    for c in status.container_statuses.iter_mut().flatten() {
        if let Some(running) = c.state.as_mut().and_then(|s| s.running.as_mut()) {
            restore(&mut running.started_at, precise.started_at);
        }
        if let Some(last) = c.last_state.as_mut().and_then(|s| s.terminated.as_mut()) {
            restore(&mut last.finished_at, precise.finished_at);
        }
    }
    Some(pod)
}

#[cfg(test)]
mod tests;
