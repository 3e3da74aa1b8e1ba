#!/usr/bin/env bash
# Benchmarks the release binary with wrk on 127.0.0.1, beside this machine's ceilings measured
# in the same run, and prints the median of BENCH_RUNS runs of each figure.
#
#   bench/run.sh
#
# Measured on the application, on a fresh SQLite database with BENCH_USERS users:
#   GET  /accounts/login/    anonymous, a first visit each time (no cookie)
#   GET  /accounts/profile/  signed in
#   POST /accounts/login/    the right password (one Argon2id verification each)
#   POST /accounts/profile/  valid edits (one write transaction each)
# and the server's RSS: idle after start, 2 s after the load, idle 15 s after it, and the peak
# (VmHWM).
#
# Ceilings, from bench/ceiling: a bare actix-web handler rendering an askama page of the same
# size as the log-in page, and Argon2id hashes per second on all cores with the application's
# parameters. Figures are reported as ratios to them.
#
# Settings, from the environment:
#   BENCH_RUNS=3            runs of every measurement; the median is reported
#   BENCH_DURATION=10s      length of each wrk run and of each Argon2 ceiling run, in seconds
#   BENCH_CONNECTIONS=32    open connections per wrk run
#   BENCH_THREADS=2         wrk threads
#   BENCH_USERS=50          users created before measuring
#   BENCH_POSTGRES_URL      unset: PostgreSQL is not measured (see the PostgreSQL block below)
#   BENCH_APP               unset: cargo builds target/release/outlook-oauth-app; else the
#                           application binary to measure, such as one built another way
#
# Raw wrk output and the application's log go to bench/results/<time>/ (not committed).
# All traffic stays on 127.0.0.1, and every wrk run stops after BENCH_DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
USERS=${BENCH_USERS:-50}

BENCH_PASSWORD="violet-lantern-88-orbit"
SECRET_KEY_VALUE="bench-secret-key-0123456789abcdef-0123456789"

RESULTS="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- tools and builds ----

if ! command -v wrk >/dev/null; then
    echo "== installing wrk (Debian package)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 1; }
done

echo "== building the release binaries"
if [ -z "${BENCH_APP:-}" ]; then
    cargo build --release --locked --quiet
fi
cargo build --release --locked --quiet --manifest-path bench/ceiling/Cargo.toml
APP=${BENCH_APP:-$ROOT/target/release/outlook-oauth-app}
CEILING="$ROOT/bench/ceiling/target/release/bench-ceiling"

# ---- helpers ----

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# Runs wrk once and records its RESULT line as "<label> <run> <field>=<value> ...".
# Usage: measure LABEL RUN URL [wrk arguments...]
measure() {
    local label=$1 run=$2 url=$3
    shift 3
    local out="$RESULTS/$label.run$run.txt"
    wrk --latency -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --timeout 10s "$@" "$url" >"$out"
    local line
    line=$(grep '^RESULT ' "$out" | sed 's/^RESULT //')
    echo "$label $run $line" >>"$RESULTS/results.txt"
    printf '   %-28s run %s: %s\n' "$label" "$run" "$line"
}

# ---- servers ----

# Starts the ceiling server with a page of PAGE_BYTES bytes on a fresh port.
start_ceiling() {
    local page_bytes=$1
    CEILING_PORT=$(free_port)
    "$CEILING" serve "127.0.0.1:$CEILING_PORT" "$page_bytes" >>"$RESULTS/ceiling.log" 2>&1 &
    CEILING_PID=$!
    PIDS+=("$CEILING_PID")
    wait_for "http://127.0.0.1:$CEILING_PORT/"
}

# Starts the application on DATABASE_URL with a fresh port, and records its idle RSS. All
# requests come from 127.0.0.1, so the per-address limit on sign-in requests is raised to its
# maximum: the benchmark measures the server, not the limiter.
start_app() {
    local name=$1 database_url=$2
    APP_PORT=$(free_port)
    APP_URL="http://127.0.0.1:$APP_PORT"
    DATABASE_URL="$database_url" BIND_ADDRESS="127.0.0.1:$APP_PORT" PUBLIC_URL="$APP_URL" \
        SECRET_KEY="$SECRET_KEY_VALUE" RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 \
        "$APP" serve >"$RESULTS/app-$name.log" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_for "$APP_URL/healthz"
    sleep 2
    {
        echo "$name idle-rss-start $(memory_mib "$APP_PID" VmRSS)"
        echo "$name idle-rss-start-anon $(memory_mib "$APP_PID" RssAnon)"
    } >>"$RESULTS/memory.txt"
}

stop() {
    kill "$1"
    wait "$1" 2>/dev/null || true
}

