//! Tests of `constraint`.

use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn constraint(key: Key, operator: Operator, value: &str) -> Constraint {
    Constraint {
        key,
        operator,
        value: value.to_owned(),
    }
}

fn parsed(input: &str) -> Constraint {
    match parse_constraint(input) {
        Ok(c) => c,
        Err(e) => panic!("{input}: {e}"),
    }
}

#[test]
fn constraints_parse() {
    use Operator::{Eq, NotEq};
    let cases = [
        (
            "node.role==manager",
            constraint(Key::NodeRole, Eq, "manager"),
        ),
        (
            "node.role == Worker",
            constraint(Key::NodeRole, Eq, "worker"),
        ),
        (
            "Node.Role!=manager",
            constraint(Key::NodeRole, NotEq, "manager"),
        ),
        (
            "node.id==2ivku8v2gvtg4",
            constraint(Key::NodeId, Eq, "2ivku8v2gvtg4"),
        ),
        (
            "node.hostname!=node-2",
            constraint(Key::NodeHostname, NotEq, "node-2"),
        ),
        ("node.ip==10.0.0.5", constraint(Key::NodeIp, Eq, "10.0.0.5")),
        (
            "node.ip != 10.0.0.0/8",
            constraint(Key::NodeIp, NotEq, "10.0.0.0/8"),
        ),
        (
            "node.ip==2001:db8::/32",
            constraint(Key::NodeIp, Eq, "2001:db8::/32"),
        ),
        (
            "node.platform.os==linux",
            constraint(Key::NodePlatformOs, Eq, "linux"),
        ),
        (
            "node.platform.arch==x86_64",
            constraint(Key::NodePlatformArch, Eq, "x86_64"),
        ),
        (
            "node.labels.zone==eu-west",
            constraint(Key::NodeLabel("zone".into()), Eq, "eu-west"),
        ),
        (
            "NODE.LABELS.Zone==eu",
            constraint(Key::NodeLabel("Zone".into()), Eq, "eu"),
        ),
        (
            "node.labels.com.example.tier==front end",
            constraint(Key::NodeLabel("com.example.tier".into()), Eq, "front end"),
        ),
        (
            "engine.labels.operatingsystem==ubuntu 14.04",
            constraint(
                Key::EngineLabel("operatingsystem".into()),
                Eq,
                "ubuntu 14.04",
            ),
        ),
        (
            "  node.labels.a  !=  b  ",
            constraint(Key::NodeLabel("a".into()), NotEq, "b"),
        ),
        (
            "node.labels.path==/data/(x|y)*",
            constraint(Key::NodeLabel("path".into()), Eq, "/data/(x|y)*"),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_constraint(input), Ok(want), "{input}");
    }
}

#[test]
fn bad_constraints_are_explained() {
    let cases: &[(&str, &str)] = &[
        (
            "node.role=manager",
            "invalid constraint \"node.role=manager\": operator \"=\" is not supported; \
                 only == and != are, e.g. \"node.role==manager\" or \"node.labels.zone!=eu\"",
        ),
        (
            "node.rol==manager",
            "invalid constraint \"node.rol==manager\": unknown key \"node.rol\" \
                 (did you mean \"node.role\"?); valid keys are node.id, node.hostname, \
                 node.role, node.ip, node.platform.os, node.platform.arch, node.labels.<name> \
                 and engine.labels.<name>",
        ),
        (
            "node.role==boss",
            "invalid constraint \"node.role==boss\": node.role must be manager or worker, \
                 not \"boss\"",
        ),
        (
            "node.role==manger",
            "invalid constraint \"node.role==manger\": node.role must be manager or worker, \
                 not \"manger\" (did you mean \"manager\"?)",
        ),
        (
            "node.role",
            "invalid constraint \"node.role\": no operator; write key==value or key!=value, \
                 e.g. \"node.role==manager\"",
        ),
        (
            "node.ip==10.0.0.0/33",
            "invalid constraint \"node.ip==10.0.0.0/33\": node.ip must be an IP address or \
                 a CIDR network, e.g. \"10.0.0.5\", \"10.0.0.0/24\" or \"2001:db8::/32\", \
                 not \"10.0.0.0/33\"",
        ),
        (
            "node.labels.==x",
            "invalid constraint \"node.labels.==x\": no label name after \"node.labels\"; \
                 e.g. \"node.labels.zone==eu\"",
        ),
        (
            "node.hostname==",
            "invalid constraint \"node.hostname==\": no value after the operator; \
                 e.g. \"node.role==manager\"",
        ),
    ];
    for (input, want) in cases {
        let err = parse_constraint(input).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(*want), "{input}");
    }
}

