-- wrk script for bench_autodiscover.py: one fixed request, described by the environment,
-- and a machine-readable summary on stdout.
--
--   BENCH_METHOD   GET (default) or POST
--   BENCH_HOST     Host header (the vhost name; wrk would otherwise send the address)
--   BENCH_ACCEPT   Accept header; unset or empty sends none
--   BENCH_CTYPE    Content-Type of the body (POST)
--   BENCH_BODY     request body (POST)
--
-- The request is set up once here (no request()/response() callbacks), so wrk keeps its
-- fast path: the same bytes are written on every request and only the status is parsed.

local function env(name)
    local v = os.getenv(name)
    if v == nil or v == "" then
        return nil
    end
    return v
end

wrk.method = env("BENCH_METHOD") or "GET"
wrk.headers["Host"] = env("BENCH_HOST")
wrk.headers["Accept"] = env("BENCH_ACCEPT")
wrk.headers["Content-Type"] = env("BENCH_CTYPE")
wrk.body = env("BENCH_BODY")

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
        '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
        '"lat_mean_us":%.1f,"lat_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d}\n',
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
        latency:percentile(99)))
end
