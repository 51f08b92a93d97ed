//! Tests of join tokens: format, round trips, every single-character change, roles, rotation,
//! and that the secret stays out of `Debug`.

use super::*;

const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_FP: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn token(role: NodeRole) -> JoinToken {
    JoinToken::generate(FP, role).expect("fixed fingerprint is valid")
}

/// The secret field of a token's text.
fn secret_of(token: &JoinToken) -> String {
    token
        .to_string()
        .split('-')
        .nth(4)
        .expect("token has a secret field")
        .to_owned()
}

#[test]
fn display_has_the_documented_shape() {
    let text = token(NodeRole::Worker).to_string();
    let fields: Vec<&str> = text.split('-').collect();
    assert_eq!(fields.len(), 6, "{text}");
    assert_eq!(fields[0], "RCNTKN");
    assert_eq!(fields[1], "1");
    assert_eq!(fields[2], FP);
    assert_eq!(fields[3], "w");
    assert_eq!(fields[4].len(), 32, "128-bit secret in hex");
    assert_eq!(fields[5].len(), 8, "CRC-32 in hex");
    assert_eq!(text.len(), 117);
}

#[test]
fn parse_round_trips_display() {
    for role in [NodeRole::Manager, NodeRole::Worker] {
        let original = token(role);
        let text = original.to_string();
        let parsed: JoinToken = text.parse().expect("issued token parses");
        assert_eq!(parsed.to_string(), text);
        assert_eq!(parsed.role(), role);
        assert_eq!(parsed.ca_fingerprint(), FP);
    }
}

#[test]
fn parse_ignores_surrounding_whitespace_only() {
    let text = token(NodeRole::Worker).to_string();
    assert!(format!("  {text}\n").parse::<JoinToken>().is_ok());
    let inner = format!("{} {}", &text[..20], &text[20..]);
    assert!(inner.parse::<JoinToken>().is_err());
}

#[test]
fn generated_secrets_differ() {
    assert_ne!(
        secret_of(&token(NodeRole::Worker)),
        secret_of(&token(NodeRole::Worker))
    );
}

#[test]
fn generate_refuses_a_malformed_fingerprint() {
    for bad in ["", "abc", &FP.to_uppercase(), &format!("{FP}00")] {
        assert!(matches!(
            JoinToken::generate(bad, NodeRole::Worker),
            Err(Error::InvalidFingerprint(_))
        ));
    }
}

#[test]
fn every_single_character_change_is_detected() {
    let store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    let text = store.current(NodeRole::Worker).to_string();
    let replacements: Vec<char> = ('!'..='~').chain([' ', 'é']).collect();
    let mut tried = 0;
    for (index, original) in text.char_indices() {
        for &replacement in replacements.iter().filter(|&&c| c != original) {
            let mut tampered = text.clone();
            tampered.replace_range(index..index + 1, replacement.encode_utf8(&mut [0; 4]));
            let accepted = tampered
                .parse::<JoinToken>()
                .is_ok_and(|parsed| store.verify(&parsed).is_ok());
            assert!(!accepted, "accepted {tampered} (changed position {index})");
            tried += 1;
        }
    }
    assert!(tried > 10_000, "only {tried} variants tried");
}

