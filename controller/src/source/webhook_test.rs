//! Tests of webhook verification and the endpoint.
use std::io;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use tokio::sync::mpsc::{self, Receiver};
use tower::ServiceExt;

use super::*;

const GITHUB: &str = "github-secret";
const GITLAB: &str = "gitlab-token";
const GITEA: &str = "gitea-secret";
const GENERIC: &str = "generic-secret";
const SHA: &str = "1111111111111111111111111111111111111111";
const PUSH_MAIN: &str =
    r#"{"ref":"refs/heads/main","after":"1111111111111111111111111111111111111111"}"#;
const PUSH_DEV: &str =
    r#"{"ref":"refs/heads/dev","after":"2222222222222222222222222222222222222222"}"#;

fn secrets() -> Secrets {
    Secrets {
        github: Some(Secret::from(GITHUB.to_owned())),
        gitlab: Some(Secret::from(GITLAB.to_owned())),
        gitea: Some(Secret::from(GITEA.to_owned())),
        generic: Some(Secret::from(GENERIC.to_owned())),
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn header_map(pairs: &[(&str, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = header::HeaderName::from_bytes(name.as_bytes()).expect("header name");
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
    }
    headers
}

type Check = fn(&Result<PushEvent, Rejection>) -> bool;

struct Case {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    body: &'static str,
    secrets: Secrets,
    check: Check,
}

fn case(
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    body: &'static str,
    check: Check,
) -> Case {
    Case {
        name,
        headers,
        body,
        secrets: secrets(),
        check,
    }
}

fn run(cases: Vec<Case>) {
    for case in cases {
        let got = verify(
            &header_map(&case.headers),
            case.body.as_bytes(),
            &case.secrets,
        );
        assert!((case.check)(&got), "{}: got {got:?}", case.name);
    }
}

fn pushed_main(provider: Provider) -> impl Fn(&Result<PushEvent, Rejection>) -> bool {
    move |got| {
        got.as_ref().is_ok_and(|event| {
            event.provider == provider
                && event.reference.as_deref() == Some("refs/heads/main")
                && event.after.as_deref() == Some(SHA)
                && !event.ping
        })
    }
}

fn without(provider: Provider) -> Secrets {
    let mut secrets = secrets();
    match provider {
        Provider::GitHub => secrets.github = None,
        Provider::GitLab => secrets.gitlab = None,
        Provider::Gitea => secrets.gitea = None,
        Provider::Generic => secrets.generic = None,
    }
    secrets
}

fn github(event: &str, signature: String) -> Vec<(&'static str, String)> {
    vec![
        (GITHUB_EVENT, event.to_owned()),
        (GITHUB_SIGNATURE, signature),
    ]
}

fn good_github(body: &str) -> String {
    format!("sha256={}", sign(GITHUB, body.as_bytes()))
}

#[test]
fn verify_github() {
    let mut cases = vec![
        case(
            "good push",
            github("push", good_github(PUSH_MAIN)),
            PUSH_MAIN,
            |got| pushed_main(Provider::GitHub)(got),
        ),
        case(
            "uppercase hex",
            github(
                "push",
                good_github(PUSH_MAIN)
                    .to_uppercase()
                    .replace("SHA256=", "sha256="),
            ),
            PUSH_MAIN,
            |got| got.is_ok(),
        ),
        case("ping", github("ping", good_github("{}")), "{}", |got| {
            got.as_ref().is_ok_and(|event| event.ping)
        }),
        case(
            "bad signature",
            github(
                "push",
                format!("sha256={}", sign("wrong", PUSH_MAIN.as_bytes())),
            ),
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::BadSignature {
                        provider: Provider::GitHub
                    })
                )
            },
        ),
        case(
            "tampered body",
            github("push", good_github(PUSH_MAIN)),
            PUSH_DEV,
            |got| {
                matches!(
                    got,
                    Err(Rejection::BadSignature {
                        provider: Provider::GitHub
                    })
                )
            },
        ),
        case(
            "missing signature",
            vec![(GITHUB_EVENT, "push".to_owned())],
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::Unsigned {
                        provider: Some(Provider::GitHub)
                    })
                )
            },
        ),
        case(
            "sha1 prefix",
            github(
                "push",
                format!("sha1={}", sign(GITHUB, PUSH_MAIN.as_bytes())),
            ),
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::MalformedSignature {
                        provider: Provider::GitHub,
                        header: GITHUB_SIGNATURE
                    })
                )
            },
        ),
        case(
            "no prefix",
            github("push", sign(GITHUB, PUSH_MAIN.as_bytes())),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::MalformedSignature { .. })),
        ),
        case(
            "odd hex",
            github("push", format!("{}0", good_github(PUSH_MAIN))),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::MalformedSignature { .. })),
        ),
        case(
            "not hex",
            github("push", format!("sha256={}", "zz".repeat(32))),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::MalformedSignature { .. })),
        ),
        case(
            "short tag",
            github(
                "push",
                format!("sha256={}", &sign(GITHUB, PUSH_MAIN.as_bytes())[..32]),
            ),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::MalformedSignature { .. })),
        ),
        case(
            "other event",
            github("issues", good_github("{}")),
            "{}",
            |got| {
                matches!(
                    got,
                    Err(Rejection::Ignored {
                        provider: Provider::GitHub,
                        ..
                    })
                )
            },
        ),
        case(
            "malformed json",
            github("push", good_github("{not json")),
            "{not json",
            |got| {
                matches!(
                    got,
                    Err(Rejection::MalformedBody {
                        provider: Provider::GitHub,
                        category: "syntax",
                        ..
                    })
                )
            },
        ),
        case(
            "form-encoded body",
            github("push", good_github("payload=%7B%7D")),
            "payload=%7B%7D",
            |got| matches!(got, Err(Rejection::MalformedBody { .. })),
        ),
        case(
            "wrong field type",
            github("push", good_github(r#"{"ref":5}"#)),
            r#"{"ref":5}"#,
            |got| {
                matches!(
                    got,
                    Err(Rejection::MalformedBody {
                        category: "data",
                        ..
                    })
                )
            },
        ),
        case(
            "deleted branch",
            github(
                "push",
                good_github(
                    r#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#,
                ),
            ),
            r#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#,
            |got| got.as_ref().is_ok_and(|event| event.after.is_none()),
        ),
    ];
    let mut not_configured = case(
        "secret not configured",
        github("push", good_github(PUSH_MAIN)),
        PUSH_MAIN,
        |got| {
            matches!(
                got,
                Err(Rejection::NotConfigured {
                    provider: Provider::GitHub
                })
            )
        },
    );
    not_configured.secrets = without(Provider::GitHub);
    let mut empty = case(
        "empty secret",
        github("push", format!("sha256={}", sign("", PUSH_MAIN.as_bytes()))),
        PUSH_MAIN,
        |got| {
            matches!(
                got,
                Err(Rejection::NotConfigured {
                    provider: Provider::GitHub
                })
            )
        },
    );
    empty.secrets.github = Some(Secret::from(String::new()));
    cases.extend([not_configured, empty]);
    run(cases);
}

