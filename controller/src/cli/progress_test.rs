use super::*;
use crate::protocol::SyncState;

fn stack(name: &str, services: Vec<ServiceProgress>) -> StackView {
    StackView {
        name: name.into(),
        sync: SyncState::Progressing,
        revision: Some("c0ffee".into()),
        rejected: None,
        services,
    }
}

fn progress(stack: &str, name: &str, convergence: Convergence, done: u64) -> ServiceProgress {
    ServiceProgress {
        name: format!("{stack}_{name}"),
        short_name: name.into(),
        convergence,
        done,
        desired: 4,
        completed: 0,
        reasons: match convergence {
            Convergence::Converged => Vec::new(),
            _ => vec!["1 task starting".into()],
        },
    }
}

#[test]
fn a_frame_reads_like_docker_with_full_names_only_where_short_ones_clash() {
    let mut job = progress("shop", "migrate", Convergence::Converged, 1);
    job.desired = 1;
    job.completed = 1;
    let stacks = [
        stack(
            "shop",
            vec![progress("shop", "web", Convergence::Progressing, 3), job],
        ),
        stack(
            "blog",
            vec![progress("blog", "web", Convergence::Converged, 4)],
        ),
    ];
    assert_eq!(
        render_frame(&stacks, false),
        [
            "shop_web: overall progress: 3 out of 4 tasks",
            "shop_web: 1 task starting",
            "migrate: overall progress: 1 out of 1 tasks (1 completed)",
            "migrate: verify: Service converged",
            "blog_web: overall progress: 4 out of 4 tasks",
            "blog_web: verify: Service converged",
        ]
    );
}

#[test]
fn on_a_terminal_each_service_has_a_bar() {
    let stacks = [stack(
        "shop",
        vec![progress("shop", "web", Convergence::Progressing, 1)],
    )];
    let frame = render_frame(&stacks, true);
    assert_eq!(
        frame[0],
        format!(
            "web: overall progress: 1 out of 4 tasks [{}>{}]",
            "=".repeat(9),
            " ".repeat(30)
        )
    );
}

#[test]
fn bars_fill_with_progress_and_are_full_when_nothing_is_wanted() {
    assert_eq!(render_bar(0, 4), format!("[{}]", " ".repeat(40)));
    assert_eq!(render_bar(4, 4), format!("[{}>]", "=".repeat(39)));
    assert_eq!(render_bar(0, 0), format!("[{}>]", "=".repeat(39)));
    assert_eq!(render_bar(9, 4), render_bar(4, 4));
}

#[test]
fn a_terminal_redraws_the_frame_in_place() {
    let mut screen = Screen::new(true);
    let first = screen.update(&["a: 1".to_owned(), "b: 1".to_owned()]);
    assert_eq!(first, "a: 1\nb: 1\n");
    let second = screen.update(&["a: 2".to_owned()]);
    assert_eq!(second, "\x1b[2F\x1b[Ja: 2\n");
    assert_eq!(screen.update(&[]), "\x1b[1F\x1b[J");
}

#[test]
fn elsewhere_only_new_lines_are_printed() {
    let mut screen = Screen::new(false);
    let frame = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    assert_eq!(screen.update(&frame(&["a: 1", "b: 1"])), "a: 1\nb: 1\n");
    assert_eq!(screen.update(&frame(&["a: 1", "b: 1"])), "");
    assert_eq!(screen.update(&frame(&["a: 2", "b: 1"])), "a: 2\n");
}
