//! The process-wide shared informer factory (client-go `informers.SharedInformerFactory`).
//!
//! `informer::<K>()` returns the one informer for `K`, creating it on first request, so every
//! controller that reads pods shares one cache and the process opens one list+watch per type.
//! Start order follows upstream KCM: controllers are constructed first (each requests its
//! informers and registers its handlers), then `start` launches every requested informer.
//! An informer requested after `start` waits for the next `start` call.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::Duration;

use kube::{Api, Client};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::kind::InformerType;
use super::list_strategy::ListStrategy;
use super::lister::Lister;
use super::shared_informer::Informer;
use super::stats::InformerStats;
use super::sync::{HasSynced, wait_for_named_cache_sync};

/// What `/readyz` (and a debugging human) wants to know about one informer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InformerStatus {
    pub api_version: String,
    pub kind: String,
    pub running: bool,
    pub synced: bool,
    pub stats: InformerStats,
}

/// A uniform random period in `[min, 2·min)`; zero stays zero (no resync).
/// KCM's `ResyncPeriod(s)`: `MinResyncPeriod * (rand.Float64() + 1)`.
pub fn jittered_resync(min: Duration) -> Duration {
    crate::jitter::jitter(min, 1.0)
}

pub struct SharedInformerFactory {
    client: Client,
    resync: Duration,
    /// How informers fill their caches (`WatchListClient`: streaming, with a paged fallback).
    list_strategy: ListStrategy,
    /// In request order, so that start and status listings are deterministic.
    informers: Mutex<Vec<Entry>>,
}

struct Entry {
    type_id: TypeId,
    /// An `Arc<Informer<K>>` for the `K` of `type_id`.
    typed: Arc<dyn Any + Send + Sync>,
    control: Box<dyn Control>,
}

/// The type-erased operations the factory performs on all informers alike.
trait Control: Send + Sync {
    fn start(&self, cancel: &CancellationToken) -> bool;
    fn ever_started(&self) -> bool;
    fn status(&self) -> InformerStatus;
    fn sync(&self) -> &dyn HasSynced;
}

impl<K: InformerType> Control for Arc<Informer<K>> {
    fn start(&self, cancel: &CancellationToken) -> bool {
        Informer::start(self, cancel.clone())
    }

    fn ever_started(&self) -> bool {
        self.stats().starts > 0
    }

    fn status(&self) -> InformerStatus {
        InformerStatus {
            api_version: K::api_version(&()).into_owned(),
            kind: self.kind().to_owned(),
            running: self.is_running(),
            synced: self.has_synced(),
            stats: self.stats(),
        }
    }

    fn sync(&self) -> &dyn HasSynced {
        self.as_ref()
    }
}

impl SharedInformerFactory {
    /// A factory whose informers resync handlers every `jittered_resync(min_resync)`: one random
    /// value for the whole factory, as KCM computes it once (`--min-resync-period`, 12h).
    pub fn new(client: Client, min_resync: Duration) -> Self {
        Self::with_resync(client, jittered_resync(min_resync))
    }

    /// A factory with an exact default resync period (zero: none).
    pub fn with_resync(client: Client, resync: Duration) -> Self {
        Self {
            client,
            resync,
            list_strategy: ListStrategy::Streaming,
            informers: Mutex::new(Vec::new()),
        }
    }

    /// Informers requested from now on fill their caches by `strategy` (client-go's
    /// `WatchListClient` gate: on → [`ListStrategy::Streaming`], off → [`ListStrategy::Paged`]).
    #[must_use]
    pub fn with_list_strategy(mut self, strategy: ListStrategy) -> Self {
        self.list_strategy = strategy;
        self
    }

    /// The default resync period handed to every informer of this factory.
    pub fn resync_period(&self) -> Duration {
        self.resync
    }

    /// The one informer for `K` (client-go `InformerFor`): the same `Arc` on every call.
    pub fn informer<K: InformerType>(&self) -> Arc<Informer<K>> {
        let mut informers = self.informers.lock();
        let type_id = TypeId::of::<K>();
        if let Some(entry) = informers.iter().find(|e| e.type_id == type_id)
            && let Ok(informer) = Arc::clone(&entry.typed).downcast::<Informer<K>>()
        {
            return informer;
        }
        let informer = Arc::new(Informer::for_api(
            Api::<K>::all(self.client.clone()),
            self.resync,
            self.list_strategy,
        ));
        informers.push(Entry {
            type_id,
            typed: Arc::clone(&informer) as Arc<dyn Any + Send + Sync>,
            control: Box::new(Arc::clone(&informer)),
        });
        informer
    }

    pub fn lister<K: InformerType>(&self) -> Lister<K> {
        self.informer::<K>().lister()
    }

    /// Starts every requested informer that is not running, each until `cancel` fires.
    /// Callable again: later calls start only informers requested (or stopped) since.
    /// Returns how many were started.
    pub fn start(&self, cancel: &CancellationToken) -> usize {
        let informers = self.informers.lock();
        informers
            .iter()
            .filter(|entry| entry.control.start(cancel))
            .count()
    }

    /// Waits for every informer started so far (client-go's factory `WaitForCacheSync`).
    /// Controllers should rather wait for their own informers with
    /// [`wait_for_named_cache_sync`].
    pub async fn wait_for_cache_sync(&self, cancel: &CancellationToken) -> bool {
        let started: Vec<Box<dyn HasSynced>> = {
            let informers = self.informers.lock();
            informers
                .iter()
                .filter(|entry| entry.control.ever_started())
                .map(|entry| Box::new(SyncView::of(entry.control.sync())) as Box<dyn HasSynced>)
                .collect()
        };
        let started: Vec<&dyn HasSynced> = started.iter().map(AsRef::as_ref).collect();
        wait_for_named_cache_sync("shared informer factory", cancel, &started).await
    }

    /// One status per requested informer, in request order.
    pub fn statuses(&self) -> Vec<InformerStatus> {
        let informers = self.informers.lock();
        informers
            .iter()
            .map(|entry| entry.control.status())
            .collect()
    }
}

/// A detached copy of an informer's sync signal, so waiting does not hold the factory's lock.
struct SyncView {
    name: String,
    receiver: tokio::sync::watch::Receiver<bool>,
}

impl SyncView {
    fn of(informer: &dyn HasSynced) -> Self {
        Self {
            name: informer.synced_name(),
            receiver: informer.synced_receiver(),
        }
    }
}

impl HasSynced for SyncView {
    fn synced_name(&self) -> String {
        self.name.clone()
    }

    fn is_synced(&self) -> bool {
        *self.receiver.borrow()
    }

    fn synced_receiver(&self) -> tokio::sync::watch::Receiver<bool> {
        self.receiver.clone()
    }
}
