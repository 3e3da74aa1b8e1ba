#!/usr/bin/env bash
# Floods the release binary with simultaneous log-in posts on 127.0.0.1 and measures, while the
# flood runs, the server's memory and the latency of page requests.
#
#   bench/flood.sh
#
# On a fresh SQLite database with BENCH_USERS users, in this order:
#   baseline  GET /accounts/login/ (anonymous) and GET /accounts/profile/ (signed in as bench1),
#             both at once, with no other load
#   flood     BENCH_FLOOD_CONNECTIONS connections posting the right password for bench2 to
#             POST /accounts/login/, each connection sending its next post as soon as the
#             response to the last one arrives, for BENCH_FLOOD_DURATION. A second after the
#             flood starts, the same two page measurements as the baseline run again, inside it.
# Every password check is an Argon2id hash of about 19 MiB and tens of milliseconds. The
# application runs them on a bounded set of threads with a bounded queue and rejects posts past
# the queue with 503, so the flood's posts end as 303 (signed in) or 503 (queue full). The
# per-address rate limit on sign-in requests is raised so that no post stops at the limiter (429).
#
# Memory: a background loop reads VmRSS from /proc/PID/status every 50 ms for the whole run. The
# summary has the RSS at start, idle before the flood, the sampled peak during the flood and
# over the run, VmHWM, and the RSS 2 s and 15 s after the flood. The two readings after it differ
# because the hashing threads give their work areas back after 10 s without work.
#
# The script exits non-zero when the application exits during the run, when no request for a page
# returned 200 during the flood, or when the signed-in cookie stops working.
#
# Settings, from the environment:
#   BENCH_FLOOD_CONNECTIONS=1000  simultaneous log-in posts (wrk connections)
#   BENCH_FLOOD_THREADS=2         wrk threads sending the posts
#   BENCH_FLOOD_DURATION=20s      length of the flood, in seconds; at least BENCH_PAGE_DURATION + 2
#   BENCH_PAGE_CONNECTIONS=4      connections of each page measurement (one wrk thread each)
#   BENCH_PAGE_DURATION=10s       length of each page measurement, in seconds
#   BENCH_USERS=5                 users created before measuring, at least 2
#   BENCH_POSTGRES_URL            unset: PostgreSQL is not measured (see the PostgreSQL block below)
#   BENCH_APP                     unset: cargo builds target/release/outlook-oauth-app; else the
#                                 application binary to measure, such as one built another way
#
# Raw wrk output, the RSS samples and the application's log go to bench/results/<time>-flood/
# (not committed). All traffic stays on 127.0.0.1, and every wrk run stops after its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

FLOOD_CONNECTIONS=${BENCH_FLOOD_CONNECTIONS:-1000}
FLOOD_THREADS=${BENCH_FLOOD_THREADS:-2}
FLOOD_DURATION=${BENCH_FLOOD_DURATION:-20s}
PAGE_CONNECTIONS=${BENCH_PAGE_CONNECTIONS:-4}
PAGE_DURATION=${BENCH_PAGE_DURATION:-10s}
USERS=${BENCH_USERS:-5}

BENCH_PASSWORD="violet-lantern-88-orbit"
SECRET_KEY_VALUE="bench-secret-key-0123456789abcdef-0123456789"

# ---- settings check ----

# Prints the whole seconds of a wrk duration such as "20s", or exits when it has another form.
duration_seconds() {
    local name=$1 value=$2
    if ! [[ $value =~ ^[0-9]+s$ ]]; then
        echo "$name=$value is invalid: give whole seconds, such as 20s" >&2
        exit 1
    fi
    echo "${value%s}"
}
FLOOD_SECONDS=$(duration_seconds BENCH_FLOOD_DURATION "$FLOOD_DURATION")
PAGE_SECONDS=$(duration_seconds BENCH_PAGE_DURATION "$PAGE_DURATION")
if [ "$FLOOD_SECONDS" -lt $((PAGE_SECONDS + 2)) ]; then
    echo "BENCH_FLOOD_DURATION=$FLOOD_DURATION is too short: the page measurements start 1 s into" \
        "the flood and last BENCH_PAGE_DURATION=$PAGE_DURATION, so the flood needs at least" \
        "$((PAGE_SECONDS + 2))s" >&2
    exit 1
