//! Prometheus metrics of the work queues: the `workqueue_*` family, one child per queue `name`.
//!
//! The metric names, types, help texts and histogram buckets are those of client-go's workqueue
//! metrics as exported by component-base (`workqueue/metrics.go`), so dashboards written for
//! kube-controller-manager keep working. The collectors live in the process-wide default registry
//! and are registered once, on first use; two queues with the same name simply share the children
//! of that label value (upstream would refuse the second registration, tests would rather not).
//!
//! [`QueueMetrics`] is the per-queue half: it remembers when each key was added and when each key
//! started processing, which is what the duration histograms and the "unfinished work" gauges are
//! computed from. It lives inside the queue's state mutex, so it needs no locking of its own. A
//! queue without a name carries a disabled instance that records nothing.

use std::{collections::HashMap, hash::Hash, sync::LazyLock};

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts,
};
use tokio::time::Instant;

/// The collectors of the whole family, shared by every queue of the process.
struct Family {
    depth: IntGaugeVec,
    adds: IntCounterVec,
    queue_latency: HistogramVec,
    work_duration: HistogramVec,
    unfinished_work: GaugeVec,
    longest_running: GaugeVec,
    retries: IntCounterVec,
}

/// `ExponentialBuckets(10e-9, 10, 10)`: 10ns up to 10s.
fn duration_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(10e-9, 10.0, 10).expect("static bucket definition")
}

static FAMILY: LazyLock<Family> = LazyLock::new(|| {
    const LABELS: &[&str] = &["name"];
    let family = Family {
        depth: IntGaugeVec::new(
            Opts::new("workqueue_depth", "Current depth of workqueue"),
            LABELS,
        )
        .expect("static metric definition"),
        adds: IntCounterVec::new(
            Opts::new(
                "workqueue_adds_total",
                "Total number of adds handled by workqueue",
            ),
            LABELS,
        )
        .expect("static metric definition"),
        queue_latency: HistogramVec::new(
            HistogramOpts::new(
                "workqueue_queue_duration_seconds",
                "How long in seconds an item stays in workqueue before being requested.",
            )
            .buckets(duration_buckets()),
            LABELS,
        )
        .expect("static metric definition"),
        work_duration: HistogramVec::new(
            HistogramOpts::new(
                "workqueue_work_duration_seconds",
                "How long in seconds processing an item from workqueue takes.",
            )
            .buckets(duration_buckets()),
            LABELS,
        )
        .expect("static metric definition"),
        unfinished_work: GaugeVec::new(
            Opts::new(
                "workqueue_unfinished_work_seconds",
                "How many seconds of work has done that is in progress and hasn't been observed \
                 by work_duration. Large values indicate stuck threads. One can deduce the number \
                 of stuck threads by observing the rate at which this increases.",
            ),
            LABELS,
        )
        .expect("static metric definition"),
        longest_running: GaugeVec::new(
            Opts::new(
                "workqueue_longest_running_processor_seconds",
                "How many seconds has the longest running processor for workqueue been running.",
            ),
            LABELS,
        )
        .expect("static metric definition"),
        retries: IntCounterVec::new(
            Opts::new(
                "workqueue_retries_total",
                "Total number of retries handled by workqueue",
            ),
            LABELS,
        )
        .expect("static metric definition"),
    };
    let registry = prometheus::default_registry();
    let collectors: [Box<dyn prometheus::core::Collector>; 7] = [
        Box::new(family.depth.clone()),
        Box::new(family.adds.clone()),
        Box::new(family.queue_latency.clone()),
        Box::new(family.work_duration.clone()),
        Box::new(family.unfinished_work.clone()),
        Box::new(family.longest_running.clone()),
        Box::new(family.retries.clone()),
    ];
    for collector in collectors {
        // Only fails if something else already claimed a `workqueue_*` name; the queue still
        // works then, its numbers just don't reach /metrics.
        if let Err(error) = registry.register(collector) {
            tracing::error!(%error, "cannot register work queue metrics");
        }
    }
    family
});

