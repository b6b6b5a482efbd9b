//! Named health and readiness checks, as upstream's `healthz.NamedCheck`s.
//!
//! `/healthz` runs every registered health check (leader election, one ping per started
//! controller); `/readyz` runs the readiness checks (informer caches synced). Checks are plain
//! synchronous closures that read state other components keep up to date, so serving a probe
//! never waits on the API.

use std::sync::Arc;

use parking_lot::RwLock;

/// A check returns `Err(reason)` when unhealthy.
pub type CheckFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
pub struct NamedCheck {
    pub name: String,
    pub check: CheckFn,
}

/// The outcome of running a set of checks, rendered like upstream's verbose output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub healthy: bool,
    pub lines: Vec<String>,
}

impl Report {
    /// Upstream prints `ok` when healthy and not verbose, and the `[+]`/`[-]` list otherwise.
    pub fn render(&self, verbose: bool, what: &str) -> String {
        if self.healthy && !verbose {
            return "ok".to_string();
        }
        let mut out = self.lines.join("\n");
        out.push('\n');
        if self.healthy {
            out.push_str(&format!("{what} check passed\n"));
        } else {
            out.push_str(&format!("{what} check failed\n"));
        }
        out
    }
}

/// Health and readiness checks shared by the serving port and the components that own state.
#[derive(Clone, Default)]
pub struct HealthChecks {
    health: Arc<RwLock<Vec<NamedCheck>>>,
    ready: Arc<RwLock<Vec<NamedCheck>>>,
}

impl HealthChecks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces, by name) a `/healthz` check.
    pub fn add_health(
        &self,
        name: &str,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        upsert(&self.health, name, Arc::new(check));
    }

    /// Adds (or replaces, by name) a `/readyz` check.
    pub fn add_ready(
        &self,
        name: &str,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        upsert(&self.ready, name, Arc::new(check));
    }

    /// Removes a `/healthz` check, e.g. when a controller stops.
    pub fn remove_health(&self, name: &str) {
        self.health.write().retain(|c| c.name != name);
    }

    /// Runs the health checks, skipping the `excluded` names (`?exclude=`).
    pub fn healthz(&self, excluded: &[String]) -> Report {
        run(&self.health.read(), excluded)
    }

    /// Runs the readiness checks; with none registered the process is ready.
    pub fn readyz(&self, excluded: &[String]) -> Report {
        run(&self.ready.read(), excluded)
    }

    /// Runs one named health check, or `None` when no check has that name.
    pub fn health_check(&self, name: &str) -> Option<Result<(), String>> {
        let checks = self.health.read();
        checks.iter().find(|c| c.name == name).map(|c| (c.check)())
    }

    pub fn health_check_names(&self) -> Vec<String> {
        self.health.read().iter().map(|c| c.name.clone()).collect()
    }
}

fn upsert(list: &RwLock<Vec<NamedCheck>>, name: &str, check: CheckFn) {
    let mut checks = list.write();
    match checks.iter_mut().find(|c| c.name == name) {
        Some(existing) => existing.check = check,
        None => checks.push(NamedCheck {
            name: name.to_string(),
            check,
        }),
    }
}

fn run(checks: &[NamedCheck], excluded: &[String]) -> Report {
    let mut healthy = true;
    let mut lines = vec!["[+]ping ok".to_string()];
    for c in checks {
        if excluded.iter().any(|e| e == &c.name) {
            lines.push(format!("[+]{} excluded: ok", c.name));
            continue;
        }
        match (c.check)() {
            Ok(()) => lines.push(format!("[+]{} ok", c.name)),
            Err(reason) => {
                healthy = false;
                tracing::debug!(check = %c.name, %reason, "health check failed");
                lines.push(format!("[-]{} failed: reason withheld", c.name));
            }
        }
    }
    Report { healthy, lines }
}

#[cfg(test)]
mod tests;
