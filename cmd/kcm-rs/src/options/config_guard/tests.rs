use super::*;

#[test]
fn depth_counts_indentation_dashes_and_brackets() {
    let ok = "a:\n  b:\n    c: [1, {d: [2]}]\n  e:\n  - - x\n";
    assert_eq!(deepest_line(ok), None);
    let flow = format!("a: {}{}\n", "[".repeat(40), "]".repeat(40));
    assert_eq!(deepest_line(&flow), Some(1));
    let unclosed = format!("a: b\nc: {}\n", "{".repeat(100_000));
    assert_eq!(deepest_line(&unclosed), Some(2));
    let block: String = (0..40)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    assert_eq!(deepest_line(&block), Some(MAX_DEPTH + 1));
    let dashes = format!("a:\n{}x\n", "- ".repeat(40));
    assert_eq!(deepest_line(&dashes), Some(2));
    // Comments do not count; quotes do not hide real nesting.
    let commented = format!("# {}\nc: x # {}\n", "[".repeat(100), "[".repeat(100));
    assert_eq!(deepest_line(&commented), None);
    let hidden = format!("a: [{}]\n", "[\"]\", ".repeat(40));
    assert_eq!(deepest_line(&hidden), Some(1));
    let stray = format!("a: it's\nb: {}x{}\n", "[".repeat(40), "]".repeat(40));
    assert_eq!(deepest_line(&stray), Some(2));
    // Balanced quoted brackets and ordinary configuration lines are fine.
    let ordinary = "generic:\n  controllers: ['*', \"-podgc\"]  # '[x]'\n  \
                    leaderElection: {leaderElect: true}\n";
    assert_eq!(deepest_line(ordinary), None);
    // A closing indentation level is popped: siblings do not add up.
    let siblings: String = (0..1000).map(|i| format!("k{i}:\n  v: 1\n")).collect();
    assert_eq!(deepest_line(&siblings), None);
}

#[test]
fn the_root_must_be_one_mapping() {
    let cases: &[(&str, GuardError)] = &[
        (
            "hello\n",
            GuardError::NotAMapping {
                got: "a string \"hello\"".into(),
            },
        ),
        (
            "- a\n- b\n",
            GuardError::NotAMapping {
                got: "a sequence".into(),
            },
        ),
        (
            "42\n",
            GuardError::NotAMapping {
                got: "a number 42".into(),
            },
        ),
        ("~\n", GuardError::NotAMapping { got: "null".into() }),
        ("", GuardError::Empty),
        ("# only a comment\n\n", GuardError::Empty),
        ("kind: A\n---\nkind: B\n", GuardError::MultipleDocuments),
    ];
    for (text, want) in cases {
        assert_eq!(type_meta(text).as_ref(), Err(want), "{text:?}");
    }
    assert_eq!(
        type_meta("kind: K\napiVersion: v\nother: [1]\n"),
        Ok(TypeMeta {
            api_version: Some("v".into()),
            kind: Some("K".into()),
        })
    );
    assert_eq!(
        type_meta("kind: [1]\n"),
        Ok(TypeMeta {
            api_version: None,
            kind: None,
        })
    );
    assert!(matches!(type_meta("a: [\n"), Err(GuardError::Syntax(_))));
}

#[test]
fn long_quotes_are_cut() {
    let long = "x".repeat(10_000);
    let message = format!("invalid type: string \"{long}\", expected struct ConfigFile");
    let short = elide(&message);
    assert!(short.len() < 200, "{short}");
    assert!(
        short.starts_with(&format!(
            "invalid type: string \"{}\"…",
            "x".repeat(MAX_QUOTE)
        )),
        "{short}"
    );
    assert!(
        short.ends_with("(10000 characters), expected struct ConfigFile"),
        "{short}"
    );
    let field = format!("unknown field `{long}`, expected one of `a`, `b`");
    let short = elide(&field);
    assert!(short.len() < 200, "{short}");
    assert!(short.ends_with(", expected one of `a`, `b`"), "{short}");
    // Short quotes, escaped quotes and unbalanced ones survive intact or bounded.
    assert_eq!(elide("got \"a\\\"b\" and `c`"), "got \"a\\\"b\" and `c`");
    let unbalanced = format!("oops \"{long}");
    assert!(elide(&unbalanced).len() < 100);
    assert_eq!(quote("abc"), "\"abc\"");
    assert!(quote(&long).ends_with("… (10000 characters)"));
}
