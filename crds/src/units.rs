//! Scalars that Docker and Compose write with units: durations (`1m30s`), byte sizes (`512m`)
//! and CPU counts (`0.5`).
//!
//! This module owns how these values are parsed (following Docker's own parsers, so a file
//! that passes here deploys the same way), how they are displayed, their serde form and their
//! JSON schema. The schemas carry a custom `format` keyword; [`check_format`] runs the matching
//! parser so a schema validator can report format errors with this module's messages.
//!
//! All three types are capped at `i64::MAX` of their base unit (nanoseconds, bytes, nano-CPUs)
//! because Docker stores them as signed 64-bit integers; larger values would wrap on the way to
//! the engine.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `format` keyword of the [`Duration`] schema.
pub const DURATION_FORMAT: &str = "duration";
/// The `format` keyword of the [`ByteSize`] schema.
pub const BYTES_FORMAT: &str = "bytes";
/// The `format` keyword of the [`Cpus`] schema.
pub const CPUS_FORMAT: &str = "cpus";

/// Docker keeps nanoseconds, bytes and nano-CPUs in `int64`, so nothing above this fits.
const MAX_VALUE: u64 = i64::MAX as u64;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// ECMA-262 pattern for the string form of [`Duration`]; mirrors [`parse_duration`] except for
/// the upper bound.
const DURATION_PATTERN: &str = r"^\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";
/// ECMA-262 pattern for the string form of [`ByteSize`]; mirrors [`parse_byte_size`] except for
/// the upper bound.
const BYTES_PATTERN: &str =
    r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+) ?([bB]|[kKmMgGtTpP]([bB]|[iI][bB])?)?$";
/// ECMA-262 pattern for the string form of [`Cpus`]; mirrors [`parse_cpus`] except for the
/// upper bound. Trailing zeros past the ninth decimal are allowed because they add no precision.
const CPUS_PATTERN: &str = r"^\+?([0-9]+(\.[0-9]{0,9}0*)?|\.[0-9]{1,9}0*)$";

