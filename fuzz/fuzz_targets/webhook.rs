//! Fuzz the webhook's verification and push parsing (`controller::source::webhook::verify`):
//! the provider, an event name, a signature or token, and the body come from the input. Half
//! the inputs are signed with the configured secret so that the body parser is reached; the
//! other half must never verify unless they carry exactly the right signature.
#![no_main]

use controller::source::webhook::{Provider, Secrets, verify};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-webhook-secret";

/// `(event header, signature header, prefix)` of each provider.
const PROVIDERS: [(Provider, &str, &str, &str); 4] = [
    (Provider::GitHub, "x-github-event", "x-hub-signature-256", "sha256="),
    (Provider::GitLab, "x-gitlab-event", "x-gitlab-token", ""),
    (Provider::Gitea, "x-gitea-event", "x-gitea-signature", ""),
    (Provider::Generic, "x-reconciler-event", "x-reconciler-signature-256", "sha256="),
];

/// The header value that authenticates `body` for `provider`.
fn authentic(provider: Provider, prefix: &str, body: &[u8]) -> String {
    if provider == Provider::GitLab {
        return SECRET.to_owned();
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(body);
    format!("{prefix}{}", hex::encode(mac.finalize().into_bytes()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // `event \0 signature \0 body`; missing parts are empty.
    let mut parts = rest.splitn(3, |b| *b == 0);
    let event = parts.next().unwrap_or_default();
    let presented = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let (provider, event_header, signature_header, prefix) = PROVIDERS[usize::from(mode % 4)];
    let signed = mode & 0x10 != 0;
    let expected = authentic(provider, prefix, body);
    let signature = if signed {
        expected.clone().into_bytes()
    } else {
        presented.to_vec()
    };

    let mut headers = HeaderMap::new();
    if provider != Provider::Generic {
        // A push most of the time, anything else when bit 5 says so.
        let name = if mode & 0x20 != 0 {
            event
        } else if provider == Provider::GitLab {
            b"Push Hook".as_slice()
        } else {
            b"push".as_slice()
        };
        if let Ok(value) = HeaderValue::from_bytes(name) {
            headers.insert(event_header, value);
        }
    }
    if let Ok(value) = HeaderValue::from_bytes(&signature) {
        headers.insert(signature_header, value);
    }
    let secret = || Some(SECRET.to_owned().into());
    let secrets = Secrets {
        github: secret(),
        gitlab: secret(),
        gitea: secret(),
        generic: secret(),
    };

    let verified = verify(&headers, body, &secrets);
    let authentic_header = String::from_utf8_lossy(&signature).trim() == expected;
    if !authentic_header {
        assert!(verified.is_err(), "verified without the right signature: {verified:?}");
    }
    if let Ok(push) = verified
        && let Some(after) = push.after
    {
        assert!(after.bytes().any(|b| b != b'0'), "the null sha counts as no commit");
    }
});
