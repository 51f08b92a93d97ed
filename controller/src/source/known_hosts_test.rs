//! Tests of `known_hosts`.

use super::*;

// Real keys made with `ssh-keygen` (public halves only).
const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKAEw47OpMY/f5nf8YYciOdZSnY5MO79TlxbwSv151db";
const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIDoQQ9akk5wwL1bQEi2d1LrBxEI1K2hUflETLlCtgksO";
const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMhFNRzyCpVYQS7eKd7pi4H0JtCPKRTWM1oFqk4DpiYgUPQzvY8SuJa+WXQijAvbGmc4TR+/YpYLOEkCYjkl9Iw=";
const RSA: &str = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDdP2Y15FHbC7uDtDQn1XrxBVtChQRGGUjLmPxlgicP7TEuNWQbqZFgFZKuRispitG/Sva5IE3EeTdxyWY0F4VqNEcUna4LZatFy8sPZBNncRf1kMLGqZo2EDEnX0urW8we3meZFas62VDU6yqAszAm/ZYKrwlpUnrtCE5RURY99w==";
// `ssh-keygen -H` output for `git.example.com` and `[git.example.com]:2222`, both key ED_A.
const HASHED_22: &str = "|1|wSPmd1PGvrSbXpu9BZxTj4tepUY=|cIDa+SLMqz01muJC89SbAzGiKGI=";
const HASHED_2222: &str = "|1|s25Wxr4Z/l9lEcQBzRrwKc5pQKk=|1wVPAJLze+8hb4Vrz9GMLkeeoEY=";

fn key(b64: &str) -> Vec<u8> {
    BASE64.decode(b64).expect("valid base64")
}

struct Case {
    name: &'static str,
    file: String,
    host: &'static str,
    port: u16,
    key_type: &'static str,
    key: &'static str,
    want: HostKeyStatus,
}

fn case(
    name: &'static str,
    file: String,
    host: &'static str,
    port: u16,
    key: &'static str,
    want: HostKeyStatus,
) -> Case {
    let key_type = match key {
        ECDSA => "ecdsa-sha2-nistp256",
        RSA => "ssh-rsa",
        _ => "ssh-ed25519",
    };
    Case {
        name,
        file,
        host,
        port,
        key_type,
        key,
        want,
    }
}

