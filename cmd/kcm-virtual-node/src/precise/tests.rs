use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStatus, PodStatus,
};

use super::*;
use crate::lifecycle::{self, Observed};

fn stored_pod(start: Timestamp, started: Timestamp) -> Pod {
    Pod {
        status: Some(PodStatus {
            phase: Some("Running".into()),
            start_time: Some(Time(start)),
            container_statuses: Some(vec![ContainerStatus {
                name: "c".into(),
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(Time(started)),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    }
}

#[test]
fn exact_times_replace_their_truncations_only() {
    let exact: Timestamp = "2026-01-01T00:00:10.750Z".parse().unwrap();
    let truncated: Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
    let precise = PreciseTimes {
        start_time: Some(exact),
        started_at: Some(exact),
        finished_at: None,
    };
    let refined = with_precise_times(&stored_pod(truncated, truncated), precise).unwrap();
    assert_eq!(
        lifecycle::observe(&refined),
        Observed::Running {
            started_at: exact,
            restarts: 0,
            ready: false
        }
    );
    assert_eq!(refined.status.unwrap().start_time, Some(Time(exact)));
    // Someone else wrote another time: it is left alone.
    let other: Timestamp = "2026-01-01T00:00:42Z".parse().unwrap();
    let untouched = with_precise_times(&stored_pod(other, other), precise).unwrap();
    assert_eq!(untouched.status.unwrap().start_time, Some(Time(other)));
    assert!(with_precise_times(&stored_pod(other, other), PreciseTimes::default()).is_none());
}