#[test]
fn each_rejection_has_its_variant() {
    type IsExpected = fn(&Error) -> bool;
    let cases: &[(&str, IsExpected)] = &[
        ("node.role manager", |e| {
            matches!(e, Error::MissingOperator { .. })
        }),
        ("node.role>=manager", |e| {
            matches!(e, Error::UnsupportedOperator { .. })
        }),
        ("node.role<manager", |e| {
            matches!(e, Error::UnsupportedOperator { .. })
        }),
        ("node.role~=manager", |e| {
            matches!(e, Error::UnsupportedOperator { .. })
        }),
        ("node.role=!manager", |e| {
            matches!(e, Error::UnsupportedOperator { .. })
        }),
        ("node.role===manager", |e| {
            matches!(e, Error::UnsupportedOperator { .. })
        }),
        ("==manager", |e| matches!(e, Error::EmptyKey { .. })),
        ("node.labels==x", |e| {
            matches!(e, Error::EmptyLabelName { .. })
        }),
        ("engine.labels.==x", |e| {
            matches!(e, Error::EmptyLabelName { .. })
        }),
        ("node.labels.my zone==x", |e| {
            matches!(e, Error::InvalidLabelName { .. })
        }),
        ("node.labels.a/b==x", |e| {
            matches!(e, Error::InvalidLabelName { .. })
        }),
        ("node.labels.a==x,y", |e| {
            matches!(e, Error::InvalidValue { .. })
        }),
        ("node.labels.a==\"x\"", |e| {
            matches!(e, Error::InvalidValue { .. })
        }),
        ("node.labels.a==x==y", |e| {
            matches!(e, Error::InvalidValue { .. })
        }),
        ("node.ip==10.0.0.256", |e| {
            matches!(e, Error::InvalidIp { .. })
        }),
        ("node.ip==10.0.0.0/", |e| {
            matches!(e, Error::InvalidIp { .. })
        }),
        ("node.ip==10.0.0.0/+8", |e| {
            matches!(e, Error::InvalidIp { .. })
        }),
        ("node.ip==::1/129", |e| matches!(e, Error::InvalidIp { .. })),
        ("node.ip==example.com", |e| {
            matches!(e, Error::InvalidIp { .. })
        }),
        ("node. role==manager", |e| {
            matches!(e, Error::UnknownKey { .. })
        }),
        ("role==manager", |e| matches!(e, Error::UnknownKey { .. })),
    ];
    for (input, check) in cases {
        let result = parse_constraint(input);
        assert!(result.as_ref().is_err_and(check), "{input}: {result:?}");
    }
}

#[test]
fn unknown_keys_get_suggestions() {
    let cases = [
        ("node.rol", Some("node.role")),
        ("node.hostnam", Some("node.hostname")),
        ("node.label.zone", Some("node.labels.zone")),
        ("node.lables.zone", Some("node.labels.zone")),
        ("engine.label.os", Some("engine.labels.os")),
        ("node.os", Some("node.platform.os")),
        ("node.platform", Some("node.platform.os")),
        ("node.platform.architecture", Some("node.platform.arch")),
        ("node.name", Some("node.hostname")),
        ("node.ipaddress", None),
        ("service.name", None),
    ];
    for (key, want) in cases {
        let input = format!("{key}==x");
        let suggestion = match parse_constraint(&input) {
            Err(Error::UnknownKey { suggestion, .. }) => suggestion,
            other => panic!("{input}: {other:?}"),
        };
        assert_eq!(suggestion.as_deref(), want, "{key}");
    }
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("node.role == manager", "node.role==manager"),
        ("Node.Platform.OS!=Windows", "node.platform.os!=Windows"),
        ("ENGINE.labels.Tier == a b", "engine.labels.Tier==a b"),
        ("node.role==MANAGER", "node.role==manager"),
    ];
    for (input, want) in cases {
        assert_eq!(parsed(input).to_string(), want);
    }
}