# Signs up USERS users through the forms, as a browser would, one cookie jar each.
create_users() {
    for i in $(seq "$USERS"); do
        local jar="$WORK/user$i.jar" token status
        token=$(curl -fsS -c "$jar" -b "$jar" "$APP_URL/accounts/signup/" | csrf_token)
        status=$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
            --data-urlencode "username=bench$i" --data-urlencode "email=bench$i@example.com" \
            --data-urlencode "password1=$BENCH_PASSWORD" --data-urlencode "password2=$BENCH_PASSWORD" \
            --data-urlencode "csrfmiddlewaretoken=$token" "$APP_URL/accounts/signup/")
        if [ "$status" != 303 ]; then
            echo "signing up bench$i returned $status, not 303" >&2
            exit 1
        fi
    done
}

# Checks that COOKIE still signs in: the profile returns 200, not a redirect to the log-in page.
check_signed_in() {
    local status
    status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $1" "$APP_URL/accounts/profile/")
    if [ "$status" != 200 ]; then
        echo "the signed-in cookie no longer works: GET /accounts/profile/ returned $status" >&2
        exit 1
    fi
}

measure_argon2() {
    local label=$1 run=$2 seconds=${DURATION%s}
    local line
    line=$("$CEILING" argon2 "$seconds")
    echo "$label $run $line" >>"$RESULTS/results.txt"
    printf '   %-28s run %s: %s\n' "$label" "$run" "$line"
}

# Runs every measurement against the application on DATABASE_URL, BENCH_RUNS times. The
# ceilings are measured inside each run, between the application's figures, so that load from
# other processes on the machine affects both alike.
run_suite() {
    local name=$1 database_url=$2
    echo "== $name: starting the application and creating $USERS users"
    start_app "$name" "$database_url"

    # The ceiling page has the size of the log-in page as a first-time visitor gets it.
    local page_bytes
    page_bytes=$(curl -fsS "$APP_URL/accounts/login/" | wc -c)
    start_ceiling "$page_bytes"
    create_users

    # Signed in as bench1: the session cookie, and the CSRF token bound to that session.
    local jar="$WORK/user1.jar"
    local signed_in_cookie profile_token
    signed_in_cookie="oauthapp_csrftoken=$(jar_cookie "$jar" oauthapp_csrftoken); oauthapp_sessionid=$(jar_cookie "$jar" oauthapp_sessionid)"
    profile_token=$(curl -fsS -H "Cookie: $signed_in_cookie" "$APP_URL/accounts/profile/" | csrf_token)
    check_signed_in "$signed_in_cookie"

    # An anonymous visitor who loaded the log-in form: the CSRF cookie and its token. The
    # log-ins are for bench2, because every one starts a session, and the profile page lists
    # all of its user's sessions: logging in as bench1 would make bench1's page grow run by run.
    local anon_jar="$WORK/anonymous.jar" login_token login_cookie
    login_token=$(curl -fsS -c "$anon_jar" "$APP_URL/accounts/login/" | csrf_token)
    login_cookie="oauthapp_csrftoken=$(jar_cookie "$anon_jar" oauthapp_csrftoken)"

    echo "== $name: measuring ($RUNS runs of $DURATION, $CONNECTIONS connections; ceiling page $page_bytes bytes)"
    for run in $(seq "$RUNS"); do
        measure "$name-ceiling-page" "$run" "http://127.0.0.1:$CEILING_PORT/" -s bench/report.lua
        measure "$name-get-login" "$run" "$APP_URL/accounts/login/" -s bench/report.lua
        measure "$name-get-profile" "$run" "$APP_URL/accounts/profile/" -s bench/report.lua \
            -H "Cookie: $signed_in_cookie"
        check_signed_in "$signed_in_cookie"
        measure_argon2 "$name-ceiling-argon2" "$run"
        BENCH_COOKIE="$login_cookie" BENCH_CSRF_TOKEN="$login_token" BENCH_USERNAME=bench2 \
            BENCH_PASSWORD="$BENCH_PASSWORD" \
            measure "$name-post-login" "$run" "$APP_URL/accounts/login/" -s bench/login.lua
        BENCH_COOKIE="$signed_in_cookie" BENCH_CSRF_TOKEN="$profile_token" \
            BENCH_EMAIL="bench1%40example.com" \
            measure "$name-post-profile" "$run" "$APP_URL/accounts/profile/" -s bench/profile.lua
    done

    # The hashing threads give their Argon2 work areas back after 10 idle seconds, so RSS is
    # read once soon after the load and once after that.
    sleep 2
    echo "$name rss-after-load $(memory_mib "$APP_PID" VmRSS)" >>"$RESULTS/memory.txt"
    sleep 13
    # RssFile is the binary's own pages, which the kernel shares and can drop; RssAnon is the
    # memory the process allocated.
    {
        echo "$name idle-rss-after $(memory_mib "$APP_PID" VmRSS)"
        echo "$name idle-rss-after-anon $(memory_mib "$APP_PID" RssAnon)"
        echo "$name idle-rss-after-file $(memory_mib "$APP_PID" RssFile)"
        echo "$name peak-rss $(memory_mib "$APP_PID" VmHWM)"
    } >>"$RESULTS/memory.txt"
    stop "$APP_PID"
    stop "$CEILING_PID"
}

