//! Stamps the binary with the git commit it was built from and the build date, for `--version`
//! and the start-up log (`KCM_GIT_COMMIT`, `KCM_BUILD_DATE`).
//!
//! Both degrade instead of failing: outside a git checkout (a source tarball, a vendored copy)
//! or without git installed the commit is "unknown". `SOURCE_DATE_EPOCH`, when set, replaces the
//! clock (reproducible builds); `KCM_GIT_COMMIT`, when set, replaces the git lookup (builds from
//! an exported tree that knows its commit).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{SystemTime, UNIX_EPOCH},
};

fn main() {
    println!("cargo::rerun-if-env-changed=KCM_GIT_COMMIT");
    println!("cargo::rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var("KCM_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().replace(char::is_whitespace, "-"),
        _ => git_commit(&manifest_dir).unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo::rustc-env=KCM_GIT_COMMIT={commit}");

    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) if !value.trim().is_empty() => match value.trim().parse::<i64>() {
            Ok(epoch) => epoch,
            Err(_) => {
                println!(
                    "cargo::error=SOURCE_DATE_EPOCH must be seconds since 1970, got {value:?}"
                );
                return;
            }
        },
        _ => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64),
    };
    println!("cargo::rustc-env=KCM_BUILD_DATE={}", rfc3339(epoch));
}

/// HEAD's commit, and the files whose change means HEAD moved (so the stamp follows commits and
/// checkouts without rerunning this script on every build).
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let commit = git(&["rev-parse", "--verify", "HEAD"])?;
    // In a worktree HEAD lives in the per-worktree git dir, branches in the common one.
    let git_dir = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from);
    let common_dir = git(&["rev-parse", "--git-common-dir"]).map(|d| dir.join(d));
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let mut watched = Vec::new();
    if let Some(git_dir) = &git_dir {
        watched.push(git_dir.join("HEAD"));
    }
    if let Some(common_dir) = &common_dir {
        watched.push(common_dir.join("packed-refs"));
        if let Some(branch) = &branch {
            watched.push(common_dir.join(branch));
        }
    }
    // A path that does not exist would rerun this script on every build: watch only real ones.
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    Some(commit)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date crate for one line.
fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