fn gitlab(event: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        (GITLAB_EVENT, event.to_owned()),
        (GITLAB_TOKEN, token.to_owned()),
    ]
}

#[test]
fn verify_gitlab() {
    let mut cases = vec![
        case("good push", gitlab("Push Hook", GITLAB), PUSH_MAIN, |got| {
            pushed_main(Provider::GitLab)(got)
        }),
        case(
            "tag push",
            gitlab("Tag Push Hook", GITLAB),
            r#"{"ref":"refs/tags/v1"}"#,
            |got| {
                got.as_ref()
                    .is_ok_and(|event| event.reference.as_deref() == Some("refs/tags/v1"))
            },
        ),
        case(
            "wrong token",
            gitlab("Push Hook", "nope"),
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::BadSignature {
                        provider: Provider::GitLab
                    })
                )
            },
        ),
        case(
            "token prefix",
            gitlab("Push Hook", &GITLAB[..5]),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::BadSignature { .. })),
        ),
        case(
            "another provider's secret",
            gitlab("Push Hook", GITHUB),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::BadSignature { .. })),
        ),
        case(
            "missing token",
            vec![(GITLAB_EVENT, "Push Hook".to_owned())],
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::Unsigned {
                        provider: Some(Provider::GitLab)
                    })
                )
            },
        ),
        // GitLab's token does not sign the body: a changed body with the right token passes.
        case(
            "token does not cover the body",
            gitlab("Push Hook", GITLAB),
            PUSH_DEV,
            |got| got.is_ok(),
        ),
        case(
            "merge request",
            gitlab("Merge Request Hook", GITLAB),
            "{}",
            |got| {
                matches!(
                    got,
                    Err(Rejection::Ignored {
                        provider: Provider::GitLab,
                        ..
                    })
                )
            },
        ),
        case("malformed json", gitlab("Push Hook", GITLAB), "[", |got| {
            matches!(
                got,
                Err(Rejection::MalformedBody {
                    category: "eof",
                    ..
                })
            )
        }),
    ];
    let mut not_configured = case(
        "secret not configured",
        gitlab("Push Hook", GITLAB),
        PUSH_MAIN,
        |got| {
            matches!(
                got,
                Err(Rejection::NotConfigured {
                    provider: Provider::GitLab
                })
            )
        },
    );
    not_configured.secrets = without(Provider::GitLab);
    cases.push(not_configured);
    run(cases);
}