# ---- the run ----

echo "== machine"
{
    echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores"
    echo "memory: $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "kernel: $(uname -r)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "wrk: -t $THREADS -c $CONNECTIONS -d $DURATION, $RUNS runs"
} | tee "$RESULTS/machine.txt"

run_suite sqlite "sqlite://$WORK/bench.sqlite3"

# ---- PostgreSQL ----
# With BENCH_POSTGRES_URL naming an empty database on a local server, for example
#   createdb -h 127.0.0.1 -U postgres bench
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bench bench/run.sh
# the same measurements run against it and appear in the summary as "postgres".
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
    run_suite postgres "$BENCH_POSTGRES_URL"
else
    echo "== postgres: not measured (set BENCH_POSTGRES_URL=postgres://… to an empty database)"
fi

# ---- summary ----

echo
echo "== summary: median of $RUNS runs"
python3 - "$RESULTS" <<'PY'
import statistics
import sys
from collections import defaultdict

results = sys.argv[1]
# runs[label][run number] = {field: value}
runs = defaultdict(dict)
for line in open(f"{results}/results.txt"):
    label, run, *fields = line.split()
    runs[label][run] = dict(field.split("=", 1) for field in fields)


def median(label, field):
    return statistics.median(float(run[field]) for run in runs[label].values())


def median_ratio(label, ceiling_label, ceiling_field):
    """Returns the median over runs of the figure divided by the ceiling of the same run, so
    that load from other processes, which changes from run to run, affects both sides alike."""
    return statistics.median(
        float(fields["rps"]) / float(runs[ceiling_label][run][ceiling_field])
        for run, fields in runs[label].items()
    )


# Label suffix, description, which ceiling, and the target as a share of that ceiling.
rows = [
    ("get-login", "GET  /accounts/login/ anonymous", "page", 0.50),
    ("get-profile", "GET  /accounts/profile/ signed in", "page", 0.30),
    ("post-login", "POST /accounts/login/", "argon2", 0.90),
    ("post-profile", "POST /accounts/profile/", None, None),
]
header = (f"{'request':35} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'ratio':>7} {'target':>7}")
databases = sorted({label.split("-", 1)[0] for label in runs})
for database in databases:
    ceilings = {
        "page": (f"{database}-ceiling-page", "rps"),
        "argon2": (f"{database}-ceiling-argon2", "hashes_per_second"),
    }
    print(f"[{database}]")
    print(f"ceiling: bare actix-web + askama page  {median(*ceilings['page']):10.1f} requests/s")
    print(f"ceiling: Argon2id on all cores          {median(*ceilings['argon2']):10.1f} hashes/s")
    print(header)
    print("-" * len(header))
    for suffix, description, ceiling_name, target in rows:
        label = f"{database}-{suffix}"
        rps = median(label, "rps")
        errors = int(sum(float(run["errors"]) for run in runs[label].values()))
        if ceiling_name:
            ratio = median_ratio(label, *ceilings[ceiling_name])
            ratio_columns = f"{ratio:7.1%} {'>=' + format(target, '.0%'):>7}  "
            ratio_columns += "met" if ratio >= target else "MISSED"
        else:
            ratio_columns = f"{'-':>7} {'-':>7}"
        print(f"{description:35} {rps:9.1f} {median(label, 'p50_ms'):8.2f} "
              f"{median(label, 'p99_ms'):8.2f} {errors:7d} {ratio_columns}")
    for line in open(f"{results}/memory.txt"):
        name, metric, mib = line.split()
        if name != database:
            continue
        note = ""
        if metric in ("idle-rss-start", "idle-rss-after"):
            note = "  target <= 20 MiB: " + ("met" if float(mib) <= 20 else "MISSED")
        print(f"RSS {metric:16} {float(mib):7.1f} MiB{note}")
    print()
print("req/s and latencies are medians over the runs; each ratio is the median of the runs'")
print("figure divided by the ceiling measured in the same run; errors are summed over all runs.")
print(f"raw output: {results}")
PY
