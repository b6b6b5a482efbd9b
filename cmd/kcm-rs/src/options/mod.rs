//! Command-line flags, the `--config` file and the effective configuration of kcm-rs.
//!
//! [`load`] is the single entry point: it parses argv with upstream kube-controller-manager's flag
//! names and defaults, reads the optional config file, merges them (flag on the command line >
//! file > default), resolves `--controllers` and validates the result. Nothing is started
//! until it returns `Ok`; every error carries the exit code the process should end with.
//!
//! Logging is not set up yet when this runs (its flags are parsed here), so non-fatal findings
//! come back as [`Loaded::warnings`] (and [`Loaded::notices`], for info level) for the caller to
//! log once the subscriber exists.

pub mod config;
pub mod config_file;
mod config_guard;
pub mod controllers;
pub mod duration;
pub mod feature_gates;
pub mod flags;
mod merge;
pub mod ranges;
pub mod serving;
pub mod setting;
pub mod unimplemented;
pub mod validate;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};
use kcm_controllers::names::KNOWN_CONTROLLERS;

pub use config::KcmConfig;
pub use controllers::Resolution;
pub use flags::Flags;

use setting::Setting;

/// A configuration ready to run with.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: KcmConfig,
    /// Which implemented controllers run, from `config.component.generic.controllers`.
    pub controllers: Resolution,
    /// Non-fatal findings to log at warning level once logging is up.
    pub warnings: Vec<String>,
    /// How values with an upstream meaning were read (e.g. `--kube-api-qps=0` is client-go's
    /// default 5), to log at info level.
    pub notices: Vec<String>,
}

/// Why the process must not start, and how it should exit.
///
/// `--help` and `--version` also end up here, with exit code 0 and the text to print on stdout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionsError {
    exit_code: i32,
    message: String,
}

/// Exit code for a bad command line or configuration, as clap and cobra use.
const USAGE_EXIT_CODE: i32 = 2;

/// The most problems one start-up reports.
const MAX_PROBLEMS: usize = 20;

impl OptionsError {
    fn from_clap(err: clap::Error) -> Self {
        OptionsError {
            exit_code: err.exit_code(),
            message: err.render().to_string(),
        }
    }

    /// One `error:` line per problem, at most [`MAX_PROBLEMS`] of them: a file listing
    /// thousands of bad entries must not produce megabytes of messages.
    fn invalid(problems: impl IntoIterator<Item = String>) -> Self {
        let problems: Vec<String> = problems.into_iter().collect();
        let mut message: String = problems
            .iter()
            .take(MAX_PROBLEMS)
            .map(|problem| format!("error: {problem}\n"))
            .collect();
        if problems.len() > MAX_PROBLEMS {
            message.push_str(&format!(
                "error: ... and {} more problems\n",
                problems.len() - MAX_PROBLEMS
            ));
        }
        OptionsError {
            exit_code: USAGE_EXIT_CODE,
            message,
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// The text to print (ends with a newline).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True for `--help` and `--version`, which are not failures.
    pub fn is_informational(&self) -> bool {
        self.exit_code == 0
    }

    /// Prints the message (stdout if informational, stderr otherwise) and exits the process.
    pub fn exit(&self) -> ! {
        use std::io::Write;
        // Nothing useful can be done if the terminal is gone; the exit code still tells.
        if self.is_informational() {
            let _ = std::io::stdout().write_all(self.message().as_bytes());
        } else {
            let _ = std::io::stderr().write_all(self.message().as_bytes());
        }
        std::process::exit(self.exit_code())
    }
}

/// Parses `args` (including the program name, as in `std::env::args_os()`), reads `--config`,
/// merges, resolves `--controllers` and validates.
pub fn load<I, T>(args: I) -> Result<Loaded, OptionsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = flags::normalize_args(args);
    let matches = Flags::command()
        .try_get_matches_from(args)
        .map_err(OptionsError::from_clap)?;
    let flags = Flags::from_arg_matches(&matches).map_err(OptionsError::from_clap)?;

    let file = match &flags.config {
        Some(path) => {
            Some(config_file::load(path).map_err(|err| OptionsError::invalid([err.to_string()]))?)
        }
        None => None,
    };
    let file = flags.config.as_deref().zip(file.as_ref());
    let (mut config, origins) = merge::merge(&flags, &matches, file);

    let mut problems = Vec::new();
    let no_file_gates = Default::default();
    let file_gates = file.map_or(&no_file_gates, |(_, content)| &content.feature_gates);
    match feature_gates::parse_flag(&flags.feature_gates) {
        Ok(from_flag) => {
            match feature_gates::resolve(file_gates, file.map(|(path, _)| path), &from_flag) {
                Ok(gates) => config.feature_gates = gates,
                Err(errors) => problems.extend(errors),
            }
        }
        Err(errors) => problems.extend(errors.into_iter().map(|e| format!("--feature-gates: {e}"))),
    }
    let resolution =
        match controllers::resolve(&config.component.generic.controllers, KNOWN_CONTROLLERS) {
            Ok(resolution) => Some(resolution),
            Err(unknown) => {
                let location = origins.locate(Setting::Controllers);
                problems.extend(
                    unknown
                        .messages()
                        .into_iter()
                        .map(|m| format!("{location}: {m}")),
                );
                None
            }
        };
    match serving::resolve(&flags.serving) {
        Ok(serving) => config.process.serving = serving,
        Err(errors) => problems.extend(errors),
    }
    problems.extend(validate::validate(&config, &origins));
    let enabled = resolution.as_ref().map(|r| &r.enabled[..]);
    let findings = ranges::check(&config, &origins, enabled);
    problems.extend(findings.errors);
    let resolution = match resolution {
        Some(resolution) if problems.is_empty() => resolution,
        _ => return Err(OptionsError::invalid(problems)),
    };

    config.component.generic.controllers = resolution.canonical_entries.clone();
    let mut warnings = Vec::new();
    if !resolution.unimplemented.is_empty() {
        warnings.push(format!(
            "--controllers: kcm-rs does not implement these controllers and will not run them: {}",
            resolution.unimplemented.join(", ")
        ));
    }
    warnings.extend(unimplemented::warning(&matches));
    warnings.extend(feature_gates::warnings(&config.feature_gates));
    warnings.extend(findings.warnings);
    let mut notices = findings.notices;
    notices.extend(feature_gates::notice(&config.feature_gates));
    Ok(Loaded {
        config,
        controllers: resolution,
        warnings,
        notices,
    })
}

#[cfg(test)]
mod tests;
