use super::*;

#[test]
fn spread_descriptors_parse_labels_and_node_attributes() {
    let cases = [
        ("node.labels.zone", Spread::NodeLabel("zone".into())),
        ("Node.Labels.Zone", Spread::NodeLabel("Zone".into())),
        ("engine.labels.disk", Spread::EngineLabel("disk".into())),
        ("node.hostname", Spread::NodeHostname),
        ("node.id", Spread::NodeId),
        ("NODE.ROLE", Spread::NodeRole),
        ("node.platform.os", Spread::NodePlatformOs),
        ("node.platform.arch", Spread::NodePlatformArch),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_spread(input), Ok(expected), "{input}");
    }
    for bad in ["zone", "node.labels", "node.labels.", "node.ip"] {
        assert!(parse_spread(bad).is_err(), "{bad}");
    }
}
