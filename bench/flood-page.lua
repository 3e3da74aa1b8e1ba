-- GET of one page during the flood, with the cookie in BENCH_COOKIE when it is set. A 200 is a
-- page served; anything else counts as status_other (a redirect to the log-in page, a 503).
local cookie = os.getenv("BENCH_COOKIE")
if cookie ~= nil and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

COUNTED_STATUSES = {200}
dofile("bench/flood-report.lua")