fn cases() -> Vec<Case> {
    use HostKeyStatus::*;
    let ed_a = format!("ssh-ed25519 {ED_A}");
    vec![
        case(
            "plain match",
            format!("git.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "plain with comment",
            format!("git.example.com {ed_a} deploy@host\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "host is case-insensitive",
            format!("Git.Example.COM {ed_a}\n"),
            "GIT.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "different key same type",
            format!("git.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_B,
            Mismatch,
        ),
        case(
            "other host",
            format!("other.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "empty file",
            String::new(),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "only other key types known",
            format!("git.example.com ecdsa-sha2-nistp256 {ECDSA}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "one of several types matches",
            format!("git.example.com ecdsa-sha2-nistp256 {ECDSA}\ngit.example.com ssh-rsa {RSA}\n"),
            "git.example.com",
            22,
            RSA,
            Match,
        ),
        case(
            "rotated key: any line of the type may match",
            format!("git.example.com ssh-ed25519 {ED_B}\ngit.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "comma list",
            format!("alpha,git.example.com,10.0.0.1 {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "comma list by ip",
            format!("alpha,git.example.com,10.0.0.1 {ed_a}\n"),
            "10.0.0.1",
            22,
            ED_A,
            Match,
        ),
        case(
            "port entry",
            format!("[git.example.com]:2222 {ed_a}\n"),
            "git.example.com",
            2222,
            ED_A,
            Match,
        ),
        case(
            "port entry, wrong port",
            format!("[git.example.com]:2222 {ed_a}\n"),
            "git.example.com",
            2200,
            ED_A,
            Unknown,
        ),
        case(
            "plain entry does not cover other ports",
            format!("git.example.com {ed_a}\n"),
            "git.example.com",
            2222,
            ED_A,
            Unknown,
        ),
        case(
            "port entry does not cover 22",
            format!("[git.example.com]:2222 {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "star wildcard",
            format!("*.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "star wildcard, other domain",
            format!("*.example.com {ed_a}\n"),
            "git.example.org",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "question wildcard",
            format!("git?.example.com {ed_a}\n"),
            "git1.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "question needs one char",
            format!("git?.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "wildcard inside port brackets",
            format!("[*.example.com]:2222 {ed_a}\n"),
            "git.example.com",
            2222,
            ED_A,
            Match,
        ),
        case(
            "negation excludes",
            format!("*.example.com,!git.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "negation first still excludes",
            format!("!git.example.com,*.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "negation spares others",
            format!("*.example.com,!git.example.com {ed_a}\n"),
            "ci.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "negation alone matches nothing",
            format!("!other.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "hashed",
            format!("{HASHED_22} {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "hashed mismatch",
            format!("{HASHED_22} {ed_a}\n"),
            "git.example.com",
            22,
            ED_B,
            Mismatch,
        ),
        case(
            "hashed other host",
            format!("{HASHED_22} {ed_a}\n"),
            "gitx.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "hashed with port",
            format!("{HASHED_2222} {ed_a}\n"),
            "git.example.com",
            2222,
            ED_A,
            Match,
        ),
        case(
            "hashed port entry does not cover 22",
            format!("{HASHED_2222} {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "hashed garbage",
            format!("|1|!!|!! {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "revoked wins over a match",
            format!("git.example.com {ed_a}\n@revoked * {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Revoked,
        ),
        case(
            "revoked for another key does not matter",
            format!("git.example.com {ed_a}\n@revoked * ssh-ed25519 {ED_B}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "revoked for another host",
            format!("@revoked other.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "revoked alone",
            format!("@revoked git.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Revoked,
        ),
        case(
            "cert-authority ignored",
            format!("@cert-authority *.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "unknown marker skipped",
            format!("@future git.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "comments, blanks and junk skipped",
            format!(
                "# a comment\n\n   \ngarbage\ngit.example.com ssh-ed25519 not-base64!\ngit.example.com {ed_a}\n"
            ),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "indented line",
            format!("   git.example.com {ed_a}\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
        case(
            "type must agree",
            format!("git.example.com ssh-rsa {ED_A}\n"),
            "git.example.com",
            22,
            ED_A,
            Unknown,
        ),
        case(
            "crlf line endings",
            format!("git.example.com {ed_a}\r\n"),
            "git.example.com",
            22,
            ED_A,
            Match,
        ),
    ]
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for c in cases() {
        let got = check(&c.file, c.host, c.port, c.key_type, &key(c.key));
        if got != c.want {
            failures.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn host_strings() {
    assert_eq!(host_string("Example.com", 22), "example.com");
    assert_eq!(host_string("example.com", 2222), "[example.com]:2222");
}

#[test]
fn wildcards() {
    for (pattern, text, want) in [
        ("*", "", true),
        ("*", "anything", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("*.*.com", "a.b.com", true),
        ("?", "", false),
        ("??", "ab", true),
        ("abc", "abcd", false),
        ("**", "x", true),
    ] {
        assert_eq!(wildcard_match(pattern, text), want, "{pattern} vs {text}");
    }
}

#[test]
fn blob_types() {
    assert_eq!(blob_key_type(&key(ED_A)), Some("ssh-ed25519"));
    assert_eq!(blob_key_type(&key(ECDSA)), Some("ecdsa-sha2-nistp256"));
    assert_eq!(blob_key_type(&key(RSA)), Some("ssh-rsa"));
    assert_eq!(blob_key_type(&[0, 0]), None);
    assert_eq!(blob_key_type(&[0, 0, 0, 9, b'a']), None);
    assert_eq!(blob_key_type(&[0xff, 0xff, 0xff, 0xff]), None);
}

#[test]
fn git2_key_types() {
    use git2::cert::SshHostKeyType as Kind;
    assert_eq!(key_type_name(Kind::Ed255219), Some("ssh-ed25519"));
    assert_eq!(key_type_name(Kind::Rsa), Some("ssh-rsa"));
    assert_eq!(key_type_name(Kind::Ecdsa256), Some("ecdsa-sha2-nistp256"));
    assert_eq!(key_type_name(Kind::Ecdsa384), Some("ecdsa-sha2-nistp384"));
    assert_eq!(key_type_name(Kind::Ecdsa521), Some("ecdsa-sha2-nistp521"));
    assert_eq!(key_type_name(Kind::Unknown), None);
}

/// Keys made now by `ssh-keygen`, hashed by `ssh-keygen -H`: checks we agree with OpenSSH
/// on the hash input, not just with our own fixtures.
#[test]
fn agrees_with_ssh_keygen() {
    let Some(dir) = tempfile::tempdir().ok() else {
        return;
    };
    let key_path = dir.path().join("host");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&key_path)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("ssh-keygen unavailable; skipping");
        return;
    }
    let public = std::fs::read_to_string(key_path.with_extension("pub")).expect("read fixture");
    let mut fields = public.split_whitespace();
    let (kind, blob) = (
        fields.next().expect("test setup"),
        key(fields.next().expect("test setup")),
    );
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, format!("[h.example]:2022 {public}")).expect("write fixture");
    let hashed = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known)
        .output()
        .expect("test setup");
    assert!(hashed.status.success());
    let text = std::fs::read_to_string(&known).expect("read fixture");
    assert!(text.starts_with("|1|"), "{text}");
    assert_eq!(
        check(&text, "h.example", 2022, kind, &blob),
        HostKeyStatus::Match
    );
    assert_eq!(
        check(&text, "h.example", 22, kind, &blob),
        HostKeyStatus::Unknown
    );
}
