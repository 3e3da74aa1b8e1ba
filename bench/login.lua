-- POST /accounts/login/ with the right password, as an anonymous visitor who loaded the form:
-- the CSRF cookie and token come from bench/run.sh. Success is a 303; a wrong password (400)
-- or a rejected token (403) counts as an error.
dofile("bench/report.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.body = "username=" .. os.getenv("BENCH_USERNAME")
  .. "&password=" .. os.getenv("BENCH_PASSWORD")
  .. "&next=&csrfmiddlewaretoken=" .. os.getenv("BENCH_CSRF_TOKEN")
