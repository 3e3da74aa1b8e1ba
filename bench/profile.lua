-- POST /accounts/profile/ with valid edits, signed in: the session cookie and its CSRF token come
-- from bench/run.sh. Success is a 303; a form error (400) or a rejected token (403) counts as an
-- error.
dofile("bench/report.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.body = "first_name=Ada&last_name=Lovelace&email=" .. os.getenv("BENCH_EMAIL")
  .. "&mobile_phone=%2B44+20+7946+0958&job_title=Analyst&department=Engines"
  .. "&office_location=London&time_zone=Europe%2FLondon"
  .. "&bio=Wrote+the+first+published+program+for+the+Analytical+Engine."
  .. "&csrfmiddlewaretoken=" .. os.getenv("BENCH_CSRF_TOKEN")
