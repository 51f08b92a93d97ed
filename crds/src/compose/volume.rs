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

/// Why a short volume spec was rejected; each message quotes the spec and says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// More than three `:`-separated parts, e.g. `a:/b:ro:x`.
    #[error("invalid volume `{spec}`: too many `:`; expected `[source:]target[:mode]`")]
    TooManyParts {
        /// The spec as written.
        spec: String,
    },
    /// The container path is empty or relative, e.g. `data:rel`.
    #[error(
        "invalid volume `{spec}`: the container path `{target}` must be absolute (start with `/`)"
    )]
    RelativeTarget {
        /// The spec as written.
        spec: String,
        /// The container path as written.
        target: String,
    },
    /// Nothing before the first `:`, e.g. `:/x`.
    #[error("invalid volume `{spec}`: empty source before `:`")]
    EmptySource {
        /// The spec as written.
        spec: String,
    },
    /// A source that is neither a valid volume name nor a path, e.g. `bad name:/x`.
    #[error(
        "invalid volume `{spec}`: `{name}` is neither a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*) \
         nor a path (start it with `/` or `./`)"
    )]
    InvalidSource {
        /// The spec as written.
        spec: String,
        /// The source as written.
        name: String,
    },
    /// A mode flag Docker does not know, e.g. `a:/b:bogus`.
    #[error(
        "invalid volume `{spec}`: unknown mode `{flag}`; expected a comma-separated list of {}",
        MODES.join(", ")
    )]
    UnknownMode {
        /// The spec as written.
        spec: String,
        /// The unknown flag.
        flag: String,
    },
}

/// Whether a source names a host path (bind mount) rather than a volume.
pub fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// Parse `[source:]target[:mode]`.
pub fn parse_short(spec: &str) -> Result<ShortVolume, Error> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => {
            return Err(Error::TooManyParts {
                spec: spec.to_owned(),
            });
        }
    };
    if target.is_empty() || !target.starts_with('/') {
        return Err(Error::RelativeTarget {
            spec: spec.to_owned(),
            target: target.to_owned(),
        });
    }
    let source = match source {
        Some("") => {
            return Err(Error::EmptySource {
                spec: spec.to_owned(),
            });
        }
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
        return Err(Error::InvalidSource {
            spec: spec.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(ShortVolume {
        source: source.map(str::to_owned),
        target: target.to_owned(),
        kind,
        read_only,
        options,
    })
}

fn parse_mode(spec: &str, mode: Option<&str>) -> Result<(bool, Vec<String>), Error> {
    let mut read_only = false;
    let mut options = Vec::new();
    for flag in mode.into_iter().flat_map(|m| m.split(',')) {
        if !MODES.contains(&flag) {
            return Err(Error::UnknownMode {
                spec: spec.to_owned(),
                flag: flag.to_owned(),
            });
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
        for bad in ["relative", "data:rel", ""] {
            assert!(
                matches!(parse_short(bad), Err(Error::RelativeTarget { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_short("a:/b:bogus"),
            Err(Error::UnknownMode { flag, .. }) if flag == "bogus"
        ));
        assert!(matches!(
            parse_short("a:/b:ro:x"),
            Err(Error::TooManyParts { .. })
        ));
        assert!(matches!(parse_short(":/x"), Err(Error::EmptySource { .. })));
        assert!(matches!(
            parse_short("bad name:/x"),
            Err(Error::InvalidSource { name, .. }) if name == "bad name"
        ));
    }
}
