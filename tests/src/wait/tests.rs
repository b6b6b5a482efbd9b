use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::*;

// Real time, but short: kcm-tests has no tokio `test-util` dev-dependency (yet), so the
// clock cannot be paused. The assertions hold however slow the machine is.
#[tokio::test]
async fn returns_the_value_once_the_check_passes() {
    let calls = AtomicU32::new(0);
    let value = wait_until(Duration::from_secs(30), "the third call", || async {
        match calls.fetch_add(1, Ordering::SeqCst) {
            n if n >= 2 => Check::Done(n),
            n => Check::NotYet(format!("call {n}")),
        }
    })
    .await
    .unwrap();
    assert_eq!(value, 2);
}

#[tokio::test]
async fn a_timeout_reports_the_last_observation() {
    let calls = AtomicU32::new(0);
    let timeout = POLL_INTERVAL * 3;
    let err = wait_until(timeout, "never", || async {
        Check::<()>::NotYet(format!(
            "observation {}",
            calls.fetch_add(1, Ordering::SeqCst)
        ))
    })
    .await
    .unwrap_err();
    let calls = calls.load(Ordering::SeqCst);
    assert_eq!(err.last_observed, format!("observation {}", calls - 1));
    assert!(err.waited >= timeout);
    // It polled more than once, and slept between polls rather than spinning.
    assert!((2..=4).contains(&calls), "{calls} polls in {timeout:?}");
    assert!(err.to_string().contains("waiting for never"));
}

#[test]
fn descriptions_drop_managed_fields() {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("x".into()),
            managed_fields: Some(vec![Default::default()]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let text = describe(&cm);
    assert!(text.contains("name: x"), "{text}");
    assert!(!text.contains("managedFields"), "{text}");
}
