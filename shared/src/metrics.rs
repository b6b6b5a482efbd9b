//! Process-wide metrics that do not belong to one module, and the Prometheus text rendering.
//!
//! Every module registers its own metrics in the `prometheus` default registry with upstream
//! names (`workqueue_*` in the work queue, `rest_client_*` in the client, ...). This module adds
//! the process collector (CPU, memory, file descriptors), the worker panic counter and
//! `running_managed_controllers`, and renders everything for `/metrics`.

use std::sync::LazyLock;

use prometheus::{
    Encoder, IntCounterVec, IntGaugeVec, TextEncoder, register_int_counter_vec,
    register_int_gauge_vec,
};

/// Panics caught in controller workers, by controller; the worker restarts after each.
pub static WORKER_PANICS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "kcm_controller_worker_panics_total",
        "Panics caught in controller workers, by controller. The worker is restarted after each.",
        &["controller"]
    )
    .expect("kcm_controller_worker_panics_total registers once")
});

/// Upstream's `running_managed_controllers{name,manager}`: 1 while a controller runs.
pub static RUNNING_CONTROLLERS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "running_managed_controllers",
        "Indicates where instances of a controller are currently running",
        &["name", "manager"]
    )
    .expect("running_managed_controllers registers once")
});

/// Renders every registered metric in the Prometheus text format.
pub fn render() -> String {
    // Touch the process-wide families so they appear even before their first sample.
    LazyLock::force(&WORKER_PANICS);
    LazyLock::force(&RUNNING_CONTROLLERS);
    let families = prometheus::gather();
    let mut buffer = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&families, &mut buffer) {
        tracing::warn!(%error, "could not encode metrics");
    }
    String::from_utf8(buffer).unwrap_or_default()
}

#[cfg(test)]
mod tests;
