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
#[path = "units_test.rs"]
mod tests;
