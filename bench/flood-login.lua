-- The flood's request: POST /accounts/login/ with the right password, built by bench/login.lua
-- from BENCH_COOKIE, BENCH_CSRF_TOKEN, BENCH_USERNAME and BENCH_PASSWORD. Loading
-- bench/flood-report.lua after it replaces report.lua's done() with one that also counts
-- 303 (signed in), 503 (hashing queue full) and 429 (rate limit) responses.
dofile("bench/login.lua")

COUNTED_STATUSES = {303, 503, 429}
dofile("bench/flood-report.lua")