fn gitea(event: &str, signature: String) -> Vec<(&'static str, String)> {
    vec![
        ("x-gitea-event", event.to_owned()),
        ("x-gitea-signature", signature),
    ]
}

#[test]
fn verify_gitea() {
    let good = || sign(GITEA, PUSH_MAIN.as_bytes());
    let mut cases = vec![
        case("good push", gitea("push", good()), PUSH_MAIN, |got| {
            pushed_main(Provider::Gitea)(got)
        }),
        case(
            "forgejo headers",
            vec![
                ("x-forgejo-event", "push".to_owned()),
                ("x-forgejo-signature", good()),
            ],
            PUSH_MAIN,
            |got| pushed_main(Provider::Gitea)(got),
        ),
        case(
            "bad signature",
            gitea("push", sign("wrong", PUSH_MAIN.as_bytes())),
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::BadSignature {
                        provider: Provider::Gitea
                    })
                )
            },
        ),
        case("tampered body", gitea("push", good()), PUSH_DEV, |got| {
            matches!(got, Err(Rejection::BadSignature { .. }))
        }),
        case(
            "missing signature",
            vec![("x-gitea-event", "push".to_owned())],
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::Unsigned {
                        provider: Some(Provider::Gitea)
                    })
                )
            },
        ),
        case(
            "sha256 prefix",
            gitea("push", format!("sha256={}", good())),
            PUSH_MAIN,
            |got| {
                matches!(
                    got,
                    Err(Rejection::MalformedSignature {
                        provider: Provider::Gitea,
                        ..
                    })
                )
            },
        ),
        case(
            "odd hex",
            gitea("push", format!("{}a", good())),
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::MalformedSignature { .. })),
        ),
        case(
            "other event",
            gitea("issues", sign(GITEA, b"{}")),
            "{}",
            |got| {
                matches!(
                    got,
                    Err(Rejection::Ignored {
                        provider: Provider::Gitea,
                        ..
                    })
                )
            },
        ),
    ];
    // Gitea also sends GitHub's headers; it must be checked against the Gitea secret.
    let mut compat = gitea("push", good());
    compat.extend(github("push", format!("sha256={}", good())));
    let mut compat = case("gitea with github headers", compat, PUSH_MAIN, |got| {
        pushed_main(Provider::Gitea)(got)
    });
    compat.secrets = without(Provider::GitHub);
    let mut not_configured = case(
        "secret not configured",
        gitea("push", good()),
        PUSH_MAIN,
        |got| {
            matches!(
                got,
                Err(Rejection::NotConfigured {
                    provider: Provider::Gitea
                })
            )
        },
    );
    not_configured.secrets = without(Provider::Gitea);
    cases.extend([compat, not_configured]);
    run(cases);
}

fn generic(signature: String) -> Vec<(&'static str, String)> {
    vec![(GENERIC_SIGNATURE, signature)]
}

