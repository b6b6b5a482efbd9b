//! What the release tooling needs from the binary: a stripped copy, its `--version` stamp and
//! the shared libraries the dynamic loader will look for.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::Error;

/// What `kcm-rs --version` says: `kcm-rs v0.1.0 (commit <sha>, built <RFC 3339 UTC>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryVersion {
    pub program: String,
    pub version: String,
    pub commit: String,
    pub built: String,
}

impl BinaryVersion {
    /// Parses one `--version` line; `None` when it is not in kcm-rs's format.
    pub fn parse(line: &str) -> Option<BinaryVersion> {
        let (program, rest) = line.trim().split_once(' ')?;
        let (version, rest) = rest.split_once(" (commit ")?;
        let (commit, rest) = rest.split_once(", built ")?;
        let built = rest.strip_suffix(')')?;
        let fields = [program, version, commit, built];
        if fields
            .iter()
            .any(|f| f.is_empty() || f.contains(char::is_whitespace))
        {
            return None;
        }
        Some(BinaryVersion {
            program: program.to_owned(),
            version: version.to_owned(),
            commit: commit.to_owned(),
            built: built.to_owned(),
        })
    }
}

/// Runs `binary --version` and parses its answer.
pub fn read_version(binary: &Path) -> Result<BinaryVersion, Error> {
    let stdout = run(Command::new(binary).arg("--version"))?;
    BinaryVersion::parse(&stdout).ok_or_else(|| {
        Error::Invalid(format!(
            "{} --version printed {:?}, not `kcm-rs v<version> (commit <sha>, built <date>)`",
            binary.display(),
            stdout.trim()
        ))
    })
}

/// Writes a copy of `binary` without symbols or debug information to `dest`.
pub fn strip(binary: &Path, dest: &Path) -> Result<(), Error> {
    if !binary.is_file() {
        return Err(Error::Invalid(format!(
            "{} does not exist; build it first (cargo build --release -p kcm-rs)",
            binary.display()
        )));
    }
    let tmp = dest.with_extension("tmp");
    run(Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&tmp)
        .arg(binary))
    .map_err(|error| match error {
        Error::Command { command, detail } if detail.contains("No such file") => Error::Command {
            command,
            detail: format!("{detail} (strip comes with binutils: apt-get install binutils)"),
        },
        error => error,
    })?;
    std::fs::rename(&tmp, dest).map_err(Error::io("renaming the stripped binary to", dest))
}

/// The shared objects the loader maps for `binary`, the loader itself included, as `ldd`
/// resolves them on this machine (so the image gets the very glibc the binary was linked on).
/// Empty for a static binary.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, Error> {
    let command = format!("ldd {}", binary.display());
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| Error::Command {
            command: command.clone(),
            detail: format!("{e} (ldd comes with glibc: libc-bin on Debian)"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        return Err(Error::Command {
            command,
            detail: format!("{}{}", stdout.trim(), stderr.trim()),
        });
    }
    parse_ldd(&stdout).map_err(|detail| Error::Command { command, detail })
}

/// Paths from `ldd` output: `libc.so.6 => /lib/.../libc.so.6 (0x...)` and the loader's
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file and is skipped.
pub fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let target = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                if target.starts_with("not found") {
                    return Err(format!("{} is not found on this machine", name.trim()));
                }
                target
            }
            None => line,
        };
        let path = target.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            paths.push(PathBuf::from(path));
        }
    }
    Ok(paths)
}

/// Runs a command and returns its stdout, or an error with its stderr.
fn run(command: &mut Command) -> Result<String, Error> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let output = command.output().map_err(|e| Error::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: shown,
            detail: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    String::from_utf8(output.stdout).map_err(|_| Error::Command {
        command: shown,
        detail: "printed something that is not UTF-8".to_owned(),
    })
}

#[cfg(test)]
mod tests;
