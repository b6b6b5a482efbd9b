//! E12: 1001 ready pods give 1000 addresses and the over-capacity annotation; with 500 left
//! the annotation goes.

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::DeleteParams;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn over_capacity_truncates_to_1000_and_recovers() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(
        "ep-capacity",
        &["--kube-api-qps=100", "--kube-api-burst=200"],
        |h| async move {
            h.start().await?;
            create_service(&h, service("s", Some(&[("app", "a")]), json!(8080))).await?;
            let since = now();
            stream::iter(0..1001u32)
                .map(|i| {
                    let h = h.clone();
                    async move {
                        let name = format!("p{i:04}");
                        let ip =
                            format!("10.{}.{}.{}", 20 + i / 62500, (i / 250) % 250, i % 250 + 1);
                        create_pod(&h, &name, &[("app", "a")], json!({})).await?;
                        set_status(&h, &name, "Running", Some(&ip), true, since).await?;
                        anyhow::Ok(())
                    }
                })
                .buffer_unordered(16)
                .try_collect::<Vec<_>>()
                .await?;
            let full = wait_endpoints(&h, "s", "1000 addresses, over capacity", |s| {
                s.address_count() == 1000 && s.annotations.contains_key(OVER_CAPACITY)
            })
            .await?;
            let mut full = snapshot(&full);
            full.annotations.remove(TRIGGER_TIME);
            stream::iter(0..501u32)
                .map(|i| {
                    let h = h.clone();
                    async move {
                        // Grace 0: without a kubelet a graceful delete would leave them terminating
                        // (and out of the Endpoints anyway).
                        h.pods()
                            .delete(
                                &format!("p{i:04}"),
                                &DeleteParams::background().grace_period(0),
                            )
                            .await?;
                        anyhow::Ok(())
                    }
                })
                .buffer_unordered(16)
                .try_collect::<Vec<_>>()
                .await?;
            let half = wait_endpoints(&h, "s", "500 addresses", |s| {
                s.address_count() == 500 && !s.annotations.contains_key(OVER_CAPACITY)
            })
            .await?;
            let mut half = snapshot(&half);
            half.annotations.remove(TRIGGER_TIME);
            Ok((full, half))
        },
    )
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0.annotations[OVER_CAPACITY], "truncated");
    assert_eq!(
        ours, upstream,
        "the same 1000 survivors (lowest IP strings)"
    );
    Ok(())
}