/// Why a duration, byte size or CPU count could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A duration is empty or is not a sequence of numbers each followed by a unit.
    #[error(
        "invalid duration {input:?}: expected numbers each followed by a unit \
         (ns, us, ms, s, m, h), e.g. \"1m30s\", \"500ms\" or \"1.5h\""
    )]
    MalformedDuration {
        /// The text as written.
        input: String,
    },
    /// A duration ends in a number without a unit, e.g. `"10"` or `"1m30"`.
    #[error("invalid duration {input:?}: missing unit, e.g. \"{input}s\"")]
    MissingDurationUnit {
        /// The text as written.
        input: String,
    },
    /// A duration uses a unit Go's `time.ParseDuration` does not know, e.g. `"1d"` or `"5sec"`.
    #[error(
        "invalid duration {input:?}: unknown unit {unit:?}; valid units are ns, us (or µs), \
         ms, s, m and h, e.g. \"1h30m\""
    )]
    UnknownDurationUnit {
        /// The text as written.
        input: String,
        /// The unit that was not recognised.
        unit: String,
    },
    /// A duration starts with `-`; no Compose field takes a negative duration.
    #[error(
        "invalid duration {input:?}: negative durations are not allowed; \
         use 0 or a positive value such as \"30s\""
    )]
    NegativeDuration {
        /// The text as written.
        input: String,
    },
    /// A duration is longer than Docker can store (about 292 years).
    #[error("invalid duration {input:?}: too long; the maximum is \"2562047h47m16.854775807s\"")]
    DurationTooLarge {
        /// The text as written.
        input: String,
    },
    /// A byte size is empty or does not start with a number.
    #[error(
        "invalid size {input:?}: expected a number with an optional unit (b, k, m, g, t, p), \
         e.g. \"512m\", \"1.5g\" or \"1048576\""
    )]
    MalformedByteSize {
        /// The text as written.
        input: String,
    },
    /// A byte size has a unit other than b, k, m, g, t, p (each optionally followed by `b` or
    /// `ib`), e.g. `"5x"` or `"1gig"`.
    #[error(
        "invalid size {input:?}: unknown unit {unit:?}; valid units are b, k, m, g, t and p, \
         optionally followed by b or ib (case does not matter), e.g. \"512m\" or \"2GiB\""
    )]
    UnknownByteUnit {
        /// The text as written.
        input: String,
        /// The unit that was not recognised.
        unit: String,
    },
    /// A byte size is negative.
    #[error(
        "invalid size {input:?}: negative sizes are not allowed; \
         use a number of bytes or a size such as \"512m\""
    )]
    NegativeByteSize {
        /// The text as written.
        input: String,
    },
    /// A byte size is larger than Docker can store.
    #[error(
        "invalid size {input:?}: too large; the maximum is 9223372036854775807 bytes \
         (just under 8192p)"
    )]
    ByteSizeTooLarge {
        /// The text as written.
        input: String,
    },
    /// A CPU count is empty or is not a plain decimal number (exponents and fractions like
    /// `1/2` are not accepted either).
    #[error(
        "invalid cpus {input:?}: expected a decimal number of CPUs, e.g. \"0.5\", \"2\" or \"1.25\""
    )]
    MalformedCpus {
        /// The text as written.
        input: String,
    },
    /// A CPU count is negative.
    #[error(
        "invalid cpus {input:?}: negative CPU counts are not allowed; \
         use 0 (no limit) or a positive number such as \"0.5\""
    )]
    NegativeCpus {
        /// The text as written.
        input: String,
    },
    /// A CPU count has a non-zero digit after the ninth decimal place.
    #[error(
        "invalid cpus {input:?}: too precise; Docker counts in billionths of a CPU, \
         so use at most 9 decimal places, e.g. \"0.000000001\""
    )]
    CpusTooPrecise {
        /// The text as written.
        input: String,
    },
    /// A CPU count is larger than Docker can store.
    #[error("invalid cpus {input:?}: too large; the maximum is 9223372036.854775807")]
    CpusTooLarge {
        /// The text as written.
        input: String,
    },
}

/// A duration written the way Go's `time.ParseDuration` reads it (`1m30s`, `500ms`, `1.5h`).
///
/// Displays in a compact form of Go's canonical syntax: zero hours, minutes or seconds are left
/// out (`1h` where Go writes `1h0m0s`, `1h5s`, `1m30.5s`), and durations under a second use the
/// largest unit that keeps the integer part non-zero (`500ms`, `1.5µs`, `10ns`). Zero is `0s`.
/// Every displayed value up to Docker's maximum parses back to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

/// A number of bytes written the way Docker's `RAMInBytes` reads it (`512m`, `1.5g`, `1024`).
///
/// Displays as the largest binary unit that divides the value exactly (`512M`, `1536M`,
/// `1G`), or as plain bytes when none does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// A CPU count in billionths of a CPU, as Docker's `--cpus` and Compose's `cpus` store it
/// (`"0.5"` is `500_000_000`). Zero means "no limit" to Docker.
///
/// Displays as the shortest decimal (`0.5`, `2`, `0.001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cpus(pub u64);

