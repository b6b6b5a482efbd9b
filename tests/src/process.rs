//! Child processes a test runs next to the control plane: the upstream
//! kube-controller-manager, and the project's own binary.
//!
//! Each one writes stdout and stderr to `<processes dir>/<name>-<n>.log` and is recorded in
//! `<name>-<n>.pid` as "PID STARTTIME". Dropping the handle kills the process. If the test
//! binary dies without unwinding (SIGKILL, abort), the reaper that `testenv.sh reap` started
//! for this process kills whatever is still recorded; the start time guards against a
//! recycled PID.

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use anyhow::{Context, bail};

/// Lifecycle of a [`ManagedProcess`] as last observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// Still running.
    Running,
    /// Exited (on its own or because it was stopped).
    Exited(ExitStatus),
}

/// A child process with its log file, killed on drop.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
    pid_file: PathBuf,
    state: ProcessState,
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

impl ManagedProcess {
    /// Spawns `command` with stdin closed and stdout + stderr appended to `dir/<name>-N.log`.
    pub fn spawn_in(dir: &Path, name: &str, mut command: Command) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let stem = format!("{name}-{}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
        let log_path = dir.join(format!("{stem}.log"));
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let stderr = log.try_clone().context("duplicating the log file handle")?;
        command.stdin(Stdio::null()).stdout(log).stderr(stderr);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        let pid_file = dir.join(format!("{stem}.pid"));
        let start_time = proc_start_time(child.id()).unwrap_or_else(|| "unknown".to_owned());
        std::fs::write(&pid_file, format!("{} {start_time}\n", child.id()))
            .with_context(|| format!("writing {}", pid_file.display()))?;
        tracing::info!(name, pid = child.id(), log = %log_path.display(), "started process");
        Ok(Self {
            name: name.to_owned(),
            child,
            log_path,
            pid_file,
            state: ProcessState::Running,
        })
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating-system process id (for `/proc/<pid>/status` and the like).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file that receives stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the log, or a note saying why there are none.
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.log_path, lines)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// Polls the process without blocking.
    pub fn state(&mut self) -> ProcessState {
        if self.state == ProcessState::Running
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.state = ProcessState::Exited(status);
        }
        self.state
    }

    /// Waits until the log contains `needle`. Fails early if the process exits, and after
    /// `timeout`; both errors include the log tail.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            if log.contains(needle) {
                return Ok(());
            }
            if let ProcessState::Exited(status) = self.state() {
                bail!(
                    "{} exited ({status}) before logging {needle:?}; last lines:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{} did not log {needle:?} within {timeout:?}; last lines:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM, waits up to `grace` for the process to exit, then kills it.
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        if let ProcessState::Exited(status) = self.state() {
            return Ok(status);
        }
        // std can only send SIGKILL; kill(1) avoids a libc dependency for SIGTERM.
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("running kill -TERM")?;
        if sent.success() {
            let deadline = tokio::time::Instant::now() + grace;
            while tokio::time::Instant::now() < deadline {
                if let ProcessState::Exited(status) = self.state() {
                    return Ok(status);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::warn!(
                name = self.name,
                ?grace,
                "process ignored SIGTERM; killing it"
            );
        }
        self.kill()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        if let ProcessState::Exited(status) = self.state() {
            return Ok(status);
        }
        // An error here means it exited in the meantime; wait() below tells.
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .context("waiting for the killed process")?;
        self.state = ProcessState::Exited(status);
        Ok(status)
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            tracing::warn!(name = self.name, "stopping process: {e:#}");
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Field 22 of `/proc/<pid>/stat`: clock ticks since boot at which the process started.
pub(crate) fn proc_start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    start_time_from_stat(&stat)
}

/// The command name (field 2) may hold spaces and parentheses, so count fields after its
/// closing parenthesis: state is the first of those, start time the twentieth.
fn start_time_from_stat(stat: &str) -> Option<String> {
    let (_, after_command) = stat.rsplit_once(") ")?;
    after_command.split_whitespace().nth(19).map(str::to_owned)
}

fn read_tail(path: &Path, lines: usize) -> std::io::Result<String> {
    // Logs can grow large; the tail is in the last 64 KiB.
    const WINDOW: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

#[cfg(test)]
mod tests;
