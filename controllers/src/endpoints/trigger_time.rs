//! The `endpoints.kubernetes.io/last-change-trigger-time` annotation (upstream
//! `TriggerTimeTracker.ComputeEndpointLastChangeTriggerTime`).
//!
//! Per Service the tracker remembers the Service's creationTimestamp and, per pod name, the
//! `lastTransitionTime` of the pod's Ready condition as seen at the last sync. A sync's trigger
//! time is the earliest of the times that moved since (pods without a Ready time are ignored),
//! or none. A Service the tracker does not know yet (first sync after start, or recreated)
//! reports its creationTimestamp. No trigger time means a write removes the annotation.

use std::collections::HashMap;

use jiff::{Timestamp, tz::TimeZone};
use kcm_shared::informer::ObjectKey;
use parking_lot::Mutex;

/// `v1.EndpointsLastChangeTriggerTime`.
pub const ANNOTATION_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Debug, Default)]
struct ServiceState {
    last_service_time: Option<Timestamp>,
    last_pod_times: HashMap<Box<str>, Timestamp>,
}

/// What the tracker remembers, per Service key. Shared by every worker.
#[derive(Debug, Default)]
pub struct TriggerTimeTracker {
    services: Mutex<HashMap<ObjectKey, ServiceState>>,
}

impl TriggerTimeTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// `ComputeEndpointLastChangeTriggerTime` for the Service `key` created at
    /// `service_created`, whose selector matches `pods`: `(pod name, Ready lastTransitionTime)`.
    pub fn compute<'a>(
        &self,
        key: &ObjectKey,
        service_created: Option<Timestamp>,
        pods: impl IntoIterator<Item = (&'a str, Option<Timestamp>)>,
    ) -> Option<Timestamp> {
        let previous = self.services.lock().remove(key);
        let known = previous.is_some();
        let previous = previous.unwrap_or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut pod_times = HashMap::new();
        for (name, time) in pods {
            let Some(time) = time else { continue };
            if previous
                .last_pod_times
                .get(name)
                .is_none_or(|last| time > *last)
            {
                earliest = Some(earliest.map_or(time, |e| e.min(time)));
            }
            pod_times.insert(Box::from(name), time);
        }
        if let Some(created) = service_created
            && previous.last_service_time.is_none_or(|last| created > last)
        {
            earliest = Some(earliest.map_or(created, |e| e.min(created)));
        }
        self.services.lock().insert(
            key.clone(),
            ServiceState {
                last_service_time: service_created,
                last_pod_times: pod_times,
            },
        );
        if known { earliest } else { service_created }
    }

    /// `DeleteService`: forget a Service that is gone.
    pub fn delete(&self, key: &ObjectKey) {
        self.services.lock().remove(key);
    }
}

/// `t.UTC().Format(time.RFC3339Nano)`: fractional seconds only when non-zero, without
/// trailing zeros, and a `Z` suffix.
pub fn format_trigger_time(time: Timestamp) -> String {
    let utc = time.to_zoned(TimeZone::UTC);
    let mut text = utc.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = utc.subsec_nanosecond();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests;