#[test]
fn verify_generic() {
    let good = |body: &str| format!("sha256={}", sign(GENERIC, body.as_bytes()));
    let mut cases = vec![
        case("good push", generic(good(PUSH_MAIN)), PUSH_MAIN, |got| {
            pushed_main(Provider::Generic)(got)
        }),
        case("empty body", generic(good("")), "", |got| {
            got.as_ref()
                .is_ok_and(|event| event.reference.is_none() && event.after.is_none())
        }),
        case(
            "bad signature",
            generic(format!("sha256={}", sign(GITHUB, b""))),
            "",
            |got| {
                matches!(
                    got,
                    Err(Rejection::BadSignature {
                        provider: Provider::Generic
                    })
                )
            },
        ),
        case("tampered body", generic(good("")), PUSH_MAIN, |got| {
            matches!(got, Err(Rejection::BadSignature { .. }))
        }),
        case(
            "wrong prefix",
            generic(format!("sha512={}", sign(GENERIC, b""))),
            "",
            |got| {
                matches!(
                    got,
                    Err(Rejection::MalformedSignature {
                        provider: Provider::Generic,
                        header: GENERIC_SIGNATURE
                    })
                )
            },
        ),
        case(
            "odd hex",
            generic(format!("sha256={}", &sign(GENERIC, b"")[1..])),
            "",
            |got| matches!(got, Err(Rejection::MalformedSignature { .. })),
        ),
        case("malformed json", generic(good("{")), "{", |got| {
            matches!(
                got,
                Err(Rejection::MalformedBody {
                    provider: Provider::Generic,
                    ..
                })
            )
        }),
        case("no signature header at all", vec![], PUSH_MAIN, |got| {
            matches!(got, Err(Rejection::Unsigned { provider: None }))
        }),
        case(
            "unrelated headers only",
            vec![("x-hub-signature-256", good(PUSH_MAIN))],
            PUSH_MAIN,
            |got| matches!(got, Err(Rejection::Unsigned { provider: None })),
        ),
    ];
    let mut not_configured = case("secret not configured", generic(good("")), "", |got| {
        matches!(
            got,
            Err(Rejection::NotConfigured {
                provider: Provider::Generic
            })
        )
    });
    not_configured.secrets = without(Provider::Generic);
    cases.push(not_configured);
    run(cases);
}

/// The example from GitHub's "Validating webhook deliveries" guide, as an independent check
/// of the HMAC (the other tests sign with the same library that verifies).
#[test]
fn github_documented_vector() {
    let secrets = Secrets {
        github: Some(Secret::from("It's a Secret to Everybody".to_owned())),
        ..Secrets::default()
    };
    let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let headers = header_map(&github("ping", signature.to_owned()));
    let event = verify(&headers, b"Hello, World!", &secrets).expect("documented signature");
    assert!(event.ping);
}

