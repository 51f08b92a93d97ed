//! Parsing of join token text, field by field, so each mistake gets its own message.
//!
//! Order of checks: prefix, version (so a future format with other fields is reported as a
//! version problem), field count, each field's characters and length, and last the checksum,
//! which catches any remaining single-character change.

use crds::node::NodeRole;

use super::encoding::{crc32, hex_decode};
use super::token::{Error, JoinToken, TOKEN_PREFIX, TOKEN_VERSION, from_parts};

/// One `-`-separated field and where it starts in the token (0-based byte offset).
struct Field<'a> {
    text: &'a str,
    offset: usize,
}

/// Parses a trimmed token; see [`super::token`] for the format.
pub(crate) fn parse(token: &str) -> Result<JoinToken, Error> {
    let prefix_len = TOKEN_PREFIX.len() + 1;
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.strip_prefix('-'))
        .ok_or(Error::WrongPrefix)?;
    let fields = split_fields(body, prefix_len);
    let Some(version) = fields.first() else {
        return Err(Error::WrongFieldCount { found: 1 });
    };
    if version.text != TOKEN_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version.text.to_owned(),
        });
    }
    let [_, fingerprint, role, secret, checksum] = fields.as_slice() else {
        return Err(Error::WrongFieldCount {
            found: fields.len() + 1,
        });
    };
    let ca_fingerprint = hex_field::<32>(fingerprint, "CA fingerprint")?;
    let role = role_field(role)?;
    let secret = hex_field::<16>(secret, "secret")?;
    let expected = u32::from_be_bytes(hex_field::<4>(checksum, "checksum")?);
    // The checksum covers everything before its own '-'.
    let signed = &token[..checksum.offset - 1];
    if crc32(signed.as_bytes()) != expected {
        return Err(Error::ChecksumMismatch);
    }
    Ok(from_parts(ca_fingerprint, role, secret))
}

fn split_fields(body: &str, mut offset: usize) -> Vec<Field<'_>> {
    body.split('-')
        .map(|text| {
            let field = Field { text, offset };
            offset += text.len() + 1;
            field
        })
        .collect()
}

/// Decodes a lowercase hex field of exactly `N` bytes, reporting bad characters by position.
fn hex_field<const N: usize>(field: &Field<'_>, name: &'static str) -> Result<[u8; N], Error> {
    hex_decode::<N>(field.text).map_err(|bad| match bad {
        Some(index) => Error::BadCharacter {
            field: name,
            position: field.offset + char_index(field.text, index) + 1,
        },
        None => Error::BadLength {
            field: name,
            expected: N * 2,
            found: field.text.chars().count(),
        },
    })
}

/// Converts a byte index into a character index, so positions are right for pasted non-ASCII.
fn char_index(text: &str, byte_index: usize) -> usize {
    text.char_indices()
        .take_while(|(at, _)| *at < byte_index)
        .count()
}

fn role_field(field: &Field<'_>) -> Result<NodeRole, Error> {
    match field.text {
        "m" => Ok(NodeRole::Manager),
        "w" => Ok(NodeRole::Worker),
        other => Err(Error::UnknownRole {
            found: other.to_owned(),
        }),
    }
}
