#!/usr/bin/env bash
# Measures every headline figure of BENCHMARKS.md in one run on this machine and writes a report
# beside its anchors, compared with the previous report.
#
#   tests/bench-report.sh            # everything (about 30 minutes on 2 cores; needs Docker)
#   tests/bench-report.sh p2 p3      # only some figures (p1 … p7)
#   QUICK=1 tests/bench-report.sh    # fewer trials and smaller scales, to check the script
#
# Each benchmark prints `figure: KEY VALUE UNIT` lines; they are collected into
# tests/bench-reports/<UTC time>.tsv, and tests/bench-reports/latest.md is the table of this run
# against the previous .tsv (the change is shown for every figure both runs have).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
reports="$root/tests/bench-reports"
mkdir -p "$reports"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(p1 p2 p3 p4 p5 p6 p7)
has() { local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
quick="${QUICK:-0}"

run() {
    echo "== $*" >&2
    # Not `tee /dev/stderr`: reopening a redirected stderr file would truncate it.
    "$@" 2> >(sed 's/^/   /' >&2) | while IFS= read -r line; do
        echo "$line" >&2
        case "$line" in figure:*) echo "$line" >> "$raw" ;; esac
    done
}

cargo build --release --locked -p controller >&2
tests/images/build.sh >&2 || echo "no Docker engine: p6 and the agent RSS are skipped" >&2

if has p2; then run cargo bench --locked -p controller --bench scheduler; fi
if has p1 || has p7; then
    if [ "$quick" = 1 ]; then
        run cargo bench --locked -p tests --bench orchestration -- scale 10000 500
    else
        run cargo bench --locked -p tests --bench orchestration -- scale 100000 5000
        has p1 && run cargo bench --locked -p tests --bench orchestration -- scale 1000000 5000
    fi
fi
if has p3; then
    PUSH_TRIALS=$([ "$quick" = 1 ] && echo 5 || echo 20) run cargo bench --locked -p tests --bench push
    run cargo bench --locked -p tests --bench gitops
fi
if has p4; then
    run cargo bench --locked -p tests --bench orchestration -- node-loss "$([ "$quick" = 1 ] && echo 3 || echo 20)"
    CRASH_TRIALS=$([ "$quick" = 1 ] && echo 3 || echo 20) run cargo bench --locked -p tests --bench docker -- crash
fi
if has p5; then
    FAILOVER_TRIALS=$([ "$quick" = 1 ] && echo 3 || echo 20) run cargo bench --locked -p tests --bench failover
fi
if has p6; then
    DEPLOY_TRIALS=$([ "$quick" = 1 ] && echo 1 || echo 3) run cargo bench --locked -p tests --bench docker -- deploy
fi
if has p7; then
    run cargo bench --locked -p tests --bench docker -- rss
    # Lint of 1,000 stack files: the whole process, start to exit.
    lintdir="$(mktemp -d)"
    # Each copy publishes its own port: a clean repository, as CI lints it (cross-stack port
    # clashes would make it a measure of error rendering).
    for i in $(seq 1 1000); do
        mkdir -p "$lintdir/s$i"
        sed "s/\"8000:8000\"/\"$((20000 + i)):8000\"/" examples/stacks/web/stack.yaml \
            > "$lintdir/s$i/compose.yaml"
    done
    if ! /usr/bin/time -f "%e %M" -o "$lintdir/time" target/release/reconciler lint "$lintdir" >/dev/null 2>&1; then
        echo "reconciler lint found problems in the generated files" >&2
        exit 1
    fi
    read -r secs kib < "$lintdir/time"
    echo "figure: p7.lint_1000_files $(awk "BEGIN{print $secs*1000}") ms" >> "$raw"
    echo "figure: p7.lint_1000_files_rss $(awk "BEGIN{print $kib/1024}") MiB" >> "$raw"
    rm -rf "$lintdir"
fi

tsv="$reports/$stamp.tsv"
awk '{print $2 "\t" $3 "\t" $4}' "$raw" > "$tsv"
# Earlier reports, newest first: each figure is compared with the newest report that has it, so a
# partial run (`tests/bench-report.sh p6`) does not hide the other figures' history.
mapfile -t earlier < <(ls "$reports"/*.tsv 2>/dev/null | grep -v "$stamp" | sort -r || true)
previous="${earlier[0]:-}"

anchor() {
    case "$1" in
        p1.*all_running_s) echo "Nomad C1M: 1,000,000 containers in < 5 min on 5 servers; goal < 60 s" ;;
        p1.*tasks_per_s) echo "Nomad C1M: 3,750 placements/s" ;;
        p1.*peak_rss) echo "manager memory (P7 at 100k tasks)" ;;
        p2.*) echo "goal > 1,000,000 placements/s" ;;
        p3.push_to_assigned*) echo "Argo CD polls every 3 min, Flux every 1 min by default" ;;
        p3.webhook*) echo "goal: webhook → fetch start < 50 ms" ;;
        p3.*) echo "goal: push → planned p50 < 100 ms" ;;
        p4.node_loss*) echo "Swarm: ~15 s to declare a node down (5 s heartbeat × 3)" ;;
        p4.crash*) echo "restart policy delay 0 s; Swarm reacts at its next task event" ;;
        p5.*) echo "goal < 2 s; Swarm elections 10–19 s" ;;
        p6.*engine_api_ratio*) echo "the engine alone, no tool: the floor under any ratio" ;;
        p6.*ratio*) echo "goal ≤ 0.8 × docker compose on the same engine" ;;
        p6.*) echo "same engine, same image, side by side" ;;
        p7.agent*) echo "agent-only node, 50 running tasks, idle" ;;
        p7.lint*rss) echo "peak memory of that lint process" ;;
        p7.lint*) echo "goal: 1,000 files < 1 s" ;;
        *) echo "" ;;
    esac
}

{
    echo "# Benchmark report $stamp"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(rustc --version)."
    [ "$quick" = 1 ] && echo "QUICK run: fewer trials and smaller scales."
    echo "Previous: $(if [ -n "$previous" ]; then basename "$previous"; else echo none; fi) (each figure against the newest earlier report that has it)"
    echo
    echo "| Figure | This run | Previous | Change | Anchor |"
    echo "|---|---|---|---|---|"
    while IFS=$'\t' read -r key value unit; do
        before=""
        change=""
        for report in "${earlier[@]}"; do
            before="$(awk -v k="$key" -F'\t' '$1 == k {print $2}' "$report")"
            if [ -n "$before" ]; then break; fi
        done
        if [ -n "$before" ]; then
            change="$(awk -v a="$value" -v b="$before" 'BEGIN { if (b != 0) printf "%+.1f %%", (a - b) * 100 / b }')"
            before="$before $unit"
        fi
        echo "| $key | $value $unit | $before | $change | $(anchor "$key") |"
    done < "$tsv"
} > "$reports/latest.md"
cat "$reports/latest.md"
