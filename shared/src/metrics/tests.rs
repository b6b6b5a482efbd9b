use super::*;

#[test]
fn render_includes_panic_counter_and_process_metrics() {
    WORKER_PANICS.with_label_values(&["metrics-test"]).inc();
    let text = render();
    assert!(
        text.contains("kcm_controller_worker_panics_total{controller=\"metrics-test\"} 1"),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
}
