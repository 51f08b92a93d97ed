//! Tests of `interpolate`.

use super::*;
use proptest::prelude::*;

/// What a table row expects.
enum Want {
    Ok(&'static str),
    /// Output plus the expected `unset` list.
    OkUnset(&'static str, &'static [&'static str]),
    Required(&'static str, &'static str, usize),
    Syntax(usize),
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const STD: &[(&str, &str)] = &[
    ("A", "apple"),
    ("B", "banana"),
    ("E", ""),
    ("FOO", "foo"),
    ("FOO_BAR", "foobar"),
    ("_u1", "under"),
    ("U", "ünï"),
    ("D", "$B"),
];

fn cases() -> Vec<(&'static str, Want)> {
    use Want::*;
    vec![
        // plain text and escapes
        ("", Ok("")),
        ("plain text", Ok("plain text")),
        ("{braces} stay }", Ok("{braces} stay }")),
        ("$$", Ok("$")),
        ("$$A", Ok("$A")),
        ("$${A}", Ok("${A}")),
        ("a$$$A", Ok("a$apple")),
        ("$$$$", Ok("$$")),
        // bare and braced names
        ("$A", Ok("apple")),
        ("${A}", Ok("apple")),
        ("a${B}c", Ok("abananac")),
        ("$A$B", Ok("applebanana")),
        ("$FOO_BAR", Ok("foobar")),
        ("$FOO-bar", Ok("foo-bar")),
        ("$FOO.bar", Ok("foo.bar")),
        ("${_u1}x", Ok("underx")),
        ("$D", Ok("$B")),
        ("$NOPE", OkUnset("", &["NOPE"])),
        ("${NOPE}-$NOPE-$X", OkUnset("--", &["NOPE", "X"])),
        ("$E|${E}", Ok("|")),
        // :- and -
        ("${A:-x}", Ok("apple")),
        ("${E:-x}", Ok("x")),
        ("${N:-x}", Ok("x")),
        ("${A-x}", Ok("apple")),
        ("${E-x}", Ok("")),
        ("${N-x}", Ok("x")),
        ("${N:-}", Ok("")),
        ("${N:-a b:c}", Ok("a b:c")),
        ("${N:-{\"a\":{}}}", Ok("{\"a\":{}}")),
        ("${A:-{\"a\":1}}!", Ok("apple!")),
        ("${N:-{}", Syntax(0)),
        // :+ and +
        ("${A:+yes}", Ok("yes")),
        ("${E:+yes}", Ok("")),
        ("${N:+yes}", Ok("")),
        ("${A+yes}", Ok("yes")),
        ("${E+yes}", Ok("yes")),
        ("${N+yes}", Ok("")),
        // :? and ?
        ("${A:?boom}", Ok("apple")),
        ("${A?boom}", Ok("apple")),
        ("${E?boom}", Ok("")),
        ("x${E:?boom}", Required("E", "boom", 1)),
        ("${N:?boom}", Required("N", "boom", 0)),
        ("ab${N?}", Required("N", "", 2)),
        ("${N:?need $A}", Required("N", "need apple", 0)),
        // nesting
        ("${N:-${B:-x}}", Ok("banana")),
        ("${N:-${M:-x}}", Ok("x")),
        ("${N:-$B}", Ok("banana")),
        ("${N:-$M}", OkUnset("", &["M"])),
        ("${A:-$M}", Ok("apple")),
        ("${A:-${M:?never}}", Ok("apple")),
        ("${N:-${M:-${B}}}/", Ok("banana/")),
        ("${N:-pre${B}post}", Ok("prebananapost")),
        ("${N:-$$B}", Ok("$B")),
        ("${A:+<${B}>}", Ok("<banana>")),
        ("${N:-${M:?inner}}", Required("M", "inner", 5)),
        // unicode
        ("ü$A", Ok("üapple")),
        ("${U}", Ok("ünï")),
        ("${N:-日本}語", Ok("日本語")),
        ("ü$", Syntax(2)),
        ("日${N:?é}", Required("N", "é", 3)),
        // syntax errors
        ("$", Syntax(0)),
        ("abc$", Syntax(3)),
        ("${", Syntax(0)),
        ("x${}", Syntax(1)),
        ("${A", Syntax(0)),
        ("${A:-x", Syntax(0)),
        ("${A:-${B}", Syntax(0)),
        ("$5", Syntax(0)),
        ("a $-", Syntax(2)),
        ("$ü", Syntax(0)),
        ("${A/x/y}", Syntax(0)),
        ("${A:x}", Syntax(0)),
        ("${A:}", Syntax(0)),
        ("${1A}", Syntax(0)),
        ("${A B}", Syntax(0)),
        ("ok ${N:-$}", Syntax(8)),
        ("${A:-x} ${N:-${", Syntax(13)),
    ]
}

#[test]
fn table() {
    let vars = vars(STD);
    for (input, want) in cases() {
        let got = interpolate(input, &vars);
        match (want, got) {
            (Want::Ok(v), Ok(got)) => {
                assert_eq!(got.value, v, "input {input:?}");
                assert!(got.unset.is_empty(), "input {input:?}: {:?}", got.unset);
            }
            (Want::OkUnset(v, unset), Ok(got)) => {
                assert_eq!(got.value, v, "input {input:?}");
                assert_eq!(got.unset, unset, "input {input:?}");
            }
            (Want::Required(name, message, offset), Err(err)) => {
                let expected = Error::RequiredUnset {
                    name: name.to_owned(),
                    message: message.to_owned(),
                    offset,
                };
                assert_eq!(err, expected, "input {input:?}");
            }
            (Want::Syntax(offset), Err(err)) => {
                assert!(
                    matches!(err, Error::InvalidSyntax { .. }),
                    "input {input:?}: {err:?}"
                );
                assert_eq!(err.offset(), offset, "input {input:?}: {err}");
            }
            (_, got) => panic!("input {input:?}: unexpected {got:?}"),
        }
    }
}

#[test]
fn table_is_large_enough() {
    assert!(cases().len() >= 40);
}

#[test]
fn substituted_flag() {
    let vars = vars(STD);
    let flag = |s: &str| interpolate(s, &vars).map(|r| r.substituted);
    assert_eq!(flag("no dollars {}"), Ok(false));
    assert_eq!(flag("$$"), Ok(true));
    assert_eq!(flag("${NOPE}"), Ok(true));
    assert_eq!(flag("x$A"), Ok(true));
}

#[test]
fn unset_is_deduplicated_in_order() {
    let got = interpolate("$Z $Y ${Z} ${N:-$X} $Y", &vars(STD));
    let unset = got.map(|r| r.unset);
    assert_eq!(unset, Ok(vec!["Z".into(), "Y".into(), "X".into()]));
}

#[test]
fn display_messages() {
    let err = |s: &str| match interpolate(s, &vars(STD)) {
        Err(e) => e.to_string(),
        Ok(r) => format!("unexpected success: {r:?}"),
    };
    assert_eq!(
        err("${N:?set it}"),
        "required variable N is missing a value: set it"
    );
    assert_eq!(err("${N:?}"), "required variable N is missing a value");
    let syntax = err("cost: 5$");
    assert!(syntax.starts_with("invalid interpolation format at byte 7: "));
    assert!(syntax.contains("\"$$\""), "{syntax}");
}

#[test]
fn deep_nesting_is_rejected_not_overflowing() {
    let depth = MAX_NESTING + 1;
    let input = format!("{}x{}", "${N:-".repeat(depth), "}".repeat(depth));
    let err = interpolate(&input, &vars(STD)).err();
    assert!(matches!(err, Some(Error::InvalidSyntax { .. })), "{err:?}");

    let ok_depth = MAX_NESTING;
    let input = format!("{}x{}", "${N:-".repeat(ok_depth), "}".repeat(ok_depth));
    assert_eq!(
        interpolate(&input, &vars(STD)).map(|r| r.value),
        Ok("x".into())
    );
}

#[test]
fn layered_lookup_first_hit_wins() {
    let top = vars(&[("A", "top"), ("E", "")]);
    let bottom = vars(&[("A", "bottom"), ("B", "b"), ("E", "full")]);
    let layered = (&top, &bottom);
    let got = interpolate("$A $B ${E:-d}", &layered).map(|r| r.value);
    assert_eq!(got, Ok("top b d".into()));

    let hash: HashMap<String, String> = [("Q".to_owned(), "q".to_owned())].into();
    let dynamic: &dyn Variables = &hash;
    let got = interpolate("$Q$A", &(dynamic, &top)).map(|r| r.value);
    assert_eq!(got, Ok("qtop".into()));
}

#[test]
fn process_env_lookup() {
    // PATH is set for any test process; names std would reject are unset.
    assert!(ProcessEnv.get("PATH").is_some());
    assert_eq!(ProcessEnv.get(""), None);
    assert_eq!(ProcessEnv.get("A=B"), None);
    assert_eq!(ProcessEnv.get("A\0B"), None);
}

proptest! {
    #[test]
    fn never_panics(input in any::<String>()) {
        let _ = interpolate(&input, &vars(STD));
    }

    #[test]
    fn never_panics_on_template_alphabet(input in "[${}:?+\\-AB_Eé ]{0,40}") {
        if let Err(err) = interpolate(&input, &vars(STD)) {
            prop_assert!(err.offset() < input.len());
            prop_assert_eq!(input.as_bytes()[err.offset()], b'$');
        }
    }

    #[test]
    fn dollar_free_text_is_identity(input in "[^$]*") {
        let got = interpolate(&input, &vars(STD));
        prop_assert_eq!(
            got,
            Ok(Interpolated { value: input.clone(), unset: vec![], substituted: false })
        );
    }
}