/// Keys waiting in a queue's delayed half (`add_after`, rate-limited retries), by queue name.
/// Not a client-go metric: it shows a backlog of retries that `workqueue_depth` does not.
static DELAYED_ITEMS: LazyLock<Option<IntGaugeVec>> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "kcm_workqueue_delayed_items",
        "Keys waiting for their delay (add_after, rate-limited retries) before entering the work queue.",
        &["name"]
    )
    .inspect_err(|error| tracing::error!(%error, "cannot register kcm_workqueue_delayed_items"))
    .ok()
});

/// The delayed-items gauge of the queue `name`.
pub(super) fn delayed_items(name: &str) -> Option<IntGauge> {
    DELAYED_ITEMS
        .as_ref()
        .map(|family| family.with_label_values(&[name]))
}

/// The children of the family for one queue name.
struct Handles {
    depth: IntGauge,
    adds: IntCounter,
    queue_latency: Histogram,
    work_duration: Histogram,
    unfinished_work: Gauge,
    longest_running: Gauge,
    retries: IntCounter,
}

impl Handles {
    fn for_queue(name: &str) -> Self {
        let family = &*FAMILY;
        let labels = &[name];
        Self {
            depth: family.depth.with_label_values(labels),
            adds: family.adds.with_label_values(labels),
            queue_latency: family.queue_latency.with_label_values(labels),
            work_duration: family.work_duration.with_label_values(labels),
            unfinished_work: family.unfinished_work.with_label_values(labels),
            longest_running: family.longest_running.with_label_values(labels),
            retries: family.retries.with_label_values(labels),
        }
    }
}

/// Per-queue metric bookkeeping (client-go `defaultQueueMetrics`).
pub(super) struct QueueMetrics<T> {
    handles: Option<Handles>,
    /// When each queued key was first added since it was last handed out.
    added_at: HashMap<T, Instant>,
    /// When each key in processing was handed out.
    processing_since: HashMap<T, Instant>,
}

impl<T: Eq + Hash + Clone> QueueMetrics<T> {
    /// Metrics under the label `name = <name>`.
    pub(super) fn named(name: &str) -> Self {
        Self {
            handles: Some(Handles::for_queue(name)),
            added_at: HashMap::new(),
            processing_since: HashMap::new(),
        }
    }

    /// A queue without a name exports nothing (as upstream).
    pub(super) fn disabled() -> Self {
        Self {
            handles: None,
            added_at: HashMap::new(),
            processing_since: HashMap::new(),
        }
    }

    pub(super) fn is_enabled(&self) -> bool {
        self.handles.is_some()
    }

    /// A counted add: the key was not dirty before.
    pub(super) fn add(&mut self, item: &T) {
        let Some(handles) = &self.handles else { return };
        handles.adds.inc();
        handles.depth.inc();
        self.added_at
            .entry(item.clone())
            .or_insert_with(Instant::now);
    }

    /// The key was handed to a worker.
    pub(super) fn get(&mut self, item: &T) {
        let Some(handles) = &self.handles else { return };
        let now = Instant::now();
        handles.depth.dec();
        self.processing_since.insert(item.clone(), now);
        if let Some(added) = self.added_at.remove(item) {
            handles
                .queue_latency
                .observe(now.duration_since(added).as_secs_f64());
        }
    }

    /// The worker finished the key.
    pub(super) fn done(&mut self, item: &T) {
        let Some(handles) = &self.handles else { return };
        if let Some(started) = self.processing_since.remove(item) {
            handles
                .work_duration
                .observe(started.elapsed().as_secs_f64());
        }
    }

    /// Any `add_after`, whatever the delay.
    pub(super) fn retry(&self) {
        if let Some(handles) = &self.handles {
            handles.retries.inc();
        }
    }

    /// Refreshes the two gauges about keys still in processing (client-go
    /// `updateUnfinishedWork`, called every 500ms).
    pub(super) fn update_unfinished_work(&self) {
        let Some(handles) = &self.handles else { return };
        let now = Instant::now();
        let (total, oldest) = self
            .processing_since
            .values()
            .map(|started| now.duration_since(*started).as_secs_f64())
            .fold((0.0, 0.0), |(total, oldest): (f64, f64), age| {
                (total + age, oldest.max(age))
            });
        handles.unfinished_work.set(total);
        handles.longest_running.set(oldest);
    }
}

#[cfg(test)]
mod tests;