fi
if [ "$USERS" -lt 2 ]; then
    echo "BENCH_USERS=$USERS is too small: bench1 is signed in and the flood logs in as bench2" >&2
    exit 1
fi

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

# ---- tools, build and limits ----

if ! command -v wrk >/dev/null; then
    echo "== installing wrk (Debian package)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "bench/flood.sh needs $tool" >&2; exit 1; }
done

if [ -z "${BENCH_APP:-}" ]; then
    echo "== building the release binary"
    cargo build --release --locked --quiet
fi
APP=${BENCH_APP:-$ROOT/target/release/outlook-oauth-app}
if [ ! -x "$APP" ]; then
    echo "the application binary $APP is missing or not executable; set BENCH_APP to one" >&2
    exit 1
fi

# wrk opens one socket per connection, and so does the application, which inherits this limit.
OPEN_FILES_NEEDED=$((FLOOD_CONNECTIONS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$OPEN_FILES_NEEDED" ]; then
    if ! ulimit -n "$OPEN_FILES_NEEDED" 2>/dev/null; then
        echo "failed to raise the open-file limit from $(ulimit -n) to $OPEN_FILES_NEEDED (hard" \
            "limit $(ulimit -Hn)); raise the hard limit or lower BENCH_FLOOD_CONNECTIONS" >&2
        exit 1
    fi
fi

RESULTS="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-flood"
mkdir -p "$RESULTS"

# ---- helpers ----

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# Writes "<epoch seconds> <VmRSS in KiB>" to stdout every 50 ms until process PID exits. Bash
# builtins read the file, so a sample costs one fork (sleep), not two.
sample_rss() {
    local pid=$1 key value rest rss
    while :; do
        rss=""
        while read -r key value rest; do
            if [ "$key" = "VmRSS:" ]; then
                rss=$value
                break
            fi
        done 2>/dev/null <"/proc/$pid/status" || break
        # A process that has exited but is not yet reaped (a zombie) has no VmRSS line.
        [ -n "$rss" ] || break
        echo "$EPOCHREALTIME $rss"
        sleep 0.05
    done
}

# Succeeds while the application runs: its /proc entry exists and it is not a zombie.
app_running() {
    [ -r "/proc/$APP_PID/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$APP_PID/status"
}

# Exits with a message when the application has exited or GET /healthz no longer returns 200.
check_app_alive() {
    local when=$1 status
    if ! app_running; then
        echo "the application (pid $APP_PID) exited $when; see $RESULTS/app-$DATABASE.log" >&2
        exit 1
    fi
    status=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$APP_URL/healthz" || true)
    if [ "$status" != 200 ]; then
        echo "the application stopped answering $when: GET /healthz returned $status, not 200;" \
            "see $RESULTS/app-$DATABASE.log" >&2
        exit 1
    fi
}

# Checks that COOKIE still signs in: the profile returns 200, not a redirect to the log-in page.
check_signed_in() {
    local cookie=$1 when=$2 status
    status=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" \
        "$APP_URL/accounts/profile/" || true)
    if [ "$status" != 200 ]; then
        echo "the signed-in cookie no longer works $when: GET /accounts/profile/ returned" \
            "$status, not 200" >&2
        exit 1
    fi
}

# Starts wrk in the background with its output in $RESULTS/<database>-LABEL.txt, and sets
# WRK_PID. Usage: start_wrk LABEL [wrk arguments...]
start_wrk() {
    local label=$1
    shift
    wrk "$@" >"$RESULTS/$DATABASE-$label.txt" 2>&1 &
    WRK_PID=$!
    PIDS+=("$WRK_PID")
}

# Waits for the wrk run with PID started by start_wrk, and records its RESULT line in
# results.txt as "<database> LABEL <field>=<value> ...".
finish_wrk() {
    local pid=$1 label=$2
    local out="$RESULTS/$DATABASE-$label.txt" line
    if ! wait "$pid"; then
        echo "wrk for $DATABASE-$label failed; see $out" >&2
        exit 1
    fi
    line=$(grep '^RESULT ' "$out" | sed 's/^RESULT //' || true)
    if [ -z "$line" ]; then
        echo "wrk for $DATABASE-$label printed no RESULT line; see $out" >&2
        exit 1
    fi
    echo "$DATABASE $label $line" >>"$RESULTS/results.txt"
    printf '   %-22s %s\n' "$label" "$line"
}

# Prints field NAME of the RESULT line recorded for LABEL in the current database.
result_field() {
    local label=$1 name=$2
    awk -v database="$DATABASE" -v label="$label" -v name="$name" '
        $1 == database && $2 == label {
            for (i = 3; i <= NF; i++) {
                split($i, pair, "=")
                if (pair[1] == name) { print pair[2] }
            }
        }' "$RESULTS/results.txt"
}

# Records "<database> NAME VALUE" in memory.txt, for the summary.
record_memory() {
    echo "$DATABASE $1 $2" >>"$RESULTS/memory.txt"
}

# ---- the application ----

# Starts the application on DATABASE_URL with a fresh port, and starts sampling its RSS. All
# requests come from 127.0.0.1, so the per-address limit on sign-in requests is raised to its
# maximum: the flood reaches the hashing queue, not the limiter.
start_app() {
    local database_url=$1
    APP_PORT=$(free_port)
    APP_URL="http://127.0.0.1:$APP_PORT"
    DATABASE_URL="$database_url" BIND_ADDRESS="127.0.0.1:$APP_PORT" PUBLIC_URL="$APP_URL" \
        SECRET_KEY="$SECRET_KEY_VALUE" RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 \
        "$APP" serve >"$RESULTS/app-$DATABASE.log" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    sample_rss "$APP_PID" >"$RESULTS/rss-$DATABASE.txt" &
    SAMPLER_PID=$!
    PIDS+=("$SAMPLER_PID")
    wait_for "$APP_URL/healthz"
    sleep 2
    record_memory rss-start "$(memory_mib "$APP_PID" VmRSS)"
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Signs up USERS users through the forms, as a browser would, one cookie jar each.
create_users() {
    for i in $(seq "$USERS"); do
        local jar="$WORK/$DATABASE-user$i.jar" token status
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

# Runs the two page measurements at once, each with one wrk thread, and records them as
# PHASE-login and PHASE-profile.
measure_pages() {
    local phase=$1 login_pid profile_pid
    start_wrk "$phase-login" --latency -t 1 -c "$PAGE_CONNECTIONS" -d "$PAGE_DURATION" \
        --timeout 10s -s bench/flood-page.lua "$APP_URL/accounts/login/"
    login_pid=$WRK_PID
    BENCH_COOKIE="$SIGNED_IN_COOKIE" start_wrk "$phase-profile" --latency -t 1 \
        -c "$PAGE_CONNECTIONS" -d "$PAGE_DURATION" --timeout 10s -s bench/flood-page.lua \
        "$APP_URL/accounts/profile/"
    profile_pid=$WRK_PID
    finish_wrk "$login_pid" "$phase-login"
    finish_wrk "$profile_pid" "$phase-profile"
}

# Runs the baseline, the flood and the memory readings against the application on
# DATABASE_URL, recorded under NAME.
run_flood() {
    DATABASE=$1
    local database_url=$2
    echo "== $DATABASE: starting the application and creating $USERS users"
    start_app "$database_url"
    create_users

    # Signed in as bench1: the session cookie, and the CSRF cookie that goes with it.
    local jar="$WORK/$DATABASE-user1.jar"
    SIGNED_IN_COOKIE="oauthapp_csrftoken=$(jar_cookie "$jar" oauthapp_csrftoken); oauthapp_sessionid=$(jar_cookie "$jar" oauthapp_sessionid)"
    check_signed_in "$SIGNED_IN_COOKIE" "after sign-up"

    # An anonymous visitor who loaded the log-in form: the CSRF cookie and its token. The posts
    # log in as bench2, because every success starts a session and the profile page lists all
    # of its user's sessions: logging in as bench1 would make the measured page grow.
    local anon_jar="$WORK/$DATABASE-anonymous.jar" login_token login_cookie
    login_token=$(curl -fsS -c "$anon_jar" "$APP_URL/accounts/login/" | csrf_token)
    login_cookie="oauthapp_csrftoken=$(jar_cookie "$anon_jar" oauthapp_csrftoken)"
    local last_hash_at=$SECONDS

    echo "== $DATABASE: baseline, pages only ($PAGE_CONNECTIONS connections each, $PAGE_DURATION)"
    measure_pages baseline
    check_signed_in "$SIGNED_IN_COOKIE" "after the baseline"

    # The hashing threads keep their work areas for 10 s after their last hash (the sign-ups),
    # so wait 12 s from it for the idle figure.
    local idle_wait=$((last_hash_at + 12 - SECONDS))
    if [ "$idle_wait" -gt 0 ]; then
        sleep "$idle_wait"
    fi
    record_memory rss-before-flood "$(memory_mib "$APP_PID" VmRSS)"
    record_memory load-before-flood "$(cut -d ' ' -f 1 /proc/loadavg)"

    echo "== $DATABASE: flood, $FLOOD_CONNECTIONS connections posting log-ins for $FLOOD_DURATION;" \
        "pages measured again from 1 s in"
    record_memory flood-start "$EPOCHREALTIME"
    local flood_pid
    BENCH_COOKIE="$login_cookie" BENCH_CSRF_TOKEN="$login_token" BENCH_USERNAME=bench2 \
        BENCH_PASSWORD="$BENCH_PASSWORD" \
        start_wrk flood-posts --latency -t "$FLOOD_THREADS" -c "$FLOOD_CONNECTIONS" \
        -d "$FLOOD_DURATION" --timeout 30s -s bench/flood-login.lua "$APP_URL/accounts/login/"
    flood_pid=$WRK_PID
    sleep 1
    measure_pages flood
    check_app_alive "during the flood"
    finish_wrk "$flood_pid" flood-posts
    record_memory flood-end "$EPOCHREALTIME"
    check_app_alive "during the flood"

    local page served
    for page in login profile; do
        served=$(result_field "flood-$page" status_200)
        if [ "${served:-0}" -eq 0 ]; then
            echo "no GET /accounts/$page/ returned 200 during the flood; see" \
                "$RESULTS/$DATABASE-flood-$page.txt and $RESULTS/app-$DATABASE.log" >&2
            exit 1
        fi
    done
    check_signed_in "$SIGNED_IN_COOKIE" "after the flood"

    sleep 2
    record_memory rss-2s-after "$(memory_mib "$APP_PID" VmRSS)"
    sleep 13
    record_memory rss-15s-after "$(memory_mib "$APP_PID" VmRSS)"
    record_memory vmhwm "$(memory_mib "$APP_PID" VmHWM)"
    check_app_alive "after the flood"
    stop "$APP_PID"
    stop "$SAMPLER_PID"
}

# ---- the run ----

echo "== machine"
{
    echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores"
    echo "memory: $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "load average before start (1, 5, 15 min): $(cut -d ' ' -f 1-3 /proc/loadavg)"
    echo "kernel: $(uname -r)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "binary: $APP"
    echo "open-file limit: $(ulimit -n)"
} | tee "$RESULTS/machine.txt"

run_flood sqlite "sqlite://$WORK/flood.sqlite3"

# ---- PostgreSQL ----
# With BENCH_POSTGRES_URL naming an empty database on a local server, for example
#   createdb -h 127.0.0.1 -U postgres flood
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/flood bench/flood.sh
# the same run follows against it and appears in the summary as "postgres". The users it
# creates stay, so every run needs a new empty database.
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
    run_flood postgres "$BENCH_POSTGRES_URL"
else
    echo "== postgres: not measured (set BENCH_POSTGRES_URL=postgres://… to an empty database)"
fi

# ---- summary ----

echo
python3 - "$RESULTS" "$FLOOD_CONNECTIONS" "$FLOOD_DURATION" "$PAGE_CONNECTIONS" "$PAGE_DURATION" \
    <<'PY' | tee "$RESULTS/summary.txt"
import sys
from collections import defaultdict

results, flood_connections, flood_duration, page_connections, page_duration = sys.argv[1:]

# runs[database][label] = {field: value}
runs = defaultdict(dict)
for line in open(f"{results}/results.txt"):
    database, label, *fields = line.split()
    runs[database][label] = {k: float(v) for k, v in (f.split("=", 1) for f in fields)}

# memory[database][name] = value
memory = defaultdict(dict)
for line in open(f"{results}/memory.txt"):
    database, name, value = line.split()
    memory[database][name] = float(value)


def read_samples(database):
    """Returns the RSS samples as (epoch seconds, MiB) pairs."""
    samples = []
    for line in open(f"{results}/rss-{database}.txt"):
        parts = line.split()
        if len(parts) == 2:
            samples.append((float(parts[0]), int(parts[1]) / 1024))
    return samples


def page_errors(run):
    """Counts responses other than 200, socket errors and timeouts."""
    return int(run["status_other"] + run["socket_errors"] + run["timeouts"])


print("== summary")
print(open(f"{results}/machine.txt").read().rstrip())
for database in runs:
    run = runs[database]
    readings = memory[database]
    print()
    print(f"[{database}] flood: {flood_connections} connections posting log-ins for "
          f"{flood_duration}; pages: {page_connections} connections each for {page_duration}, "
          "both at once")
    print(f"load average (1 min) just before the flood: {readings['load-before-flood']:.2f}")
    header = (f"{'page':34} {'phase':9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8} {'errors':>7}")
    print(header)
    print("-" * len(header))
    pages = [("login", "GET /accounts/login/ anonymous"),
             ("profile", "GET /accounts/profile/ signed in")]
    for page, description in pages:
        for phase in ("baseline", "flood"):
            result = run[f"{phase}-{page}"]
            print(f"{description:34} {phase:9} {result['rps']:8.1f} {result['p50_ms']:8.2f} "
                  f"{result['p99_ms']:8.2f} {result['max_ms']:8.2f} {page_errors(result):7d}")
    print("errors: responses other than 200, socket errors and timeouts")

    posts = run["flood-posts"]
    print()
    print(f"POST /accounts/login/ flood: {int(posts['requests'])} responses, "
          f"{posts['rps']:.1f} req/s, p50 {posts['p50_ms']:.2f} ms, "
          f"p99 {posts['p99_ms']:.2f} ms, max {posts['max_ms']:.2f} ms")
    print(f"  303 signed in {int(posts['status_303'])}, "
          f"503 queue full {int(posts['status_503'])}, "
          f"429 rate limited {int(posts['status_429'])}, other {int(posts['status_other'])}, "
          f"socket errors {int(posts['socket_errors'])}, timeouts {int(posts['timeouts'])}")

    samples = read_samples(database)
    start, end = readings["flood-start"], readings["flood-end"]
    during = [mib for t, mib in samples if start <= t <= end]
    interval_ms = (samples[-1][0] - samples[0][0]) / max(len(samples) - 1, 1) * 1000
    print()
    print(f"RSS of the application (VmRSS; {len(samples)} samples, one every "
          f"{interval_ms:.0f} ms on average):")
    rows = [
        ("at start, 2 s after /healthz answered", readings["rss-start"]),
        ("idle before the flood", readings["rss-before-flood"]),
        ("peak during the flood (sampled)", max(during) if during else float("nan")),
        ("peak over the run (sampled)", max(mib for _, mib in samples)),
        ("VmHWM (peak over the process's life)", readings["vmhwm"]),
        ("2 s after the flood", readings["rss-2s-after"]),
        ("15 s after the flood", readings["rss-15s-after"]),
    ]
    for description, mib in rows:
        print(f"  {description:40} {mib:7.1f} MiB")
print()
print(f"raw output: {results}")
PY