/// Parses a Go-style duration such as `1m30s`, `500ms` or `1.5h`.
///
/// Follows `time.ParseDuration`: numbers may have a fraction, units are `ns`, `us` (or `µs`),
/// `ms`, `s`, `m` and `h`, a bare `0` means zero and a leading `+` is allowed. Unlike Go,
/// negative durations (anything starting with `-`) are rejected, since no Compose field takes
/// them. Fractions finer than a nanosecond are truncated, as in Go.
pub fn parse_duration(input: &str) -> Result<std::time::Duration, Error> {
    if input.starts_with('-') {
        return Err(Error::NegativeDuration {
            input: input.to_owned(),
        });
    }
    let body = input.strip_prefix('+').unwrap_or(input);
    if body == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if body.is_empty() {
        return Err(malformed_duration(input));
    }
    let mut nanos = 0u64;
    let mut rest = body;
    while !rest.is_empty() {
        let (number, after_number) =
            Decimal::split(rest).ok_or_else(|| malformed_duration(input))?;
        let (unit, after_unit) = split_unit(after_number);
        let scale = duration_unit_scale(input, unit, after_unit)?;
        nanos = number
            .times(scale)
            .and_then(|n| n.checked_add(nanos))
            .filter(|n| *n <= MAX_VALUE)
            .ok_or_else(|| Error::DurationTooLarge {
                input: input.to_owned(),
            })?;
        rest = after_unit;
    }
    Ok(std::time::Duration::from_nanos(nanos))
}

/// Parses a byte size the way Docker's `RAMInBytes` does: `512m`, `1.5g`, `2GiB`, `1024`.
///
/// The number may have a fraction and may be followed by one space and a case-insensitive unit:
/// `b`, or `k`, `m`, `g`, `t`, `p` optionally followed by `b` or `ib`. All multipliers are
/// binary (`1k` is 1024). Fractional bytes are truncated, as Docker does (`1.5` is 1 byte).
pub fn parse_byte_size(input: &str) -> Result<u64, Error> {
    let body = input.strip_prefix('+').unwrap_or(input);
    let Some((number, rest)) = Decimal::split(body) else {
        return Err(if is_negative_number(input) {
            Error::NegativeByteSize {
                input: input.to_owned(),
            }
        } else {
            Error::MalformedByteSize {
                input: input.to_owned(),
            }
        });
    };
    let suffix = rest.strip_prefix(' ').unwrap_or(rest);
    let unit = byte_unit(suffix).ok_or_else(|| Error::UnknownByteUnit {
        input: input.to_owned(),
        unit: suffix.to_owned(),
    })?;
    number.times(unit).ok_or_else(|| Error::ByteSizeTooLarge {
        input: input.to_owned(),
    })
}

/// Parses a CPU count such as `0.5` or `2` into billionths of a CPU.
///
/// Only plain decimals are accepted (Docker also takes `1/2` and `5e-1`; Compose files do not
/// use them). Digits past the ninth decimal place must be zero, as Docker requires the result
/// to be a whole number of nano-CPUs.
pub fn parse_cpus(input: &str) -> Result<u64, Error> {
    let body = input.strip_prefix('+').unwrap_or(input);
    match Decimal::split(body) {
        Some((number, "")) => {
            if number.frac.bytes().skip(9).any(|d| d != b'0') {
                return Err(Error::CpusTooPrecise {
                    input: input.to_owned(),
                });
            }
            number
                .times(NANOS_PER_SEC)
                .ok_or_else(|| Error::CpusTooLarge {
                    input: input.to_owned(),
                })
        }
        _ if is_negative_number(input) => Err(Error::NegativeCpus {
            input: input.to_owned(),
        }),
        _ => Err(Error::MalformedCpus {
            input: input.to_owned(),
        }),
    }
}

/// Runs the parser behind a schema `format` keyword on a string value.
///
/// Returns `None` when `format` is not one this module defines ([`DURATION_FORMAT`],
/// [`BYTES_FORMAT`], [`CPUS_FORMAT`]), so the caller can fall back to other checks.
pub fn check_format(format: &str, value: &str) -> Option<Result<(), Error>> {
    let result = match format {
        DURATION_FORMAT => parse_duration(value).map(drop),
        BYTES_FORMAT => parse_byte_size(value).map(drop),
        CPUS_FORMAT => parse_cpus(value).map(drop),
        _ => return None,
    };
    Some(result)
}

fn malformed_duration(input: &str) -> Error {
    Error::MalformedDuration {
        input: input.to_owned(),
    }
}