#[test]
fn secrets_never_print() {
    let secrets = secrets();
    let (trigger, _rx) = mpsc::channel(1);
    let state = WebhookState {
        secrets: Arc::new(secrets.clone()),
        branch: "main".to_owned(),
        trigger,
    };
    for shown in [
        format!("{secrets:?}"),
        format!("{state:?}"),
        secrets.github.iter().map(ToString::to_string).collect(),
    ] {
        for secret in [GITHUB, GITLAB, GITEA, GENERIC] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    assert_eq!(format!("{}", Secret::from(GITHUB.to_owned())), "***");
    assert_eq!(Secret::from(GITHUB.to_owned()).expose(), GITHUB);
}

fn app(capacity: usize) -> (Router, Receiver<Trigger>) {
    let (trigger, rx) = mpsc::channel(capacity);
    let state = WebhookState {
        secrets: Arc::new(secrets()),
        branch: "main".to_owned(),
        trigger,
    };
    (router(state), rx)
}

fn request(headers: &[(&str, String)], body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(PATH);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(body.into()).expect("request")
}

fn github_push(body: &'static str) -> Request<Body> {
    request(&github("push", good_github(body)), body)
}

async fn call(app: Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test]
async fn push_to_followed_branch_triggers() {
    let (app, mut rx) = app(1);
    let (status, json) = call(app, github_push(PUSH_MAIN)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json, json!({ "status": "fetch triggered", "after": SHA }));
    let trigger = rx.try_recv().expect("a trigger");
    assert_eq!(trigger.provider, Provider::GitHub);
    assert_eq!(trigger.after.as_deref(), Some(SHA));
}

#[tokio::test]
async fn push_to_other_branch_is_ignored() {
    let (app, mut rx) = app(1);
    let (status, json) = call(app, github_push(PUSH_DEV)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json["status"], "ignored");
    assert!(
        json["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("refs/heads/dev"))
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn full_ref_as_branch_is_followed() {
    let (trigger, mut rx) = mpsc::channel(1);
    let state = WebhookState {
        secrets: Arc::new(secrets()),
        branch: "refs/heads/main".to_owned(),
        trigger,
    };
    let (status, _) = call(router(state), github_push(PUSH_MAIN)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(rx.try_recv().is_ok());
}

#[tokio::test]
async fn ping_pongs() {
    let (app, mut rx) = app(1);
    let body = r#"{"zen":"Keep it logically awesome."}"#;
    let (status, json) = call(app, request(&github("ping", good_github(body)), body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({ "status": "pong" }));
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn unsigned_is_unauthorized() {
    let (app, mut rx) = app(1);
    let (status, json) = call(app, request(&[], PUSH_MAIN)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json,
        json!({ "status": "rejected", "reason": "request is not signed" })
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn bad_signature_is_unauthorized_and_sends_nothing() {
    let (app, mut rx) = app(1);
    let signature = format!("sha256={}", sign("wrong", PUSH_MAIN.as_bytes()));
    let (status, json) = call(app, request(&github("push", signature), PUSH_MAIN)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["status"], "rejected");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn missing_secret_reads_like_a_bad_signature() {
    let (trigger, _rx) = mpsc::channel(1);
    let state = WebhookState {
        secrets: Arc::new(Secrets::default()),
        branch: "main".to_owned(),
        trigger,
    };
    let (status, json) = call(router(state), github_push(PUSH_MAIN)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json,
        json!({ "status": "rejected", "reason": "signature rejected" })
    );
}

#[tokio::test]
async fn malformed_json_is_bad_request() {
    let (app, mut rx) = app(1);
    let (status, json) = call(app, github_push("{\"ref\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["status"], "rejected");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn oversized_body_is_413() {
    let (app, mut rx) = app(1);
    let body = vec![b' '; 2 * 1024 * 1024];
    let headers = github("push", format!("sha256={}", sign(GITHUB, &body)));
    let (status, json) = call(app, request(&headers, body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        json,
        json!({ "status": "rejected", "reason": "body too large" })
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn a_declared_oversized_body_is_413_before_any_of_it_arrives() {
    let (app, mut rx) = app(1);
    // A body that never sends a byte: only the declared length can be judged.
    let never = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let request = Request::builder()
        .method(Method::POST)
        .uri(PATH)
        .header("content-type", "application/json")
        .header("content-length", (100 * 1024 * 1024).to_string())
        .body(Body::from_stream(never))
        .expect("request");
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), call(app, request));
    let (status, json) = answered.await.expect("an answer without reading the body");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["reason"], "body too large");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn body_at_the_limit_is_read() {
    let (app, _rx) = app(1);
    let mut body = PUSH_MAIN.as_bytes().to_vec();
    body.resize(MAX_BODY_BYTES, b' ');
    let headers = github("push", format!("sha256={}", sign(GITHUB, &body)));
    let (status, _) = call(app, request(&headers, body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn get_is_405() {
    let (app, _rx) = app(1);
    let request = Request::builder()
        .uri(PATH)
        .body(Body::empty())
        .expect("request");
    let (status, _) = call(app, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn burst_coalesces() {
    let (app, mut rx) = app(1);
    for _ in 0..10 {
        let (status, json) = call(app.clone(), github_push(PUSH_MAIN)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(json["status"], "fetch triggered");
    }
    assert!(rx.try_recv().is_ok());
    assert!(rx.try_recv().is_err(), "at most one pending trigger");
}

#[tokio::test]
async fn closed_channel_is_503() {
    let (app, rx) = app(1);
    drop(rx);
    let (status, _) = call(app, github_push(PUSH_MAIN)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Collects formatted log output.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

#[tokio::test]
async fn rejection_logs_leave_out_payload_signature_and_secret() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (app, _rx) = app(1);
    let payload = r#"{"ref":"refs/heads/main","after":"PAYLOAD-MARKER"}"#;
    let forged = sign("attacker", payload.as_bytes());
    let (status, _) = call(
        app.clone(),
        request(&github("push", format!("sha256={forged}")), payload),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A wrong GitLab token is the attacker's guess at the secret; it must not be logged either.
    let (status, _) = call(app, request(&gitlab("Push Hook", "TOKEN-GUESS"), payload)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let text = logs.text();
    assert!(text.contains("webhook rejected"), "{text}");
    assert!(text.contains("provider=\"github\""), "{text}");
    assert!(
        text.contains(&format!("body_len={}", payload.len())),
        "{text}"
    );
    for leak in [
        "PAYLOAD-MARKER",
        forged.as_str(),
        "TOKEN-GUESS",
        GITHUB,
        GITLAB,
    ] {
        assert!(!text.contains(leak), "log contains {leak}: {text}");
    }
}
