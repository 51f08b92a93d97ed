//! Stack and service names, and the top-level keys that name things.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::path;

/// Longest full service name Docker accepts (`<stack>_<service>` is a DNS label).
pub const MAX_SERVICE_NAME: usize = 63;

/// Whether `name` is a valid stack name: lowercase letters, digits, `-` and `_`, starting with a
/// letter or digit (Compose's project-name rule, which `docker stack` also enforces).
pub fn valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Whether `name` is a valid service key.
pub fn valid_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(super) fn lint_names(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let stack = &cx.source.stack;
    if !valid_stack_name(stack) {
        out.push(
            Diagnostic::error("invalid-stack-name", format!("invalid stack name `{stack}`"))
                .with_help("stack names come from the file or directory name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
        );
    }
    let declared = cx
        .tree
        .get("services")
        .and_then(|s| s.as_map())
        .map_or(0, |m| m.entries.len());
    if declared == 0 {
        out.push(
            Diagnostic::error("no-services", "the stack defines no services")
                .at(cx.key_span(&path!["services"]))
                .with_help("add at least one service under `services:`"),
        );
    }
    if cx.file.version.is_some() {
        out.push(
            Diagnostic::warning(
                "obsolete-version",
                "the top-level `version` is obsolete and ignored",
            )
            .at(cx.key_span(&path!["version"]))
            .with_help("remove `version:`; the format is detected from the content"),
        );
    }
    if let Some(name) = cx.file.name.as_deref().filter(|n| *n != stack) {
        out.push(
            Diagnostic::warning("ignored-name", format!("top-level `name: {name}` is not used; this stack is named `{stack}` after its file"))
                .at(cx.key_span(&path!["name"]))
                .with_help("rename the file (or list it in reconciler.yaml) to choose the stack name"),
        );
    }
    for name in cx.file.services.keys() {
        let full = format!("{stack}_{name}");
        if !valid_service_name(name) {
            out.push(
                Diagnostic::error(
                    "invalid-service-name",
                    format!("invalid service name `{name}`"),
                )
                .at(cx.key_span(&path!["services", name.as_str()]))
                .with_help(
                    "use letters, digits, `-`, `_` and `.`, starting with a letter or digit",
                ),
            );
        } else if full.len() > MAX_SERVICE_NAME {
            out.push(
                Diagnostic::error(
                    "invalid-service-name",
                    format!("service name `{full}` is {} characters; at most {MAX_SERVICE_NAME} are allowed", full.len()),
                )
                .at(cx.key_span(&path!["services", name.as_str()]))
                .with_help("shorten the stack or service name"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names() {
        for ok in ["web", "my-app", "app_2", "1st"] {
            assert!(valid_stack_name(ok), "{ok}");
        }
        for bad in ["", "Web", "-x", "_x", "a b", "a.b", "é"] {
            assert!(!valid_stack_name(bad), "{bad}");
        }
    }
}
