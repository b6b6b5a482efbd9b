//! A non-blocking event recorder writing core/v1 Events, as upstream controllers do.
//!
//! Controllers call [`EventRecorder::event`] from sync functions and informer handlers; that only
//! puts the event on a bounded channel (client-go's broadcaster holds 1000 and drops beyond, and so
//! do we). A background [`EventSink`] task writes them. Repeats of the same event (same object,
//! type, reason, message and source) within the cache's reach become a PATCH of `count` and
//! `lastTimestamp` instead of a new object, which is what client-go's `EventCorrelator` does for
//! identical events and what `kubectl describe` shows as "x3 over 2m".
//!
//! We write core/v1 rather than events.k8s.io/v1 so `kubectl get events` shows the same SOURCE
//! column as for upstream (`replicaset-controller`, ...).

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
};

use k8s_openapi::{
    api::core::v1::{Event, EventSource, ObjectReference},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time},
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use prometheus::{IntCounterVec, register_int_counter_vec};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many events may wait for the sink before new ones are dropped (client-go: 1000).
pub const QUEUE_LENGTH: usize = 1000;
/// How many distinct events the sink remembers for aggregation (client-go's LRU: 4096).
const CACHE_SIZE: usize = 4096;

static EVENTS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "kcm_events_total",
        "Events handed to the recorder, by reporting component and outcome (sent, dropped, failed).",
        &["component", "outcome"]
    )
    .expect("kcm_events_total registers once")
});

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event waiting to be written.
#[derive(Clone, Debug)]
struct PendingEvent {
    component: Arc<str>,
    regarding: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
}

/// Cheap to clone; every controller gets one carrying its reporting name.
#[derive(Clone)]
pub struct EventRecorder {
    component: Arc<str>,
    tx: mpsc::Sender<PendingEvent>,
}

impl EventRecorder {
    /// A recorder that reports as `component` (e.g. `replicaset-controller`) into the same sink.
    pub fn with_component(&self, component: &str) -> Self {
        Self {
            component: component.into(),
            tx: self.tx.clone(),
        }
    }

    pub fn component(&self) -> &str {
        &self.component
    }

    /// Records an event about `regarding`; never waits.
    pub fn event(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let message = message.into();
        tracing::debug!(
            kind = regarding.kind.as_deref().unwrap_or_default(),
            namespace = regarding.namespace.as_deref().unwrap_or_default(),
            name = regarding.name.as_deref().unwrap_or_default(),
            type_ = type_.as_str(),
            reason,
            message = %message,
            "event"
        );
        let pending = PendingEvent {
            component: self.component.clone(),
            regarding,
            type_,
            reason: reason.to_string(),
            message,
        };
        if self.tx.try_send(pending).is_err() {
            EVENTS_TOTAL
                .with_label_values(&[&self.component, "dropped"])
                .inc();
        }
    }

    pub fn normal(&self, regarding: ObjectReference, reason: &str, message: impl Into<String>) {
        self.event(regarding, EventType::Normal, reason, message);
    }

    pub fn warning(&self, regarding: ObjectReference, reason: &str, message: impl Into<String>) {
        self.event(regarding, EventType::Warning, reason, message);
    }
}

/// Creates a recorder/sink pair. Run the sink with [`EventSink::run`].
pub fn channel(client: Client, component: &str, host: &str) -> (EventRecorder, EventSink) {
    let (tx, rx) = mpsc::channel(QUEUE_LENGTH);
    let recorder = EventRecorder {
        component: component.into(),
        tx,
    };
    let sink = EventSink {
        client,
        host: host.to_string(),
        rx,
        cache: HashMap::new(),
    };
    (recorder, sink)
}

/// What makes two events "the same" for aggregation (client-go's `getEventKey`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AggregationKey {
    component: Arc<str>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    type_: EventType,
    reason: String,
    message: String,
}

