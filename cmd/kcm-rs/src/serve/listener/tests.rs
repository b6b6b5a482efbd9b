use super::*;

fn slot(table: &mut Table, busy: usize) -> CancellationToken {
    let close = CancellationToken::new();
    let id = table.next;
    table.next += 1;
    table.slots.insert(
        id,
        Slot {
            busy: Arc::new(AtomicUsize::new(busy)),
            close: close.clone(),
        },
    );
    close
}

#[test]
fn the_oldest_idle_connection_is_evicted_never_a_busy_one() {
    let mut table = Table::default();
    let busy_old = slot(&mut table, 1);
    let idle_old = slot(&mut table, 0);
    let idle_new = slot(&mut table, 0);
    assert!(table.evict_idle());
    assert!(idle_old.is_cancelled());
    assert!(!busy_old.is_cancelled() && !idle_new.is_cancelled());
    assert!(table.evict_idle());
    assert!(idle_new.is_cancelled());
    assert!(!table.evict_idle(), "only a busy connection is left");
    assert!(!busy_old.is_cancelled());
}

#[test]
fn descriptor_errors_are_told_apart() {
    assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
        libc::EMFILE
    )));
    assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
        libc::ENFILE
    )));
    assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(
        libc::ENOBUFS
    )));
    assert!(is_per_connection(&io::Error::from(
        io::ErrorKind::ConnectionAborted
    )));
}

#[test]
fn the_cap_leaves_most_descriptors_to_the_controllers() {
    let limits = Limits::for_this_process(100);
    assert!(limits.max_connections >= 16 && limits.max_connections <= 4096);
    assert!(limits.max_connections <= descriptor_limit().max(64) / 4 + 16);
}
