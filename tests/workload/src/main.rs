//! The workload inside reconciler's test images (`reconciler-test/echo:*`, `reconciler-test/proxy:*`).
//!
//! One static binary with no dependencies on the image, so it runs `FROM scratch`:
//! - `serve --listen ADDR --message MSG`: answers every HTTP request with the message, the image
//!   version (`VERSION`) and the host name; `/healthz` is the health endpoint.
//! - `probe URL`: exits 0 when `URL` answers 200 within two seconds (a healthcheck command).
//! - `proxy --listen ADDR --upstream http://HOST:PORT [--stats ADDR]`: forwards TCP connections.
//!
//! `FAIL_AFTER=<ms>` makes any mode exit with code 1 after that long (the `:bad` image), and
//! `UNHEALTHY=1` makes `/healthz` answer 503 (`UNHEALTHY_AFTER=<ms>`: once it served that
//! long). SIGTERM and SIGINT end the process at once with code 0, as a well-behaved service
//! does when its container is stopped.

mod http;
mod proxy;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("workload: cannot handle signal {signal}: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(ms) = std::env::var("FAIL_AFTER")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            eprintln!("workload: failing as FAIL_AFTER={ms} asks");
            std::process::exit(1);
        });
    }
    let mode = args.first().map(String::as_str).unwrap_or("serve");
    let rest = if args.is_empty() { &[][..] } else { &args[1..] };
    let result = match mode {
        "serve" => http::serve(
            &flag(rest, "--listen").unwrap_or_else(|| "0.0.0.0:8080".to_owned()),
            &flag(rest, "--message").unwrap_or_else(|| "hello".to_owned()),
            &stop,
        ),
        "probe" => {
            return match rest.first() {
                Some(url) => match http::probe(url) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("workload: probe {url}: {e}");
                        ExitCode::from(1)
                    }
                },
                None => usage(),
            };
        }
        "proxy" => match flag(rest, "--upstream") {
            Some(upstream) => proxy::run(
                &flag(rest, "--listen").unwrap_or_else(|| "0.0.0.0:8081".to_owned()),
                &upstream,
                flag(rest, "--stats").as_deref(),
                &stop,
            ),
            None => return usage(),
        },
        _ => return usage(),
    };
    match result {
        Ok(()) => {
            let signalled = stop.load(Ordering::Relaxed);
            eprintln!(
                "workload: stopped{}",
                if signalled { " (signal)" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("workload: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: workload serve [--listen ADDR] [--message MSG]\n       workload probe URL\n       \
         workload proxy --upstream http://HOST:PORT [--listen ADDR] [--stats ADDR]"
    );
    ExitCode::from(2)
}

/// The value after `name` in `args`.
fn flag(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}
