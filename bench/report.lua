-- Prints one machine-readable line after a wrk run, for bench/run.sh to parse. It has the
-- requests per second, the 50th and 99th percentile latency in milliseconds, and the errors:
-- connect, read, write and timeout errors, and responses with a status other than 2xx or 3xx.
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    errors))
end