struct Node {
    labels: BTreeMap<String, String>,
    engine_labels: BTreeMap<String, String>,
    ip: Option<IpAddr>,
}

impl Node {
    fn new(ip: Option<IpAddr>) -> Self {
        let labels = [("zone", "eu-west"), ("Tier", "Front")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let engine_labels = [("storage".to_owned(), "ssd".to_owned())].into();
        Node {
            labels,
            engine_labels,
            ip,
        }
    }

    fn attributes(&self) -> NodeAttributes<'_> {
        NodeAttributes {
            id: "2ivku8v2gvtg4",
            hostname: "node-1",
            role: "manager",
            ip: self.ip,
            os: "linux",
            arch: "x86_64",
            labels: &self.labels,
            engine_labels: &self.engine_labels,
        }
    }
}

#[test]
fn matching_follows_swarmkit() {
    let node = Node::new(Some(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 5))));
    let attributes = node.attributes();
    let cases = [
        ("node.id==2ivku8v2gvtg4", true),
        ("node.id==2IVKU8V2GVTG4", true),
        ("node.hostname==node-1", true),
        ("node.hostname!=node-1", false),
        ("node.hostname==NODE-1", true),
        ("node.role==manager", true),
        ("node.role==worker", false),
        ("node.role!=worker", true),
        ("node.platform.os==Linux", true),
        ("node.platform.arch!=aarch64", true),
        ("node.labels.zone==eu-west", true),
        ("node.labels.zone==EU-WEST", true),
        ("node.labels.zone!=eu-west", false),
        ("node.labels.Zone==eu-west", false),
        ("node.labels.Zone!=eu-west", true),
        ("node.labels.Tier==front", true),
        ("node.labels.missing==x", false),
        ("node.labels.missing!=x", true),
        ("engine.labels.storage==ssd", true),
        ("engine.labels.zone==eu-west", false),
        ("node.ip==10.0.1.5", true),
        ("node.ip==10.0.1.6", false),
        ("node.ip!=10.0.1.6", true),
        ("node.ip==10.0.0.0/16", true),
        ("node.ip==10.0.1.0/24", true),
        ("node.ip==10.0.2.0/24", false),
        ("node.ip!=10.0.2.0/24", true),
        ("node.ip==0.0.0.0/0", true),
        ("node.ip==10.0.1.5/32", true),
        ("node.ip==::ffff:10.0.1.5", true),
        ("node.ip==::ffff:10.0.0.0/104", true),
        ("node.ip==::/0", false),
        ("node.ip==2001:db8::1", false),
    ];
    for (input, want) in cases {
        assert_eq!(parsed(input).matches(&attributes), want, "{input}");
    }
}

#[test]
fn ipv6_and_missing_addresses_match_like_swarmkit() {
    let v6 = Node::new(Some(IpAddr::V6(Ipv6Addr::new(
        0x2001, 0xdb8, 0, 0, 0, 0, 0, 1,
    ))));
    let none = Node::new(None);
    let cases = [
        (&v6, "node.ip==2001:db8::1", true),
        (&v6, "node.ip==2001:DB8::1", true),
        (&v6, "node.ip==2001:db8::/32", true),
        (&v6, "node.ip==2001:db9::/32", false),
        (&v6, "node.ip==10.0.0.0/8", false),
        (&none, "node.ip==10.0.0.0/8", false),
        (&none, "node.ip!=10.0.0.0/8", true),
        (&none, "node.ip!=10.0.0.1", true),
    ];
    for (node, input, want) in cases {
        assert_eq!(parsed(input).matches(&node.attributes()), want, "{input}");
    }
}

