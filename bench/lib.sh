# Shell functions shared by bench/run.sh and bench/flood.sh. The caller sets RESULTS, the
# folder that error messages point to.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until URL returns 200, for at most 30 seconds.
wait_for() {
    local url=$1
    for _ in $(seq 300); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "$url did not respond with 200 within 30 s; see the logs in $RESULTS" >&2
    exit 1
}

# Prints a /proc/PID/status field (VmRSS, VmHWM) in MiB.
memory_mib() {
    awk -v field="$2:" '$1 == field { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# Prints the value of the CSRF hidden input in the page on stdin.
csrf_token() {
    grep -o 'name="csrfmiddlewaretoken" value="[^"]*"' | head -n 1 | sed 's/.*value="//; s/"$//'
}

# Prints the value of cookie NAME from curl's cookie jar FILE.
jar_cookie() {
    awk -v name="$2" '$6 == name { value = $7 } END { print value }' "$1"
}
