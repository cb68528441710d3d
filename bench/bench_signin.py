#!/usr/bin/python3
"""Sign-in at Front End scale: N distinct users (1,000 and 6,660, Skype for Business's
users per Front End) each sign in as a mobile app does, on one private Front End per N
(event MPM), against a static file served by the same server and client in the same run.

Every user is its own row in the directory (user00001@contoso.test ...). Over plain HTTP
on the internal site, with --concurrency keep-alive connections (16):

  token      POST /WebTicket/oauthtoken (password grant; bcrypt cost 5)
  create     POST /ucwa/oauth/v1/applications, one application per user
  available  POST {A}/me/makeMeAvailable (Online, Messaging): posts the user's presence
             to the user's own applications and wakes them
  presence   POST {A}/me/presence (Busy): the same, a second time, with the table full
  static     GET of a 256-byte file through an Alias: the baseline

Each figure is requests/s and the latency p50/p99 (send to last byte) of N requests; the
ratio is the request's rate against the static file's. The session store is sized to N
plus a margin (UcwaMaxApplications), as an admin sizes it: what costs time per request
as the table grows shows as a falling ratio from 1,000 to 6,660.

The figures never fail the run; a wrong answer or an error in the server's log does.

  /usr/bin/python3 bench/bench_signin.py [--quick] [--n 1000,6660] [--concurrency 16]
"""
import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_ucwa as bu  # noqa: E402  (puts test/lib on sys.path)
import mobility  # noqa: E402
import ucwa_client as uc  # noqa: E402

APP_PREFIX = bu.APP_PREFIX
STATIC = "/bench-static/small.txt"


def log(msg):
    print(f"bench_signin: {msg}", flush=True)


def user(i):
    return f"user{i:05d}@contoso.test"


def add_users(state, topo, n):
    """n users in the directory, with alice's password hash (the same password)."""
    con = sqlite3.connect(state / "directory" / "directory.db")
    (pw,) = con.execute("SELECT password FROM users WHERE sip_uri = 'alice@contoso.test'")\
        .fetchone()
    con.executemany("INSERT INTO users VALUES (?, ?, ?, ?, NULL)",
                    [(user(i), pw, topo.pool, f"User {i:05d}") for i in range(n)])
    con.commit()
    con.close()


async def timed_all(port, raws, concurrency):
    """Sends raws over concurrency keep-alive connections: [(Response, seconds)]."""
    loop = asyncio.get_running_loop()
    out = [None] * len(raws)
    it = iter(range(len(raws)))

    async def worker():
        c = uc.Conn(loop, "127.0.0.1", port)
        try:
            for i in it:
                t0 = time.time()
                r = await c.fetch(raws[i])
                out[i] = (r, r.t_done - t0)
        finally:
            c.close()
    t0 = time.time()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(raws)))))
    return out, time.time() - t0


def phase(port, name, raws, concurrency, want):
    out, dt = asyncio.run(timed_all(port, raws, concurrency))
    for k, (r, _) in enumerate(out):
        if r.status != want:
            raise bu.BenchError(f"{name} {k}: {r.status} {r.body[:300]!r}")
    lat = sorted(t * 1000 for _, t in out)
    res = {"name": name, "n": len(raws), "rps": len(raws) / dt, "p50": bu.pct(lat, 50),
           "p99": bu.pct(lat, 99)}
    log(f"{name}: {res['rps']:.0f}/s, p50 {res['p50']:.2f} ms, p99 {res['p99']:.2f} ms")
    return res, [r for r, _ in out]


