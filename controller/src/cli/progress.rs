//! The progress `status --wait` prints, shaped like `docker service create --detach=false`:
//! per service `web: overall progress: 3 out of 4 tasks`, with a bar on a terminal, its
//! reasons while it has not converged, then `web: verify: Service converged`.
//!
//! A frame is rendered purely from the stacks; [`Screen`] decides how frames reach the output:
//! redrawn in place on a terminal, only their new lines otherwise (logs stay readable).

use std::collections::{BTreeMap, HashSet};

use crate::protocol::{Convergence, ServiceProgress, StackView};

/// Characters between the brackets of a progress bar.
const BAR_WIDTH: usize = 40;

/// The lines of one frame: every service of every stack, in stack then service order.
pub fn render_frame(stacks: &[StackView], bar: bool) -> Vec<String> {
    let services: Vec<&ServiceProgress> = stacks.iter().flat_map(|s| &s.services).collect();
    let mut short_names: BTreeMap<&str, usize> = BTreeMap::new();
    for service in &services {
        *short_names.entry(service.short_name.as_str()).or_default() += 1;
    }
    let mut lines = Vec::new();
    for service in services {
        // The short name when no other stack uses it: what the stack file calls the service.
        let label = if short_names.get(service.short_name.as_str()) == Some(&1) {
            &service.short_name
        } else {
            &service.name
        };
        lines.push(progress_line(label, service, bar));
        if service.convergence == Convergence::Converged {
            lines.push(format!("{label}: verify: Service converged"));
        } else {
            lines.extend(service.reasons.iter().map(|r| format!("{label}: {r}")));
        }
    }
    lines
}

fn progress_line(label: &str, service: &ServiceProgress, bar: bool) -> String {
    let mut line = format!(
        "{label}: overall progress: {} out of {} tasks",
        service.done, service.desired
    );
    if service.completed > 0 {
        line.push_str(&format!(" ({} completed)", service.completed));
    }
    if bar {
        line.push(' ');
        line.push_str(&render_bar(service.done, service.desired));
    }
    line
}

/// `[=============>                          ]`; full when nothing is wanted.
pub fn render_bar(done: u64, desired: u64) -> String {
    let filled = if desired == 0 {
        BAR_WIDTH
    } else {
        let ratio = done.min(desired) as f64 / desired as f64;
        (ratio * BAR_WIDTH as f64).round() as usize
    };
    let arrow = if filled == 0 {
        String::new()
    } else {
        "=".repeat(filled - 1) + ">"
    };
    format!("[{arrow}{}]", " ".repeat(BAR_WIDTH - filled))
}

/// How frames reach the output.
#[derive(Debug, Default)]
pub struct Screen {
    /// Redraw in place (a terminal) rather than append new lines.
    redraw: bool,
    /// Lines of the last frame drawn (redraw mode).
    drawn: usize,
    /// Lines printed so far (append mode).
    printed: HashSet<String>,
}

impl Screen {
    /// A screen that redraws in place when `redraw`.
    pub fn new(redraw: bool) -> Self {
        Screen {
            redraw,
            ..Screen::default()
        }
    }

    /// The text that replaces the last frame with `frame`: on a terminal, the cursor moves up
    /// over the old frame and clears it; otherwise only lines not printed before are written.
    pub fn update(&mut self, frame: &[String]) -> String {
        let mut out = String::new();
        if self.redraw {
            if self.drawn > 0 {
                // CSI n F: to the start of the line n lines up; CSI J: clear to the end.
                out.push_str(&format!("\x1b[{}F\x1b[J", self.drawn));
            }
            for line in frame {
                out.push_str(line);
                out.push('\n');
            }
            self.drawn = frame.len();
        } else {
            for line in frame {
                if self.printed.insert(line.clone()) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "progress_test.rs"]
mod tests;
