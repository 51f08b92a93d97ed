//! Tests of `dotenv`.

use super::*;
use proptest::prelude::*;

fn vars() -> BTreeMap<String, String> {
    [("HOME", "/home/u"), ("EMPTY", ""), ("A", "from-vars")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Expected entries as `(name, value, line)`.
type Want = &'static [(&'static str, Option<&'static str>, usize)];

/// What a table row expects: entries, or an error kind with line/col.
enum Expect {
    Entries(Want),
    Syntax(usize, usize),
    Interp(usize, usize),
}

fn cases() -> Vec<(&'static str, Expect)> {
    use Expect::*;
    vec![
        ("", Entries(&[])),
        ("\n\n  \n", Entries(&[])),
        ("# only a comment\n  # indented", Entries(&[])),
        ("A=1", Entries(&[("A", Some("1"), 1)])),
        (
            "A=1\nB=2\n",
            Entries(&[("A", Some("1"), 1), ("B", Some("2"), 2)]),
        ),
        ("\n\nX=y", Entries(&[("X", Some("y"), 3)])),
        (
            "  A  =   spaced value   ",
            Entries(&[("A", Some("spaced value"), 1)]),
        ),
        ("A=", Entries(&[("A", Some(""), 1)])),
        ("A", Entries(&[("A", None, 1)])),
        ("A # why", Entries(&[("A", None, 1)])),
        ("export A=1", Entries(&[("A", Some("1"), 1)])),
        ("export\tA", Entries(&[("A", None, 1)])),
        ("export=1", Entries(&[("export", Some("1"), 1)])),
        ("export", Entries(&[("export", None, 1)])),
        ("a.b-c_D=1", Entries(&[("a.b-c_D", Some("1"), 1)])),
        // inline comments
        ("A=val # c", Entries(&[("A", Some("val"), 1)])),
        ("A=val\t# c", Entries(&[("A", Some("val"), 1)])),
        ("A=a#b", Entries(&[("A", Some("a#b"), 1)])),
        ("A= # c", Entries(&[("A", Some(""), 1)])),
        ("A=#c", Entries(&[("A", Some("#c"), 1)])),
        ("A='x # y' # c", Entries(&[("A", Some("x # y"), 1)])),
        ("A=\"x # y\"# c", Entries(&[("A", Some("x # y"), 1)])),
        // unquoted text is taken as is
        ("A=it's \"x\"", Entries(&[("A", Some("it's \"x\""), 1)])),
        ("A=a\\nb", Entries(&[("A", Some("a\\nb"), 1)])),
        // single quotes
        (
            "A='$HOME ${X} \\n'",
            Entries(&[("A", Some("$HOME ${X} \\n"), 1)]),
        ),
        ("A='Let\\'s go!'", Entries(&[("A", Some("Let's go!"), 1)])),
        (
            "A='l1\nl2'\nB=3",
            Entries(&[("A", Some("l1\nl2"), 1), ("B", Some("3"), 3)]),
        ),
        ("A=''", Entries(&[("A", Some(""), 1)])),
        // double quotes and escapes
        (
            "A=\"a\\tb\\nc\\rd\"",
            Entries(&[("A", Some("a\tb\nc\rd"), 1)]),
        ),
        (
            "A=\"q\\\"q \\\\ \\x\"",
            Entries(&[("A", Some("q\"q \\ \\x"), 1)]),
        ),
        (
            "A=\"\\$HOME $HOME\"",
            Entries(&[("A", Some("$HOME /home/u"), 1)]),
        ),
        (
            "A=\"l1\nl2\"\nB=x",
            Entries(&[("A", Some("l1\nl2"), 1), ("B", Some("x"), 3)]),
        ),
        (
            "A=\"{\\\"k\\\": 1}\"",
            Entries(&[("A", Some("{\"k\": 1}"), 1)]),
        ),
        // interpolation
        ("B=${HOME}/x", Entries(&[("B", Some("/home/u/x"), 1)])),
        (
            "A=1\nB=${A}2",
            Entries(&[("A", Some("1"), 1), ("B", Some("12"), 2)]),
        ),
        ("B=$A", Entries(&[("B", Some("from-vars"), 1)])),
        (
            "A=1\nA\nB=$A",
            Entries(&[
                ("A", Some("1"), 1),
                ("A", None, 2),
                ("B", Some("from-vars"), 3),
            ]),
        ),
        (
            "A=1\nA=2\nB=$A",
            Entries(&[
                ("A", Some("1"), 1),
                ("A", Some("2"), 2),
                ("B", Some("2"), 3),
            ]),
        ),
        ("B=${NOPE:-dflt} $$x", Entries(&[("B", Some("dflt $x"), 1)])),
        ("B=\"${EMPTY:-e}\"", Entries(&[("B", Some("e"), 1)])),
        ("B=$NOPE", Entries(&[("B", Some(""), 1)])),
        ("B=ü${HOME}", Entries(&[("B", Some("ü/home/u"), 1)])),
        // line endings and BOM
        (
            "A=1\r\nB='x'\r\n",
            Entries(&[("A", Some("1"), 1), ("B", Some("x"), 2)]),
        ),
        ("A=\"l1\r\nl2\"", Entries(&[("A", Some("l1\nl2"), 1)])),
        ("\u{feff}A=1", Entries(&[("A", Some("1"), 1)])),
        // errors
        ("A=x\nB=${NOPE:?set it}", Interp(2, 3)),
        ("  C=\"ab ${NOPE?}\"", Interp(1, 9)),
        ("C=\"\\t\\t$\"", Interp(1, 8)),
        ("ü=1", Syntax(1, 1)),
        ("1A=1", Syntax(1, 1)),
        ("AB$C=1", Syntax(1, 3)),
        ("A B=1", Syntax(1, 3)),
        ("=1", Syntax(1, 1)),
        ("A='open\nmore", Syntax(1, 3)),
        ("\n  A=\"open", Syntax(2, 5)),
        ("A=\"x\" y", Syntax(1, 7)),
        ("A='x'y", Syntax(1, 6)),
        ("\u{feff}A=\"x\"!", Syntax(1, 6)),
        ("A=1\r\nB=\"x\"!\r\n", Syntax(2, 6)),
        ("X=ééé${", Interp(1, 6)),
    ]
}

fn check(input: &str, got: Result<Vec<Entry>, Error>, expect: &Expect) {
    match (expect, got) {
        (Expect::Entries(want), Ok(got)) => {
            let want: Vec<Entry> = want
                .iter()
                .map(|(name, value, line)| Entry {
                    name: (*name).to_owned(),
                    value: value.map(str::to_owned),
                    line: *line,
                })
                .collect();
            assert_eq!(got, want, "input {input:?}");
        }
        (Expect::Syntax(line, col), Err(err @ Error::Syntax { .. }))
        | (Expect::Interp(line, col), Err(err @ Error::Interpolation { .. })) => {
            assert_eq!(
                (err.line(), err.col()),
                (*line, *col),
                "input {input:?}: {err}"
            );
        }
        (_, got) => panic!("input {input:?}: unexpected {got:?}"),
    }
}

#[test]
fn table() {
    let vars = vars();
    for (input, expect) in cases() {
        check(input, parse(input, &vars), &expect);
    }
}

#[test]
fn table_is_large_enough() {
    assert!(cases().len() >= 30);
}

#[test]
fn required_error_carries_interpolation_details() {
    let err = parse("A=1\nB=${NOPE:?set it}", &vars()).err();
    let Some(Error::Interpolation { source, .. }) = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(
        source,
        &interpolate::Error::RequiredUnset {
            name: "NOPE".into(),
            message: "set it".into(),
            offset: 0,
        }
    );
    let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        shown,
        "line 2, column 3: required variable NOPE is missing a value: set it"
    );
    let source_of = err.as_ref().and_then(std::error::Error::source);
    assert!(source_of.is_some());
}

#[test]
fn raw_format_keeps_values_verbatim() {
    let src = "\u{feff}# c\n A = \"q\" $X # not a comment \r\nB\n\nC=\nD=a=b\n";
    let want = vec![
        Entry {
            name: "A".into(),
            value: Some(" \"q\" $X # not a comment ".into()),
            line: 2,
        },
        Entry {
            name: "B".into(),
            value: None,
            line: 3,
        },
        Entry {
            name: "C".into(),
            value: Some(String::new()),
            line: 5,
        },
        Entry {
            name: "D".into(),
            value: Some("a=b".into()),
            line: 6,
        },
    ];
    assert_eq!(parse_raw(src), Ok(want));
}

#[test]
fn raw_format_rejects_bad_names() {
    let at = |src: &str| parse_raw(src).map_err(|e| (e.line(), e.col()));
    assert_eq!(at("A=1\n  ü B=2").err(), Some((2, 3)));
    assert_eq!(at("export A=1").err(), Some((1, 7)));
    assert_eq!(at("=x").err(), Some((1, 1)));
}

proptest! {
    #[test]
    fn never_panics(input in any::<String>()) {
        let _ = parse(&input, &vars());
        let _ = parse_raw(&input);
    }

    #[test]
    fn never_panics_on_env_alphabet(input in "[A-Z=#'\"\\\\$ {}:?\\-\\n\\r\\tü\u{feff}]{0,40}") {
        let lines = input.split('\n').count();
        for result in [parse(&input, &vars()), parse_raw(&input)] {
            if let Err(err) = result {
                prop_assert!(err.line() >= 1 && err.line() <= lines, "{err}");
                prop_assert!(err.col() >= 1, "{err}");
            }
        }
    }
}
