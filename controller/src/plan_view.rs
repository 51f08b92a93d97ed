//! A plan as text, in the shape of `terraform plan` / `nomad job plan`: `+` create, `~` update
//! with field diffs, `-` destroy, then a summary line.

use std::fmt::Write;

use serde_json::Value as Json;

use crate::diff::{Change, Plan, Presence, Resource, ServiceChange};

/// Render `plan`; `color` adds ANSI colours to the markers.
pub fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes. The cluster matches the desired state.\n");
        return out;
    }
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    for stack in &plan.stacks_to_add {
        let _ = writeln!(out, "{} stack {stack}", paint("32", "+"));
    }
    for p in &plan.to_add {
        render_presence(&mut out, &paint("32", "+"), p);
    }
    for c in &plan.to_change {
        render_change(&mut out, &paint("33", "~"), c);
    }
    for p in &plan.to_remove {
        render_presence(&mut out, &paint("31", "-"), p);
    }
    for stack in &plan.stacks_to_remove {
        let _ = writeln!(out, "{} stack {stack}", paint("31", "-"));
    }
    let _ = writeln!(
        out,
        "\nPlan: {} to add, {} to change, {} to destroy.",
        plan.to_add.len(),
        plan.to_change.len(),
        plan.to_remove.len()
    );
    out
}

fn render_presence(out: &mut String, marker: &str, p: &Presence) {
    let _ = writeln!(out, "{marker} {} {}", p.resource.kind(), p.resource.name());
    if let Resource::Service(s) = &p.resource {
        let _ = writeln!(out, "      image: {}", s.image);
        match s.mode {
            crds::service::ServiceMode::Replicated { replicas } => {
                let _ = writeln!(out, "      replicas: {replicas}");
            }
            crds::service::ServiceMode::Global => out.push_str("      mode: global\n"),
        }
        for port in &s.ports {
            let _ = writeln!(out, "      port: {port}");
        }
    }
}

fn render_change(out: &mut String, marker: &str, c: &Change) {
    let how = match c.service_change {
        Some(ServiceChange::Update) => " (rolling update)",
        Some(ServiceChange::Scale) => " (scale)",
        Some(ServiceChange::Settings) => " (in place)",
        None => "",
    };
    let _ = writeln!(out, "{marker} {} {}{how}", c.new.kind(), c.new.name());
    for f in &c.fields {
        let _ = writeln!(
            out,
            "      {}: {} → {}",
            f.path,
            show(f.old.as_ref()),
            show(f.new.as_ref())
        );
    }
}

fn show(v: Option<&Json>) -> String {
    match v {
        None => "(none)".to_owned(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;

    #[test]
    fn empty_plans_say_so() {
        assert_eq!(
            render(&Plan::default(), false),
            "No changes. The cluster matches the desired state.\n"
        );
    }

    #[test]
    fn changes_show_fields_old_and_new() {
        let net = crds::stack::NetworkSpec {
            name: "shop_default".into(),
            driver: None,
            external: false,
            attachable: false,
            internal: false,
            labels: Default::default(),
            driver_opts: Default::default(),
        };
        let mut new = net.clone();
        new.internal = true;
        let plan = Plan {
            to_change: vec![Change {
                stack: "shop".into(),
                old: Resource::Network(net.clone()),
                new: Resource::Network(new),
                fields: vec![FieldChange {
                    path: "internal".into(),
                    old: Some(false.into()),
                    new: Some(true.into()),
                }],
                service_change: None,
            }],
            to_remove: vec![Presence {
                stack: "shop".into(),
                resource: Resource::Network(net),
            }],
            ..Plan::default()
        };
        assert_eq!(
            render(&plan, false),
            "~ network shop_default\n      internal: false → true\n- network shop_default\n\nPlan: 0 to add, 1 to change, 1 to destroy.\n"
        );
    }
}
