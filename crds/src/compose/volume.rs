//! The short volume syntax `[source:]target[:mode]`.

use super::service::MountKind;

/// A parsed short-syntax mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortVolume {
    /// Volume name or host path; `None` for an anonymous volume.
    pub source: Option<String>,
    /// Path in the container.
    pub target: String,
    /// `Bind` when the source is a path, else `Volume`.
    pub kind: MountKind,
    /// `ro` was given.
    pub read_only: bool,
    /// The other mode flags (`z`, `rshared`, `nocopy`…).
    pub options: Vec<String>,
}

const MODES: &[&str] = &[
    "ro",
    "rw",
    "z",
    "Z",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "nocopy",
    "cached",
    "delegated",
    "consistent",
];

/// Whether a source names a host path (bind mount) rather than a volume.
pub fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// Parse `[source:]target[:mode]`.
pub fn parse_short(spec: &str) -> Result<ShortVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => {
            return Err(format!(
                "invalid volume `{spec}`: too many `:`; expected `[source:]target[:mode]`"
            ));
        }
    };
    if target.is_empty() || !target.starts_with('/') {
        return Err(format!(
            "invalid volume `{spec}`: the container path `{target}` must be absolute (start with `/`)"
        ));
    }
    let source = match source {
        Some("") => return Err(format!("invalid volume `{spec}`: empty source before `:`")),
        other => other,
    };
    let (read_only, options) = parse_mode(spec, mode)?;
    let kind = match source {
        Some(s) if is_path(s) => MountKind::Bind,
        _ => MountKind::Volume,
    };
    if let Some(name) = source.filter(|_| kind == MountKind::Volume)
        && !valid_volume_name(name)
    {
        return Err(format!(
            "invalid volume `{spec}`: `{name}` is neither a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*) nor a path (start it with `/` or `./`)"
        ));
    }
    Ok(ShortVolume {
        source: source.map(str::to_owned),
        target: target.to_owned(),
        kind,
        read_only,
        options,
    })
}

fn parse_mode(spec: &str, mode: Option<&str>) -> Result<(bool, Vec<String>), String> {
    let mut read_only = false;
    let mut options = Vec::new();
    for flag in mode.into_iter().flat_map(|m| m.split(',')) {
        if !MODES.contains(&flag) {
            return Err(format!(
                "invalid volume `{spec}`: unknown mode `{flag}`; expected a comma-separated list of {}",
                MODES.join(", ")
            ));
        }
        match flag {
            "ro" => read_only = true,
            "rw" => read_only = false,
            other => options.push(other.to_owned()),
        }
    }
    Ok((read_only, options))
}

/// Docker's volume name rule.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_volumes() {
        let v = parse_short("data:/var/lib/db").expect("valid");
        assert_eq!(
            (v.source.as_deref(), v.kind, v.read_only),
            (Some("data"), MountKind::Volume, false)
        );
        let v = parse_short("./conf:/etc/app:ro,z").expect("valid");
        assert_eq!(
            (v.kind, v.read_only, v.options.clone()),
            (MountKind::Bind, true, vec!["z".to_owned()])
        );
        let v = parse_short("/var/run/docker.sock:/var/run/docker.sock").expect("valid");
        assert_eq!(v.kind, MountKind::Bind);
        let v = parse_short("/cache").expect("valid");
        assert_eq!((v.source, v.kind), (None, MountKind::Volume));
        for bad in [
            "relative",
            "data:rel",
            "a:/b:bogus",
            "a:/b:ro:x",
            ":/x",
            "bad name:/x",
            "",
        ] {
            assert!(parse_short(bad).is_err(), "{bad}");
        }
    }
}
