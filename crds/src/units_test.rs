//! Tests of `units`.

use super::*;
use proptest::prelude::*;
use std::time::Duration as Std;

fn nanos(n: u64) -> Std {
    Std::from_nanos(n)
}

#[test]
fn durations_parse_like_go() {
    let cases: &[(&str, Std)] = &[
        ("0", Std::ZERO),
        ("+0", Std::ZERO),
        ("0s", Std::ZERO),
        ("1m30s", Std::from_secs(90)),
        ("500ms", Std::from_millis(500)),
        ("1.5h", Std::from_secs(5_400)),
        ("2h45m", Std::from_secs(9_900)),
        ("1.5s", Std::from_millis(1_500)),
        (".5s", Std::from_millis(500)),
        ("5.s", Std::from_secs(5)),
        ("1us", nanos(1_000)),
        ("1µs", nanos(1_000)),
        ("1μs", nanos(1_000)),
        ("10ns", nanos(10)),
        ("1h1m1s1ms1us1ns", nanos(3_661_001_001_001)),
        ("0.0000000019s", nanos(1)),
        ("0.000000000019m", nanos(1)),
        ("+1s", Std::from_secs(1)),
        ("1s1s", Std::from_secs(2)),
        ("2562047h47m16.854775807s", nanos(i64::MAX as u64)),
    ];
    for (input, want) in cases {
        assert_eq!(parse_duration(input).as_ref(), Ok(want), "{input}");
    }
}

#[test]
fn bad_durations_are_explained() {
    let cases: &[(&str, &str)] = &[
        ("10", "invalid duration \"10\": missing unit, e.g. \"10s\""),
        (
            "1m30",
            "invalid duration \"1m30\": missing unit, e.g. \"1m30s\"",
        ),
        (
            "-1s",
            "invalid duration \"-1s\": negative durations are not allowed; \
                 use 0 or a positive value such as \"30s\"",
        ),
        (
            "1d",
            "invalid duration \"1d\": unknown unit \"d\"; valid units are ns, us (or µs), \
                 ms, s, m and h, e.g. \"1h30m\"",
        ),
        (
            "",
            "invalid duration \"\": expected numbers each followed by a unit \
                 (ns, us, ms, s, m, h), e.g. \"1m30s\", \"500ms\" or \"1.5h\"",
        ),
        (
            "2562047h47m16.854775808s",
            "invalid duration \"2562047h47m16.854775808s\": too long; \
                 the maximum is \"2562047h47m16.854775807s\"",
        ),
    ];
    for (input, want) in cases {
        let err = parse_duration(input).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(*want), "{input}");
    }
}

#[test]
fn malformed_durations_are_rejected() {
    for input in [
        "s",
        ".s",
        "+",
        "-",
        "1.5.5s",
        "1h 30m",
        " 1s",
        "1s ",
        "1e3s",
        "abc",
        "1sec",
        "00",
        "99999999999999999999h",
        "1h-5m",
        "--1s",
    ] {
        assert!(parse_duration(input).is_err(), "{input}");
    }
}

#[test]
fn durations_display_compactly() {
    let cases: &[(Std, &str)] = &[
        (Std::ZERO, "0s"),
        (Std::from_secs(90), "1m30s"),
        (Std::from_secs(3_600), "1h"),
        (Std::from_secs(5_400), "1h30m"),
        (Std::from_secs(3_605), "1h5s"),
        (Std::from_millis(1_500), "1.5s"),
        (Std::from_millis(500), "500ms"),
        (nanos(1_500), "1.5µs"),
        (nanos(1_500_000), "1.5ms"),
        (nanos(7), "7ns"),
        (nanos(60_000_000_001), "1m0.000000001s"),
    ];
    for (value, want) in cases {
        assert_eq!(Duration(*value).to_string(), *want);
    }
}

#[test]
fn byte_sizes_parse_like_docker() {
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("1024", 1_024),
        ("512M", 536_870_912),
        ("512m", 536_870_912),
        ("512mb", 536_870_912),
        ("512MiB", 536_870_912),
        ("1.5g", 1_610_612_736),
        ("1.5GB", 1_610_612_736),
        ("2k", 2_048),
        ("2 kb", 2_048),
        ("1t", 1 << 40),
        ("1p", 1 << 50),
        ("10b", 10),
        ("10B", 10),
        ("1.5", 1),
        (".5k", 512),
        ("+1k", 1_024),
        ("9223372036854775807", i64::MAX as u64),
    ];
    for (input, want) in cases {
        assert_eq!(parse_byte_size(input), Ok(*want), "{input}");
    }
}