def run_n(n, args, tmp):
    topo = mobility.Topology(offset=mobility.free_offset())
    state = mobility.make_state(tmp / f"state-{n}", topo)
    add_users(state, topo, n)
    static = tmp / "static"
    static.mkdir(exist_ok=True)
    static.chmod(0o755)
    (static / "small.txt").write_bytes(b"x" * 256)
    (static / "small.txt").chmod(0o644)
    extra = "\n".join([
        f'Alias /bench-static "{static}"',
        f'<Directory "{static}">', "    Require all granted", "</Directory>",
        "KeepAliveTimeout 600", "MaxKeepAliveRequests 0",
        "<IfModule ucwa_module>",
        f"    UcwaMaxApplications {n + 64}",
        "    UcwaApplicationIdleTimeout 86400",
        "</IfModule>"])
    fe = mobility.front_end(tmp / f"fe-{n}", state, topo, extra=extra, mpm="event",
                            servers=2, threads=64, log_level="warn")
    fe.start(timeout=120)
    try:
        port, host, c = topo.fe_http, topo.pool, args.concurrency
        rows = []
        static_raw = uc.request_bytes("GET", STATIC, host)
        res, _ = phase(port, "static (warm-up)", [static_raw] * min(n, 2000), c, 200)
        res, out = phase(port, "token", [
            uc.request_bytes("POST", "/WebTicket/oauthtoken", host,
                             body=f"grant_type=password&username={user(i)}&password="
                                  f"{mobility.DEMO_PASSWORD}",
                             ctype="application/x-www-form-urlencoded")
            for i in range(n)], c, 200)
        rows.append(res)
        tokens = [json.loads(r.body)["access_token"] for r in out]
        res, out = phase(port, "create", [
            uc.request_bytes("POST", APP_PREFIX, host, token=tokens[i],
                             body=json.dumps({"userAgent": "bench_signin/1.0",
                                              "endpointId": f"phone-{i}", "culture": "en-US"}))
            for i in range(n)], c, 201)
        rows.append(res)
        bases = [r.json()["_links"]["self"]["href"] for r in out]
        body = json.dumps({"signInAs": "Online", "supportedModalities": ["Messaging"],
                           "supportedMessageFormats": ["Plain"]})
        res, _ = phase(port, "available", [
            uc.request_bytes("POST", bases[i] + "/me/makeMeAvailable", host, token=tokens[i],
                             body=body) for i in range(n)], c, 204)
        rows.append(res)
        res, _ = phase(port, "presence", [
            uc.request_bytes("POST", bases[i] + "/me/presence", host, token=tokens[i],
                             body=json.dumps({"availability": "Busy"})) for i in range(n)],
            c, 204)
        rows.append(res)
        res, _ = phase(port, "static", [static_raw] * n, c, 200)
        rows.append(res)
        st = bu.Control(port, host).status()
        if st["applications"] != n or st["available"] != n:
            raise bu.BenchError(f"the store counts fewer than {n} applications: {st}")
        errors, _ = bu.error_log_problems(fe)
        if errors:
            raise bu.BenchError("errors in the server's log:\n" + "\n".join(errors[:20]))
        return rows
    finally:
        fe.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N=1000 only")
    ap.add_argument("--n", default="", help="comma-separated N values instead of 1000,6660")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    counts = [1000] if args.quick else [1000, bu.SKYPE_USERS_PER_FE]
    if args.n:
        counts = sorted({int(x) for x in args.n.split(",")})
    tmp = Path(tempfile.mkdtemp(prefix="mobility-bench-signin-"))
    tmp.chmod(0o755)
    results = {}
    try:
        for n in counts:
            log(f"N = {n}: {n} users, UcwaMaxApplications {n + 64}")
            results[n] = run_n(n, args, tmp)
    except bu.BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"Sign-in of N distinct users, {args.concurrency} connections, event MPM "
          f"2 x 64 threads ({bu.sh('git', '-C', str(HERE.parent), 'describe', '--always', '--dirty')})")
    print(f"{'N':>6} {'request':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'vs static':>10}")
    for n, rows in results.items():
        base = rows[-1]["rps"]
        for r in rows:
            print(f"{n:>6} {r['name']:<10} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                  f"{100 * r['rps'] / base:>9.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
