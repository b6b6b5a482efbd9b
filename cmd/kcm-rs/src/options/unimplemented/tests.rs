use super::*;

#[test]
fn every_flag_has_its_readers_listed() {
    let command = UnimplementedControllerFlags::augment_args(clap::Command::new("t"));
    let mut ids: Vec<&str> = command
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .collect();
    let mut listed: Vec<&str> = READERS.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    listed.sort_unstable();
    assert_eq!(ids, listed);
}
