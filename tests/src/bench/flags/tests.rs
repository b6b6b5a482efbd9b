use super::*;

fn parse(args: &[&str]) -> Flags {
    Flags::parse(args.iter().map(|s| (*s).to_owned())).expect("valid flags")
}

#[test]
fn values_words_and_unknown_keys() {
    let flags = parse(&["--sizes=1,2", "upstream", "--quick", "--qps=5", "--qps=7"]);
    assert_eq!(flags.list("sizes", &[9_usize]).unwrap(), vec![1, 2]);
    assert!(flags.switch("quick").unwrap());
    assert_eq!(flags.get("qps", 1.0_f32).unwrap(), 7.0);
    assert_eq!(flags.get("missing", 3_u32).unwrap(), 3);
    assert_eq!(flags.words(), ["upstream"]);
    flags.finish().unwrap();
    let typo = parse(&["--qsp=5"]);
    let _ = typo.get("qps", 1.0_f32);
    assert!(typo.finish().unwrap_err().to_string().contains("qsp"));
    assert!(parse(&["--qps=x"]).get("qps", 1.0_f32).is_err());
}