#[test]
fn hand_built_malformed_ip_constraints_match_nothing() {
    let node = Node::new(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    for operator in [Operator::Eq, Operator::NotEq] {
        let bad = constraint(Key::NodeIp, operator, "not-an-ip");
        assert!(!bad.matches(&node.attributes()));
    }
}

#[test]
fn preferences_parse() {
    let cases = [
        ("node.labels.zone", Some("node.labels.zone")),
        ("engine.labels.rack", Some("engine.labels.rack")),
        ("Node.Labels.Zone", Some("node.labels.Zone")),
        ("node.labels.", None),
        ("node.labels", None),
        ("node.hostname", None),
        (" node.labels.zone", None),
        ("", None),
    ];
    for (input, want) in cases {
        let got = parse_preference_descriptor(input).ok().map(|p| p.spread);
        assert_eq!(got.as_deref(), want, "{input}");
    }
    assert_eq!(
        parse_preference_descriptor("node.label.zone")
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some(
            "invalid placement preference \"node.label.zone\": spread must name a label as \
                 node.labels.<name> or engine.labels.<name>, e.g. \"node.labels.zone\" \
                 (did you mean \"node.labels.zone\"?)"
        )
    );
}

#[test]
fn serde_uses_the_canonical_string() -> Result<(), serde_json::Error> {
    let c: Constraint = serde_json::from_str("\"node.role == manager\"")?;
    assert_eq!(c, constraint(Key::NodeRole, Operator::Eq, "manager"));
    assert_eq!(serde_json::to_string(&c)?, "\"node.role==manager\"");
    let err = serde_json::from_str::<Constraint>("\"node.role=manager\"").err();
    assert!(err.is_some_and(|e| e.to_string().contains("only == and != are")));
    Ok(())
}

#[test]
fn schema_pattern_accepts_parsed_constraints() {
    let schema = Constraint::json_schema(&mut SchemaGenerator::default());
    let pattern = schema.as_value()["pattern"].as_str().unwrap_or_default();
    let re = regex::Regex::new(pattern);
    assert!(
        re.as_ref()
            .is_ok_and(|re| re.is_match("node.labels.a != b c")),
        "{re:?}"
    );
    assert!(re.is_ok_and(|re| !re.is_match("node.role=manager")));
}

fn key_strategy() -> impl Strategy<Value = Key> {
    let name = "[A-Za-z0-9_.-]{1,12}";
    prop_oneof![
        Just(Key::NodeId),
        Just(Key::NodeHostname),
        Just(Key::NodePlatformOs),
        Just(Key::NodePlatformArch),
        name.prop_map(Key::NodeLabel),
        name.prop_map(Key::EngineLabel),
    ]
}

fn operator_strategy() -> impl Strategy<Value = Operator> {
    prop_oneof![Just(Operator::Eq), Just(Operator::NotEq)]
}

fn constraint_strategy() -> impl Strategy<Value = Constraint> {
    let plain = (
        key_strategy(),
        "[A-Za-z0-9:_.*()?+\\[\\]\\\\^$|/-]([A-Za-z0-9 :_.-]{0,10}[A-Za-z0-9])?",
    );
    let ip = any::<IpAddr>().prop_map(|ip| ip.to_canonical().to_string());
    let network = (any::<std::net::Ipv4Addr>(), 0..=32u8).prop_map(|(ip, p)| format!("{ip}/{p}"));
    prop_oneof![
        (plain, operator_strategy()).prop_map(|((key, value), op)| constraint(key, op, &value)),
        (
            prop_oneof![Just("manager"), Just("worker")],
            operator_strategy()
        )
            .prop_map(|(role, op)| constraint(Key::NodeRole, op, role)),
        (prop_oneof![ip, network], operator_strategy()).prop_map(|(value, op)| constraint(
            Key::NodeIp,
            op,
            &value
        )),
    ]
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC*") {
        let _ = parse_constraint(&s);
        let _ = parse_preference_descriptor(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(s in "[a-zA-Z. =!<>~/:0-9]{0,24}") {
        let _ = parse_constraint(&s);
        let _ = parse_preference_descriptor(&s);
    }

    #[test]
    fn display_round_trips(c in constraint_strategy()) {
        prop_assert_eq!(parse_constraint(&c.to_string()), Ok(c));
    }

    #[test]
    fn eq_and_not_eq_disagree(c in constraint_strategy(), ip in proptest::option::of(any::<IpAddr>())) {
        let node = Node::new(ip);
        let mut flipped = c.clone();
        flipped.operator = match c.operator { Operator::Eq => Operator::NotEq, Operator::NotEq => Operator::Eq };
        prop_assert_ne!(c.matches(&node.attributes()), flipped.matches(&node.attributes()));
    }
}