#[test]
fn bad_byte_sizes_are_explained() {
    let cases: &[(&str, &str)] = &[
        (
            "-1",
            "invalid size \"-1\": negative sizes are not allowed; \
                 use a number of bytes or a size such as \"512m\"",
        ),
        (
            "5x",
            "invalid size \"5x\": unknown unit \"x\"; valid units are b, k, m, g, t and p, \
                 optionally followed by b or ib (case does not matter), e.g. \"512m\" or \"2GiB\"",
        ),
        (
            "lots",
            "invalid size \"lots\": expected a number with an optional unit \
                 (b, k, m, g, t, p), e.g. \"512m\", \"1.5g\" or \"1048576\"",
        ),
        (
            "8192p",
            "invalid size \"8192p\": too large; the maximum is 9223372036854775807 bytes \
                 (just under 8192p)",
        ),
    ];
    for (input, want) in cases {
        let err = parse_byte_size(input).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(*want), "{input}");
    }
    for input in [
        "", "k", "1kk", "1bb", "1kib2", "1  k", " 1k", "1e3", "-", "1.2.3",
    ] {
        assert!(parse_byte_size(input).is_err(), "{input}");
    }
}

#[test]
fn byte_sizes_display_with_the_largest_exact_unit() {
    let cases: &[(u64, &str)] = &[
        (0, "0"),
        (1, "1"),
        (1_000, "1000"),
        (1_024, "1K"),
        (536_870_912, "512M"),
        (1_610_612_736, "1536M"),
        (1 << 30, "1G"),
        (3 << 50, "3P"),
    ];
    for (value, want) in cases {
        assert_eq!(ByteSize(*value).to_string(), *want);
    }
}

#[test]
fn cpus_parse_into_nano_cpus() {
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("0.5", 500_000_000),
        ("2", 2_000_000_000),
        ("0.001", 1_000_000),
        ("0.000000001", 1),
        ("1.0000000000", 1_000_000_000),
        (".25", 250_000_000),
        ("3.", 3_000_000_000),
        ("9223372036.854775807", i64::MAX as u64),
    ];
    for (input, want) in cases {
        assert_eq!(parse_cpus(input), Ok(*want), "{input}");
    }
}

#[test]
fn bad_cpus_are_explained() {
    let cases: &[(&str, &str)] = &[
        (
            "-1",
            "invalid cpus \"-1\": negative CPU counts are not allowed; \
                 use 0 (no limit) or a positive number such as \"0.5\"",
        ),
        (
            "0.0000000001",
            "invalid cpus \"0.0000000001\": too precise; Docker counts in billionths of a \
                 CPU, so use at most 9 decimal places, e.g. \"0.000000001\"",
        ),
        (
            "two",
            "invalid cpus \"two\": expected a decimal number of CPUs, \
                 e.g. \"0.5\", \"2\" or \"1.25\"",
        ),
        (
            "9223372037",
            "invalid cpus \"9223372037\": too large; the maximum is 9223372036.854775807",
        ),
    ];
    for (input, want) in cases {
        let err = parse_cpus(input).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(*want), "{input}");
    }
    for input in ["", ".", "1/2", "5e-1", "0.5 ", "1,5", "0x10", "--1"] {
        assert!(parse_cpus(input).is_err(), "{input}");
    }
}

#[test]
fn cpus_display_as_short_decimals() {
    let cases: &[(u64, &str)] = &[
        (0, "0"),
        (500_000_000, "0.5"),
        (2_000_000_000, "2"),
        (1_000_000, "0.001"),
        (1, "0.000000001"),
        (1_250_000_000, "1.25"),
    ];
    for (value, want) in cases {
        assert_eq!(Cpus(*value).to_string(), *want);
    }
}

#[test]
fn serde_uses_the_text_forms() -> Result<(), serde_json::Error> {
    let duration = Duration(Std::from_secs(90));
    assert_eq!(serde_json::to_string(&duration)?, "\"1m30s\"");
    assert_eq!(serde_json::from_str::<Duration>("\"1m30s\"")?, duration);
    assert_eq!(serde_json::from_str::<Duration>("0")?, Duration::default());

    let size = ByteSize(536_870_912);
    assert_eq!(serde_json::to_string(&size)?, "536870912");
    assert_eq!(serde_json::from_str::<ByteSize>("536870912")?, size);
    assert_eq!(serde_json::from_str::<ByteSize>("\"512m\"")?, size);

    let cpus = Cpus(500_000_000);
    assert_eq!(serde_json::to_string(&cpus)?, "\"0.5\"");
    assert_eq!(serde_json::from_str::<Cpus>("\"0.5\"")?, cpus);
    assert_eq!(serde_json::from_str::<Cpus>("0.5")?, cpus);
    assert_eq!(serde_json::from_str::<Cpus>("2")?, Cpus(2_000_000_000));
    Ok(())
}

#[test]
fn serde_errors_carry_the_module_messages() {
    let err = |r: Result<(), serde_json::Error>| r.err().map(|e| e.to_string());
    let duration = err(serde_json::from_str::<Duration>("10").map(drop));
    assert_eq!(
        duration.as_deref(),
        Some("invalid duration \"10\": missing unit, e.g. \"10s\" at line 1 column 2")
    );
    let size = err(serde_json::from_str::<ByteSize>("-5").map(drop));
    assert!(size.is_some_and(|m| m.starts_with("invalid size \"-5\": negative")));
    let cpus = err(serde_json::from_str::<Cpus>("true").map(drop));
    assert!(cpus.is_some_and(|m| m.contains("a number of CPUs such as 0.5")));
    let big = err(serde_json::from_str::<ByteSize>("18446744073709551615").map(drop));
    assert!(big.is_some_and(|m| m.contains("too large")));
}