/// Splits the unit off the front of `s`: Go takes every character up to the next number.
fn split_unit(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Nanoseconds per `unit`; `after` is what follows the unit, to tell a trailing bare number
/// (worth a "missing unit" hint) from a stray `.` in the middle.
fn duration_unit_scale(input: &str, unit: &str, after: &str) -> Result<u64, Error> {
    let scale = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        "" if after.is_empty() => {
            return Err(Error::MissingDurationUnit {
                input: input.to_owned(),
            });
        }
        "" => return Err(malformed_duration(input)),
        _ => {
            return Err(Error::UnknownDurationUnit {
                input: input.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    Ok(scale)
}

/// Bytes per unit suffix, case-insensitively; `None` for anything Docker rejects.
fn byte_unit(suffix: &str) -> Option<u64> {
    let lower = suffix.to_ascii_lowercase();
    let (letter, tail) = match lower.as_bytes() {
        [] => return Some(1),
        [letter, tail @ ..] => (*letter, tail),
    };
    if letter == b'b' {
        return tail.is_empty().then_some(1);
    }
    let power = match letter {
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        _ => return None,
    };
    matches!(tail, [] | [b'b'] | [b'i', b'b']).then_some(1 << (10 * power))
}

/// Whether `input` is a minus sign followed by something that would otherwise parse, so the
/// error can say "negative" instead of "malformed".
fn is_negative_number(input: &str) -> bool {
    input.strip_prefix('-').and_then(Decimal::split).is_some()
}

/// A non-negative decimal number as written: the digits before and after the point.
#[derive(Debug, Clone, Copy)]
struct Decimal<'a> {
    whole: &'a str,
    frac: &'a str,
}

impl<'a> Decimal<'a> {
    /// Splits the longest decimal number off the front of `s` (`12`, `1.5`, `.5`, `5.`), the
    /// forms Go's parsers accept; `None` when `s` does not start with one.
    fn split(s: &'a str) -> Option<(Self, &'a str)> {
        let whole_len = digits_len(s);
        let (whole, after_whole) = s.split_at(whole_len);
        let (frac, rest) = match after_whole.strip_prefix('.') {
            Some(after_point) => after_point.split_at(digits_len(after_point)),
            None => ("", after_whole),
        };
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        Some((Decimal { whole, frac }, rest))
    }

    /// `self × unit`, rounded down, or `None` when that exceeds [`MAX_VALUE`].
    ///
    /// Exact for any number of digits: the fraction is folded from its last digit, and
    /// `floor((d·unit + floor(x)) / 10) == floor((d·unit + x) / 10)` keeps every step exact.
    fn times(self, unit: u64) -> Option<u64> {
        let unit = u128::from(unit);
        let whole = self.whole.bytes().try_fold(0u128, |acc, d| {
            let next = acc * 10 + u128::from(d - b'0');
            (next <= u128::from(MAX_VALUE)).then_some(next)
        })?;
        let frac = self
            .frac
            .bytes()
            .rev()
            .fold(0u128, |acc, d| (acc + u128::from(d - b'0') * unit) / 10);
        u64::try_from(whole * unit + frac)
            .ok()
            .filter(|n| *n <= MAX_VALUE)
    }
}

fn digits_len(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Writes `whole.frac` with `frac` zero-padded to `digits` places and trailing zeros dropped.
fn write_decimal(f: &mut fmt::Formatter<'_>, whole: u64, frac: u64, digits: usize) -> fmt::Result {
    write!(f, "{whole}")?;
    if frac == 0 {
        return Ok(());
    }
    let padded = format!("{frac:0digits$}");
    write!(f, ".{}", padded.trim_end_matches('0'))
}

fn write_sub_second(f: &mut fmt::Formatter<'_>, nanos: u64) -> fmt::Result {
    match nanos {
        0 => f.write_str("0s"),
        1..1_000 => write!(f, "{nanos}ns"),
        1_000..1_000_000 => {
            write_decimal(f, nanos / 1_000, nanos % 1_000, 3)?;
            f.write_str("µs")
        }
        _ => {
            write_decimal(f, nanos / 1_000_000, nanos % 1_000_000, 6)?;
            f.write_str("ms")
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let nanos = u64::from(self.0.subsec_nanos());
        if secs == 0 {
            return write_sub_second(f, nanos);
        }
        let (hours, minutes, seconds) = (secs / 3_600, secs / 60 % 60, secs % 60);
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        if seconds > 0 || nanos > 0 {
            write_decimal(f, seconds, nanos, 9)?;
            f.write_str("s")?;
        }
        Ok(())
    }
}

/// Binary units from largest to smallest, for [`ByteSize`]'s display.
const BYTE_UNITS: [(u64, &str); 5] = [
    (1 << 50, "P"),
    (1 << 40, "T"),
    (1 << 30, "G"),
    (1 << 20, "M"),
    (1 << 10, "K"),
];

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        let unit = BYTE_UNITS
            .iter()
            .find(|(size, _)| bytes != 0 && bytes.is_multiple_of(*size));
        match unit {
            Some((size, letter)) => write!(f, "{}{letter}", bytes / size),
            None => write!(f, "{bytes}"),
        }
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal(f, self.0 / NANOS_PER_SEC, self.0 % NANOS_PER_SEC, 9)
    }
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_duration(s).map(Duration)
    }
}

impl FromStr for ByteSize {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_byte_size(s).map(ByteSize)
    }
}

impl FromStr for Cpus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_cpus(s).map(Cpus)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Deserializes a unit type from a string or a number by running its text parser on the
/// number's decimal form, so a YAML `10` for a duration gets the same "missing unit" message as
/// the string `"10"`.
struct TextVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, Error>,
}