#[test]
fn a_changed_secret_digit_is_caught_by_the_checksum_before_any_manager() {
    let text = token(NodeRole::Worker).to_string();
    let at = text.len() - 12; // inside the secret
    let flipped = if &text[at..=at] == "0" { "1" } else { "0" };
    let mut tampered = text.clone();
    tampered.replace_range(at..=at, flipped);
    assert_eq!(
        tampered.parse::<JoinToken>().expect_err("must be refused"),
        Error::ChecksumMismatch
    );
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let text = token(NodeRole::Manager).to_string();
    let cases: Vec<(String, Error)> = vec![
        (text.replacen("RCNTKN", "SWMTKN", 1), Error::WrongPrefix),
        (
            text.replacen("RCNTKN-1-", "RCNTKN-2-", 1),
            Error::UnsupportedVersion { found: "2".into() },
        ),
        (
            text.replacen("-m-", "-", 1),
            Error::WrongFieldCount { found: 5 },
        ),
        (
            text.replacen("-m-", "-x-", 1),
            Error::UnknownRole { found: "x".into() },
        ),
        (
            text.replacen(FP, &FP[1..], 1),
            Error::BadLength {
                field: "CA fingerprint",
                expected: 64,
                found: 63,
            },
        ),
        (
            text.replacen(FP, &FP.replacen('a', "A", 1), 1),
            Error::BadCharacter {
                field: "CA fingerprint",
                position: 20,
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            input.parse::<JoinToken>().expect_err("must be refused"),
            expected,
            "{input}"
        );
    }
    let message = Error::BadCharacter {
        field: "secret",
        position: 80,
    }
    .to_string();
    assert!(message.contains("character 80"), "{message}");
}

#[test]
fn verify_accepts_the_current_tokens_and_returns_their_role() {
    let store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    for role in [NodeRole::Manager, NodeRole::Worker] {
        let text = store.current(role).to_string();
        assert_eq!(store.verify_str(&text), Ok(role));
    }
}

#[test]
fn a_worker_secret_does_not_grant_the_manager_role() {
    let store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    let worker = store.current(NodeRole::Worker);
    // Same CA and secret, role letter switched, checksum recomputed: a forged manager token.
    let forged = from_parts(
        hex_decode::<32>(FP).expect("valid hex"),
        NodeRole::Manager,
        hex_decode::<16>(&secret_of(worker)).expect("valid hex"),
    );
    assert_eq!(
        store.verify(&forged),
        Err(Error::Rejected {
            role: NodeRole::Manager
        })
    );
}

#[test]
fn a_token_for_another_cluster_is_rejected() {
    let store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    let foreign =
        JoinToken::generate(OTHER_FP, NodeRole::Worker).expect("fixed fingerprint is valid");
    let err = store.verify(&foreign).expect_err("must be refused");
    assert!(matches!(err, Error::WrongCluster { .. }), "{err}");
}

#[test]
fn rotation_invalidates_the_old_token_at_once() {
    let mut store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    let old_worker = store.current(NodeRole::Worker).clone();
    let manager = store.current(NodeRole::Manager).to_string();
    let new_worker = store.rotate(NodeRole::Worker).clone();
    assert_eq!(
        store.verify(&old_worker),
        Err(Error::Rejected {
            role: NodeRole::Worker
        })
    );
    assert_eq!(store.verify(&new_worker), Ok(NodeRole::Worker));
    assert_eq!(
        store.verify_str(&manager),
        Ok(NodeRole::Manager),
        "other role untouched"
    );
}

#[test]
fn debug_and_errors_do_not_reveal_the_secret() {
    let store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    for role in [NodeRole::Manager, NodeRole::Worker] {
        let token = store.current(role);
        let secret = secret_of(token);
        assert!(!format!("{token:?}").contains(&secret));
        assert!(!format!("{store:?}").contains(&secret));
        let err = store
            .verify(&JoinToken::generate(FP, role).expect("fixed fingerprint is valid"))
            .expect_err("must be refused");
        assert!(!format!("{err} {err:?}").contains(&secret));
    }
}

#[test]
fn store_serializes_as_token_strings() {
    let store = TokenStore::generate(FP).expect("fixed fingerprint is valid");
    let json = serde_json::to_string(&store).expect("JSON round trip");
    let back: TokenStore = serde_json::from_str(&json).expect("JSON round trip");
    for role in [NodeRole::Manager, NodeRole::Worker] {
        assert_eq!(
            back.current(role).to_string(),
            store.current(role).to_string()
        );
    }
    assert!(json.contains("RCNTKN-1-"));
}