#[test]
fn schemas_declare_their_format() {
    let mut generator = SchemaGenerator::default();
    let cases = [
        (Duration::json_schema(&mut generator), "duration", "string"),
        (ByteSize::json_schema(&mut generator), "bytes", "integer"),
        (Cpus::json_schema(&mut generator), "cpus", "number"),
    ];
    for (schema, format, kind) in cases {
        let value = schema.as_value();
        assert_eq!(value["format"], format);
        assert!(value["pattern"].is_string());
        assert!(value["type"].to_string().contains(kind), "{value}");
    }
}

#[test]
fn check_format_runs_the_right_parser() {
    assert_eq!(check_format("duration", "1m"), Some(Ok(())));
    assert_eq!(check_format("bytes", "1g"), Some(Ok(())));
    assert_eq!(check_format("cpus", "0.5"), Some(Ok(())));
    assert!(matches!(
        check_format("duration", "10"),
        Some(Err(Error::MissingDurationUnit { .. }))
    ));
    assert!(matches!(
        check_format("bytes", "1x"),
        Some(Err(Error::UnknownByteUnit { .. }))
    ));
    assert!(matches!(
        check_format("cpus", "-1"),
        Some(Err(Error::NegativeCpus { .. }))
    ));
    assert_eq!(check_format("email", "x"), None);
}

/// Whether the schema pattern accepts `value`; anchored patterns, so `is_match` suffices.
fn pattern_accepts(pattern: &str, value: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(value))
}

#[test]
fn patterns_compile() {
    for pattern in [DURATION_PATTERN, BYTES_PATTERN, CPUS_PATTERN] {
        assert!(regex::Regex::new(pattern).is_ok(), "{pattern}");
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC*") {
        let _ = parse_duration(&s);
        let _ = parse_byte_size(&s);
        let _ = parse_cpus(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(s in "[-+0-9. a-zA-Zµμ]{0,12}") {
        let _ = parse_duration(&s);
        let _ = parse_byte_size(&s);
        let _ = parse_cpus(&s);
    }

    #[test]
    fn duration_display_round_trips(n in 0..=i64::MAX as u64) {
        let value = Duration(Std::from_nanos(n));
        prop_assert_eq!(value.to_string().parse::<Duration>(), Ok(value));
    }

    #[test]
    fn whole_second_durations_round_trip(secs in 0..=9_223_372_036u64) {
        let value = Duration(Std::from_secs(secs));
        prop_assert_eq!(value.to_string().parse::<Duration>(), Ok(value));
    }

    #[test]
    fn byte_size_display_round_trips(n in 0..=i64::MAX as u64) {
        let value = ByteSize(n);
        prop_assert_eq!(value.to_string().parse::<ByteSize>(), Ok(value));
    }

    #[test]
    fn unit_multiple_byte_sizes_round_trip(n in 0..=8_191u64, shift in 0..=5u32) {
        let value = ByteSize(n << (10 * shift));
        prop_assert_eq!(value.to_string().parse::<ByteSize>(), Ok(value));
    }

    #[test]
    fn cpus_display_round_trips(n in 0..=i64::MAX as u64) {
        let value = Cpus(n);
        prop_assert_eq!(value.to_string().parse::<Cpus>(), Ok(value));
    }

    #[test]
    fn small_cpus_round_trip(n in 0..=100_000_000_000u64) {
        let value = Cpus(n);
        prop_assert_eq!(value.to_string().parse::<Cpus>(), Ok(value));
    }

    #[test]
    fn duration_pattern_agrees_with_parser(s in "\\+?(0|([0-9]{0,3}\\.?[0-9]{0,3}(ns|us|µs|ms|s|m|h|d|x|)){1,3})") {
        let parsed = parse_duration(&s);
        let too_large = matches!(parsed, Err(Error::DurationTooLarge { .. }));
        prop_assume!(!too_large);
        prop_assert_eq!(pattern_accepts(DURATION_PATTERN, &s), parsed.is_ok(), "{}", s);
    }

    #[test]
    fn bytes_pattern_agrees_with_parser(s in "[-+]?[0-9]{0,4}(\\.[0-9]{0,4})?\\.? ?[bkmgtpxBKMGTPiI]{0,3}") {
        let parsed = parse_byte_size(&s);
        let too_large = matches!(parsed, Err(Error::ByteSizeTooLarge { .. }));
        prop_assume!(!too_large);
        prop_assert_eq!(pattern_accepts(BYTES_PATTERN, &s), parsed.is_ok(), "{}", s);
    }

    #[test]
    fn cpus_pattern_agrees_with_parser(s in "[-+]?[0-9]{0,4}(\\.[0-9]{0,12})?\\.?") {
        let parsed = parse_cpus(&s);
        let too_large = matches!(parsed, Err(Error::CpusTooLarge { .. }));
        prop_assume!(!too_large);
        prop_assert_eq!(pattern_accepts(CPUS_PATTERN, &s), parsed.is_ok(), "{}", s);
    }
}
