use super::*;

#[test]
fn writer_and_one_shot_agree_with_the_known_digest() {
    let mut writer = Sha256Writer::new(Vec::new());
    writer.write_all(b"ab").unwrap();
    writer.write_all(b"c").unwrap();
    let (inner, digest) = writer.finish();
    assert_eq!(inner, b"abc");
    let known = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(digest, known);
    assert_eq!(sha256_hex(b"abc"), known);
}
