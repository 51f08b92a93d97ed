//! Small text encodings for fingerprints and join tokens: lowercase hex and CRC-32.
//!
//! Hand-written because they are a few lines each and the token format must be strict in ways
//! general-purpose crates are not (lowercase only, so a changed letter case is a changed token).

/// The hex digits used everywhere in the PKI: lowercase only.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Encodes bytes as lowercase hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The value of one lowercase hex digit, or `None` for anything else (uppercase included).
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes of lowercase hex. Returns the index of the first bad character,
/// or `None` as the index when the length is wrong.
pub(crate) fn hex_decode<const N: usize>(text: &str) -> Result<[u8; N], Option<usize>> {
    let bytes = text.as_bytes();
    if let Some(bad) = bytes.iter().position(|&c| hex_value(c).is_none()) {
        return Err(Some(bad));
    }
    if bytes.len() != N * 2 {
        return Err(None);
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        // Both digits were checked above.
        *slot = (hex_value(pair[0]).unwrap_or(0) << 4) | hex_value(pair[1]).unwrap_or(0);
    }
    Ok(out)
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), computed bit by bit: tokens are short,
/// so a table is not worth it. A CRC-32 detects every error burst up to 32 bits long, hence
/// every single changed character, which a truncated hash would only do with high probability.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The check value every CRC-32/ISO-HDLC implementation must produce for "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn hex_round_trips_and_rejects_uppercase() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        let text = hex_encode(&bytes);
        assert_eq!(text, "007fabff");
        assert_eq!(hex_decode::<4>(&text), Ok(bytes));
        assert_eq!(hex_decode::<4>("007FABFF"), Err(Some(3)));
        assert_eq!(hex_decode::<4>("007fab"), Err(None));
    }
}