impl AggregationKey {
    fn of(e: &PendingEvent) -> Self {
        Self {
            component: e.component.clone(),
            kind: e.regarding.kind.clone(),
            namespace: e.regarding.namespace.clone(),
            name: e.regarding.name.clone(),
            uid: e.regarding.uid.clone(),
            type_: e.type_,
            reason: e.reason.clone(),
            message: e.message.clone(),
        }
    }
}

/// The event object already written for an aggregation key.
#[derive(Clone, Debug)]
struct Written {
    namespace: String,
    name: String,
    count: i32,
}

/// Writes queued events to the API.
pub struct EventSink {
    client: Client,
    host: String,
    rx: mpsc::Receiver<PendingEvent>,
    cache: HashMap<AggregationKey, Written>,
}

impl EventSink {
    /// Writes events until `cancel` fires, then flushes whatever is already queued.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            let next = tokio::select! {
                biased;
                e = self.rx.recv() => e,
                _ = cancel.cancelled() => break,
            };
            let Some(pending) = next else { return };
            self.write(pending).await;
        }
        while let Ok(pending) = self.rx.try_recv() {
            self.write(pending).await;
        }
    }

    async fn write(&mut self, pending: PendingEvent) {
        let key = AggregationKey::of(&pending);
        let component = pending.component.clone();
        let now = jiff::Timestamp::now();
        let result = match self.cache.get(&key).cloned() {
            Some(written) => match self.bump(&written, now).await {
                Ok(()) => {
                    if let Some(w) = self.cache.get_mut(&key) {
                        w.count += 1;
                    }
                    Ok(())
                }
                // The old event expired or was deleted: start a new one.
                Err(_) => self.create(key, &pending, now).await,
            },
            None => self.create(key, &pending, now).await,
        };
        match result {
            Ok(()) => EVENTS_TOTAL.with_label_values(&[&component, "sent"]).inc(),
            Err(error) => {
                EVENTS_TOTAL
                    .with_label_values(&[&component, "failed"])
                    .inc();
                tracing::warn!(%error, reason = %pending.reason, "could not write event");
            }
        }
    }

    async fn bump(&self, written: &Written, now: jiff::Timestamp) -> Result<(), kube::Error> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &written.namespace);
        let patch = serde_json::json!({
            "count": written.count + 1,
            "lastTimestamp": Time(now),
        });
        api.patch(
            &written.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
    }

    async fn create(
        &mut self,
        key: AggregationKey,
        pending: &PendingEvent,
        now: jiff::Timestamp,
    ) -> Result<(), kube::Error> {
        let event = build_event(pending, &self.host, now);
        let namespace = event
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = event.metadata.name.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        api.create(&PostParams::default(), &event).await?;
        if self.cache.len() >= CACHE_SIZE {
            // Forget everything rather than track recency: a repeat after this only costs a
            // new Event object instead of an increment.
            self.cache.clear();
        }
        self.cache.insert(
            key,
            Written {
                namespace,
                name,
                count: 1,
            },
        );
        Ok(())
    }
}

/// The core/v1 Event the legacy recorder would write (client-go `recorder.makeEvent`).
fn build_event(pending: &PendingEvent, host: &str, now: jiff::Timestamp) -> Event {
    let regarding = &pending.regarding;
    // Events about cluster-scoped objects live in "default", as in client-go.
    let namespace = regarding
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let object_name = regarding.name.clone().unwrap_or_default();
    let nanos = now.as_nanosecond();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{object_name}.{nanos:x}")),
            namespace: Some(namespace),
            ..Default::default()
        },
        involved_object: regarding.clone(),
        reason: Some(pending.reason.clone()),
        message: Some(pending.message.clone()),
        type_: Some(pending.type_.as_str().to_string()),
        source: Some(EventSource {
            component: Some(pending.component.to_string()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        event_time: None::<MicroTime>,
        reporting_component: Some(pending.component.to_string()),
        reporting_instance: Some(host.to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
