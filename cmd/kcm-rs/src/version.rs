//! What this binary is: the package version plus the git commit and build date that build.rs
//! stamps in. `--version` prints [`TEXT`]; the release image's labels carry the same values.

/// The commit HEAD pointed at when the binary was built, or "unknown" outside a git checkout.
pub const GIT_COMMIT: &str = env!("KCM_GIT_COMMIT");
/// When the binary was built (UTC, RFC 3339), or `SOURCE_DATE_EPOCH` when that is set.
pub const BUILD_DATE: &str = env!("KCM_BUILD_DATE");

/// `--version`'s text after the program name.
pub const TEXT: &str = concat!(
    "v",
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KCM_GIT_COMMIT"),
    ", built ",
    env!("KCM_BUILD_DATE"),
    ")"
);

#[cfg(test)]
mod tests;
