//! One copy of each string that many cached objects repeat: namespaces, label keys and values,
//! node names, owner kinds and UIDs. At 40 000 pods in a few hundred namespaces and
//! ReplicaSets, a cached pod then holds pointers to shared strings instead of its own copies.
//!
//! The table keeps a string while anything else holds it. It forgets strings nobody holds any
//! more whenever it has doubled since the last sweep, so churn (ReplicaSets and their
//! pod-template-hash labels coming and going) cannot grow it without bound.

use std::{
    collections::HashSet,
    sync::{Arc, LazyLock},
};

use parking_lot::Mutex;

struct Table {
    strings: HashSet<Arc<str>>,
    /// Size after the last sweep; the next sweep runs at twice this (and at least 1024).
    swept_at: usize,
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| {
    Mutex::new(Table {
        strings: HashSet::new(),
        swept_at: 0,
    })
});

/// The shared copy of `s`.
pub fn intern(s: &str) -> Arc<str> {
    let mut table = TABLE.lock();
    if let Some(shared) = table.strings.get(s) {
        return Arc::clone(shared);
    }
    if table.strings.len() >= (table.swept_at * 2).max(1024) {
        table.strings.retain(|held| Arc::strong_count(held) > 1);
        table.swept_at = table.strings.len();
    }
    let shared: Arc<str> = Arc::from(s);
    table.strings.insert(Arc::clone(&shared));
    shared
}

/// How many distinct strings the table holds (for tests and metrics).
pub fn len() -> usize {
    TABLE.lock().strings.len()
}

#[cfg(test)]
mod tests;
