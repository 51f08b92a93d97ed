use crds::service::ServiceMode;
use crds::task::TaskState;

use super::*;
use crate::raft::fixtures::{node, service, task};

/// `shop_web` (3 replicas) and `shop_db` (global), with tasks in various states.
fn state() -> ClusterState {
    let mut state = ClusterState::default();
    let mut web = service("shop_web");
    web.spec.mode = ServiceMode::Replicated { replicas: 3 };
    let mut db = service("shop_db");
    db.spec.mode = ServiceMode::Global;
    state.services.insert("shop_web".into(), web);
    state.services.insert("shop_db".into(), db);
    let mut n1 = node("n1");
    n1.description.hostname = "host-1".into();
    state.nodes.insert("n1".into(), n1);
    let mut old = task("t0", TaskState::Shutdown);
    old.desired_state = TaskState::Shutdown;
    let mut pending = task("t2", TaskState::Pending);
    pending.slot = 2;
    pending.node = None;
    let mut db_task = task("d1", TaskState::Running);
    db_task.service = "shop_db".into();
    db_task.slot = 0;
    db_task.node = Some("gone".into());
    for t in [old, task("t1", TaskState::Running), pending, db_task] {
        state.tasks.insert(t.meta.id.clone(), t);
    }
    state
}

#[test]
fn replicas_count_running_tasks_against_the_spec_or_the_global_tasks() {
    let views = compute_service_views(&state(), &ServicesQuery::default()).expect("no filter");
    let counts: Vec<(&str, Replicas)> = views
        .iter()
        .map(|v| (v.service.spec.name.as_str(), v.replicas))
        .collect();
    assert_eq!(
        counts,
        vec![
            (
                "shop_db",
                Replicas {
                    running: 1,
                    desired: 1
                }
            ),
            (
                "shop_web",
                Replicas {
                    running: 1,
                    desired: 3
                }
            ),
        ]
    );
}

#[test]
fn tasks_are_found_by_full_or_short_name_with_hostnames() {
    let state = state();
    for key in ["shop_web", "web"] {
        let query = TasksQuery {
            service: Some(key.into()),
            stack: None,
        };
        let views = compute_task_views(&state, &query).expect("web exists");
        let ids: Vec<&str> = views.iter().map(|v| v.task.meta.id.as_str()).collect();
        assert_eq!(ids, ["t0", "t1", "t2"], "{key}");
        assert_eq!(views[1].service_short_name, "web");
        assert_eq!(views[1].node_hostname.as_deref(), Some("host-1"));
        assert_eq!(views[2].node_hostname, None);
    }
}

#[test]
fn an_unknown_node_has_no_hostname_and_a_stack_filter_scopes_the_tasks() {
    let state = state();
    let all = compute_task_views(
        &state,
        &TasksQuery {
            service: None,
            stack: Some("shop".into()),
        },
    )
    .expect("no service filter");
    assert_eq!(all.len(), 4);
    let db = all.iter().find(|v| v.task.meta.id == "d1").expect("d1");
    assert_eq!(db.node_hostname, None);
    let err = compute_task_views(
        &state,
        &TasksQuery {
            service: None,
            stack: Some("other".into()),
        },
    )
    .expect_err("no stack other");
    assert_eq!(
        err.to_string(),
        "no such stack: other (known: shop; `reconciler stack ls` lists them)"
    );
}

#[test]
fn services_are_filtered_by_stack_and_an_unknown_stack_is_named() {
    let mut state = state();
    let mut blog = service("shop_web");
    blog.spec.stack = "blog".into();
    blog.spec.name = "blog_web".into();
    state.services.insert("blog_web".into(), blog);
    let query = |stack: &str| ServicesQuery {
        stack: Some(stack.into()),
    };
    let names: Vec<String> = compute_service_views(&state, &query("shop"))
        .expect("shop exists")
        .into_iter()
        .map(|v| v.service.spec.name)
        .collect();
    assert_eq!(names, ["shop_db", "shop_web"]);
    assert!(matches!(
        compute_service_views(&state, &query("nope")),
        Err(LookupError::NoSuchStack { known, .. }) if known == ["blog", "shop"]
    ));
}

#[test]
fn a_task_shows_the_image_and_host_ports_of_the_spec_it_runs() {
    let mut state = state();
    let web = state.services.get_mut("shop_web").expect("web");
    let mut previous = web.spec.clone();
    previous.image = "nginx:1.26".into();
    web.spec.ports[0].mode = crds::port::PortMode::Host;
    web.previous_spec = Some(Box::new(previous.clone()));
    let current = web.spec.template_hash();
    let tasks = &mut state.tasks;
    tasks.get_mut("t1").expect("t1").spec_hash = current;
    tasks.get_mut("t0").expect("t0").spec_hash = previous.template_hash();
    let views = compute_task_views(
        &state,
        &TasksQuery {
            service: Some("web".into()),
            stack: None,
        },
    )
    .expect("web exists");
    let shown: Vec<(Option<&str>, usize)> = views
        .iter()
        .map(|v| (v.image.as_deref(), v.host_ports.len()))
        .collect();
    // t0 runs the previous spec; t1 the current one; t2 a spec the service no longer has.
    assert_eq!(
        shown,
        [(Some("nginx:1.26"), 0), (Some("nginx:1.27"), 1), (None, 0)]
    );
}

#[test]
fn an_unknown_service_is_named_with_the_known_ones() {
    let err = compute_task_views(
        &state(),
        &TasksQuery {
            service: Some("api".into()),
            stack: None,
        },
    )
    .expect_err("no api service");
    assert_eq!(
        err.to_string(),
        "no such service: api (known: shop_db, shop_web; `reconciler service ls` lists them)"
    );
}

#[test]
fn a_short_name_in_two_stacks_is_ambiguous() {
    let mut state = state();
    let mut other = service("shop_web");
    other.spec.stack = "blog".into();
    other.spec.name = "blog_web".into();
    state.services.insert("blog_web".into(), other);
    let query = TasksQuery {
        service: Some("web".into()),
        stack: None,
    };
    assert!(matches!(
        compute_task_views(&state, &query),
        Err(LookupError::Ambiguous { .. })
    ));
    let scoped = TasksQuery {
        stack: Some("blog".into()),
        ..query
    };
    assert_eq!(
        compute_task_views(&state, &scoped)
            .expect("unique in blog")
            .len(),
        0
    );
}
