//! kcm-rs: a kube-controller-manager-style process for the workload controllers.
//!
//! `main` only wires things together, in upstream's order: parse flags and the config file, set
//! up logging, build the API clients, start serving (so standbys answer probes too), then either
//! run the controllers at once (`--leader-elect=false`) or only while holding the Lease.

mod election;
mod logging;
mod manager;
mod options;
mod process;
mod serve;
mod version;

use std::process::ExitCode;

/// Prints the canonical `--controllers` name of every controller this build implements, one a
/// line, and exits. Scripts use it to give an upstream kube-controller-manager running beside
/// kcm-rs the disjoint rest (`*,-name,...`). Handled before flag parsing: it is not a setting.
const LIST_IMPLEMENTED: &str = "--list-implemented-controllers";

fn main() -> ExitCode {
    if std::env::args_os().skip(1).any(|a| a == LIST_IMPLEMENTED) {
        for descriptor in kcm_controllers::registry::descriptors() {
            println!("{}", descriptor.name);
        }
        return ExitCode::SUCCESS;
    }
    let loaded = match options::load(std::env::args_os()) {
        Ok(loaded) => loaded,
        Err(error) => error.exit(),
    };
    logging::init(
        loaded.config.process.logging_format,
        loaded.config.process.verbosity,
    );
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    for notice in &loaded.notices {
        tracing::info!("{notice}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(process::run(loaded));
    // Background tasks (watches, event writes) must not hold the exit hostage.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    ExitCode::from(code)
}
