-- Counts responses by HTTP status in every wrk thread and prints one machine-readable line
-- after the run, for bench/flood.sh to parse:
--   RESULT requests=N rps=R p50_ms=.. p99_ms=.. max_ms=.. socket_errors=N timeouts=N
--          status_<code>=N ... status_other=N
-- A script that loads this file sets COUNTED_STATUSES, the codes that get their own field,
-- before calling dofile. Every other code counts as status_other.
--
-- Each wrk thread runs in its own Lua state, so the counters are globals of each thread's
-- state. done() runs in the main state and reads them with thread:get on the thread objects
-- that setup() collected.

COUNTED_STATUSES = COUNTED_STATUSES or {200}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for _, code in ipairs(COUNTED_STATUSES) do
    _G["status_" .. code] = 0
  end
  status_other = 0
end

function response(status, headers, body)
  local name = "status_" .. status
  if _G[name] ~= nil then
    _G[name] = _G[name] + 1
  else
    status_other = status_other + 1
  end
end

local function sum_over_threads(name)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get(name) or 0)
  end
  return total
end

function done(summary, latency, requests)
  local e = summary.errors
  local fields = {
    string.format("requests=%d", summary.requests),
    string.format("rps=%.1f", summary.requests / (summary.duration / 1e6)),
    string.format("p50_ms=%.2f", latency:percentile(50) / 1000),
    string.format("p99_ms=%.2f", latency:percentile(99) / 1000),
    string.format("max_ms=%.2f", latency.max / 1000),
    string.format("socket_errors=%d", e.connect + e.read + e.write),
    string.format("timeouts=%d", e.timeout),
  }
  for _, code in ipairs(COUNTED_STATUSES) do
    table.insert(fields, string.format("status_%d=%d", code, sum_over_threads("status_" .. code)))
  end
  table.insert(fields, string.format("status_other=%d", sum_over_threads("status_other")))
  io.write("RESULT " .. table.concat(fields, " ") .. "\n")
end