impl<T> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // Rust prints floats in their shortest exact decimal form without exponent, which is
        // what the user most likely wrote.
        self.visit_str(&v.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor {
            expecting: "a duration such as \"1m30s\" or \"500ms\"",
            parse: |s| parse_duration(s).map(Duration),
        })
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor {
            expecting: "a byte size such as \"512m\" or a number of bytes",
            parse: |s| parse_byte_size(s).map(ByteSize),
        })
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor {
            expecting: "a number of CPUs such as 0.5 or \"2\"",
            parse: |s| parse_cpus(s).map(Cpus),
        })
    }
}

// The schemas are inlined: they are small, and editors show the description and examples
// right at the field instead of behind a `$ref`.

impl JsonSchema for Duration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Duration").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": DURATION_FORMAT,
            "pattern": DURATION_PATTERN,
            "description": "A duration: numbers each followed by a unit (ns, us, ms, s, m, h), \
                            e.g. \"1m30s\", \"500ms\" or \"1.5h\". \"0\" means zero.",
            "examples": ["30s", "1m30s", "500ms"],
        })
    }
}

impl JsonSchema for ByteSize {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::ByteSize").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "integer"],
            "format": BYTES_FORMAT,
            "pattern": BYTES_PATTERN,
            "minimum": 0,
            "maximum": MAX_VALUE,
            "description": "A size in bytes: a number of bytes, or a number with a unit \
                            b, k, m, g, t or p (binary: 1k = 1024), e.g. \"512m\" or \"1.5g\".",
            "examples": ["512m", "1.5g", 1_073_741_824],
        })
    }
}

impl JsonSchema for Cpus {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Cpus".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Cpus").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number"],
            "format": CPUS_FORMAT,
            "pattern": CPUS_PATTERN,
            "minimum": 0,
            "description": "A number of CPUs with at most 9 decimal places, e.g. 0.5 or \"2\"; \
                            0 means no limit.",
            "examples": ["0.5", 2],
        })
    }
}

#[cfg(test)]
mod tests {
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
}
