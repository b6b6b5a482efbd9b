//! Log set-up: klog-like text lines by default, JSON with `--logging-format=json`.
//!
//! klog's verbosity levels map onto tracing levels: `-v 0..=1` shows info and above, `-v 2..=4`
//! adds debug (upstream logs most per-object work at V(2)-V(4)), `-v 5` and more adds trace.
//! `RUST_LOG`, when set, overrides the mapping for finer control.

use std::{fmt, io::IsTerminal};

use tracing::{Event, Level, Subscriber};

use crate::options::flags::LoggingFormat;
use tracing_subscriber::{
    EnvFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

/// The tracing filter for a klog verbosity.
pub fn level_for_verbosity(verbosity: u32) -> Level {
    match verbosity {
        0 | 1 => Level::INFO,
        2..=4 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

/// Installs the global subscriber; a second call is a no-op (tests).
pub fn init(format: LoggingFormat, verbosity: u32) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = level_for_verbosity(verbosity);
        // Our crates at the chosen level; dependencies one step quieter so -v 4 stays readable.
        let deps = if level == Level::TRACE {
            "debug"
        } else {
            "warn"
        };
        // kube's watcher warns about every failed list/watch in its own words (the whole Status
        // struct); the informers log each failure once with resource, verb and status
        // (kcm_shared::informer), so kube's line is only kept at trace verbosity. The same for
        // kube-client's "failed with error" line, which repeats the error we log with its cause.
        let quiet = if level == Level::TRACE {
            "debug"
        } else {
            "error"
        };
        let kube_client = if level == Level::TRACE {
            "debug"
        } else {
            "off"
        };
        EnvFilter::new(format!(
            "{deps},kube_runtime::watcher={quiet},kube_client::client::builder={kube_client},\
             kcm_rs={level},kcm_shared={level},kcm_controllers={level}"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match format {
        LoggingFormat::Text => builder.event_format(KlogFormat).try_init(),
        LoggingFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    // Already initialised (tests call this repeatedly): keep the first subscriber.
    let _ = result;
}

/// `I1124 07:43:12.123456   12345 target] message key=value ...`
struct KlogFormat;

impl<S, N> FormatEvent<S, N> for KlogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
        write!(
            writer,
            "{}{} {:>7} {}] ",
            severity_letter(*meta.level()),
            now.strftime("%m%d %H:%M:%S%.6f"),
            std::process::id(),
            meta.target(),
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn severity_letter(level: Level) -> char {
    match level {
        Level::ERROR => 'E',
        Level::WARN => 'W',
        _ => 'I',
    }
}

#[cfg(test)]
mod tests;
