use std::io::Read;

use super::*;

fn sample() -> RootFs {
    let mut root = RootFs::default();
    root.add_file("/etc/passwd", b"root:x:0:0::/:/x\n".to_vec(), 0o644)
        .unwrap();
    root.add_dir("/home/nonroot", 0o700, 65532, 65532).unwrap();
    root
}

#[test]
fn layer_is_reproducible_and_its_digests_match_its_bytes() {
    let first = write_layer(&sample(), 1_700_000_000).unwrap();
    let second = write_layer(&sample(), 1_700_000_000).unwrap();
    assert_eq!(first.data, second.data);
    assert_eq!(first.digest, crate::digest::sha256_hex(&first.data));

    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(first.data.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(first.diff_id, crate::digest::sha256_hex(&tar));

    let mut archive = tar::Archive::new(tar.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        seen.push((
            entry.path().unwrap().to_string_lossy().into_owned(),
            header.mode().unwrap(),
            header.uid().unwrap(),
            header.mtime().unwrap(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("etc/".to_owned(), 0o755, 0, 1_700_000_000),
            ("etc/passwd".to_owned(), 0o644, 0, 1_700_000_000),
            ("home/".to_owned(), 0o755, 0, 1_700_000_000),
            ("home/nonroot/".to_owned(), 0o700, 65532, 1_700_000_000),
        ]
    );
}
