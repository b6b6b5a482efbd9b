use super::*;

#[test]
fn start_time_skips_a_command_name_with_spaces_and_parentheses() {
    let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50";
    assert_eq!(start_time_from_stat(stat).as_deref(), Some("987654"));
}

#[test]
fn own_start_time_is_readable() {
    let ours = proc_start_time(std::process::id()).expect("own /proc entry");
    assert!(ours.parse::<u64>().is_ok(), "{ours}");
}

#[tokio::test]
async fn a_process_logs_to_its_file_and_is_killed_on_drop() {
    let dir = std::env::temp_dir().join(format!("kcm-testenv-process-{}", std::process::id()));
    let mut command = Command::new("bash");
    command.args(["-c", "echo hello from the child; exec sleep 600"]);
    let mut process = ManagedProcess::spawn_in(&dir, "sleeper", command).unwrap();
    process
        .wait_for_log("hello from the child", Duration::from_secs(10))
        .await
        .unwrap();
    let pid = process.pid();
    let pid_file = process.pid_file.clone();
    let recorded = std::fs::read_to_string(&pid_file).unwrap();
    assert!(recorded.starts_with(&format!("{pid} ")), "{recorded}");
    assert_eq!(process.state(), ProcessState::Running);

    drop(process);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} survived the drop"
    );
    assert!(!pid_file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn terminate_uses_sigterm_first() {
    let dir = std::env::temp_dir().join(format!("kcm-testenv-term-{}", std::process::id()));
    let mut command = Command::new("bash");
    // The trap proves SIGTERM (not SIGKILL) arrived.
    command.args([
        "-c",
        "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    let mut process = ManagedProcess::spawn_in(&dir, "trapper", command).unwrap();
    process
        .wait_for_log("ready", Duration::from_secs(10))
        .await
        .unwrap();
    let status = process.terminate(Duration::from_secs(10)).await.unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(process.log_tail(5).contains("got TERM"));
    let _ = std::fs::remove_dir_all(&dir);
}
