use super::*;

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn earliest_deadline_wins() {
    let now = Instant::now();
    let mut waiting = Waiting::new();
    waiting.insert("a", now + 50 * MS);
    waiting.insert("a", now + 10 * MS);
    waiting.insert("a", now + 30 * MS);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting.next_deadline(), Some(now + 10 * MS));
    assert!(waiting.pop_due(now + 9 * MS).is_empty());
    assert_eq!(waiting.pop_due(now + 10 * MS), ["a"]);
    assert_eq!(waiting.len(), 0);
    assert_eq!(waiting.next_deadline(), None);
}

#[tokio::test(start_paused = true)]
async fn pops_in_deadline_order_then_insertion_order() {
    let now = Instant::now();
    let mut waiting = Waiting::new();
    waiting.insert("late", now + 20 * MS);
    waiting.insert("tie-1", now + 10 * MS);
    waiting.insert("tie-2", now + 10 * MS);
    waiting.insert("early", now + 5 * MS);
    assert_eq!(waiting.pop_due(now + 15 * MS), ["early", "tie-1", "tie-2"]);
    assert_eq!(waiting.next_deadline(), Some(now + 20 * MS));
    // Re-inserting after it was popped schedules it anew.
    waiting.insert("early", now + 30 * MS);
    assert_eq!(waiting.pop_due(now + 40 * MS), ["late", "early"]);
}

#[tokio::test(start_paused = true)]
async fn huge_delays_saturate() {
    let at = deadline_after(Duration::MAX);
    assert!(at > Instant::now() + Duration::from_secs(365 * 24 * 3600));
}
