#!/usr/bin/python3
"""Autodiscover and WebTicket throughput and latency against a static-file baseline.

One private Front End (the demo topology, event MPM) on a free port range; wrk drives,
over plain HTTP on the internal site (so TLS is not what we measure):

  root JSON    GET /  Host: lyncdiscoverinternal.<domain>, no Accept (HAL JSON)
  root XML     the same with Accept: application/vnd.microsoft.rtc.autodiscover+xml;v=1
  token        POST /WebTicket/oauthtoken, grant_type=password (a successful sign-in:
               bcrypt cost 5 in the demo directory, then an HMAC-signed token)
  static       files holding exactly the root documents' bytes, served by the same Apache,
               vhost and port through an Alias: the baseline

Each URL is checked first (status 200, Content-Type, body size; the static bodies must
equal the dynamic ones) and the run fails loudly if a check or a wrk request fails. The
figures themselves never fail the run: they are printed, with the ratios root / static
(target: 80% or more).

  ./apxs-build.sh bench [--duration 10] [--warmup 2] [--connections 32] ...
"""
import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "lib"))
import mobility  # noqa: E402

LUA = HERE / "request.lua"
STATIC_PREFIX = "/bench-static"
ROOT_XML_ACCEPT = "application/vnd.microsoft.rtc.autodiscover+xml;v=1"
TOKEN_BODY = f"grant_type=password&username=alice@contoso.test&password={mobility.DEMO_PASSWORD}"
FORM = "application/x-www-form-urlencoded"
TARGET_RATIO = 0.80
TARGET_KEYS = ("static_json", "root_json", "static_xml", "root_xml", "token")


class BenchError(Exception):
    pass


@dataclass
class Target:
    key: str
    label: str
    method: str
    path: str
    host: str
    ctype: str                      # expected Content-Type (exact)
    accept: str = ""
    body: str = ""
    req_ctype: str = ""
    size: int = 0                   # expected body size, filled in by the checks
    result: dict = field(default_factory=dict)


def fetch(port, t: Target):
    """One request with http.client (no Accept unless the target has one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": t.host}
    if t.accept:
        headers["Accept"] = t.accept
    if t.req_ctype:
        headers["Content-Type"] = t.req_ctype
    try:
        conn.request(t.method, t.path, body=t.body.encode() if t.body else None, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def check(port, t: Target, want_body=None, want_size=None):
    """Status 200, the exact Content-Type, Content-Length = body size (= want_size), and
    the body is what it should be. Returns the body."""
    status, headers, body = fetch(port, t)
    where = f"{t.label}: {t.method} {t.path} (Host: {t.host})"
    if status != 200:
        raise BenchError(f"{where} answered {status}, not 200:\n{body[:500]!r}")
    ct = headers.get("content-type", "")
    if ct != t.ctype:
        raise BenchError(f"{where}: Content-Type {ct!r}, expected {t.ctype!r}")
    if "content-length" not in headers or int(headers["content-length"]) != len(body):
        raise BenchError(f"{where}: Content-Length {headers.get('content-length')!r} "
                         f"but {len(body)} body bytes")
    if want_size is not None and len(body) != want_size:
        raise BenchError(f"{where}: {len(body)} body bytes, expected {want_size}")
    if want_body is not None and body != want_body:
        raise BenchError(f"{where}: the static body differs from the dynamic one")
    t.size = len(body)
    return body


def check_root_json(body):
    doc = json.loads(body)
    links = doc.get("_links", {})
    for rel in ("self", "user", "xframe"):
        if "href" not in links.get(rel, {}):
            raise BenchError(f"root JSON has no _links.{rel}.href: {body[:300]!r}")


def check_root_xml(body):
    root = ET.fromstring(body)
    if root.tag != "AutodiscoverResponse" or root.find("Root") is None \
            or not root.findall("Root/Link"):
        raise BenchError(f"root XML is not an AutodiscoverResponse/Root: {body[:300]!r}")


def check_token(body):
    doc = json.loads(body)
    if doc.get("token_type") != "Bearer" or not str(doc.get("access_token", "")).startswith("cwt="):
        raise BenchError(f"token response without a bearer token: {body[:300]!r}")


def wrk(port, t: Target, seconds, threads, connections, timeout):
    env = dict(os.environ, BENCH_METHOD=t.method, BENCH_HOST=t.host, BENCH_ACCEPT=t.accept,
               BENCH_CTYPE=t.req_ctype, BENCH_BODY=t.body)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
           f"--timeout={timeout}s", "-s", str(LUA), f"http://127.0.0.1:{port}{t.path}"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"^BENCH_RESULT (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise BenchError(f"wrk failed for {t.label} (exit {p.returncode}):\n"
                         f"{' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    res = json.loads(m.group(1))
    res["raw"] = p.stdout
    errors = {k: res[k] for k in ("connect", "read", "write", "status", "timeout") if res[k]}
    if errors or res["requests"] == 0:
        raise BenchError(f"wrk reported errors for {t.label}: {errors or 'no request completed'}"
                         f"\n{p.stdout}")
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_facts(args, apache_conf_note, load_start):
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    apache = sh(mobility.APACHE, "-v").splitlines()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    rev = sh("git", "-C", str(HERE.parent), "describe", "--always", "--dirty")
    return [
        ("nproc", str(os.cpu_count() and len(os.sched_getaffinity(0)))),
        ("cpu", cpu),
        ("kernel", platform.release()),
        ("load avg", "%.2f before the run (1 min; other work on the host skews the "
                     "figures)" % load_start),
        ("apache", apache[0].split(":", 1)[1].strip() if apache else "?"),
        ("apache config", apache_conf_note),
        ("wrk", (wrk_v[0].split(" [")[0] if wrk_v else "?")
         + f"; -t{args.threads} -c{args.connections} -d{args.duration}s --latency"
           f" (warm-up {args.warmup}s each)"),
        ("source", rev),
    ]


def print_table(targets, facts, ratios):
    print()
    print("Machine")
    for k, v in facts:
        print(f"  {k:<14} {v}")
    print()
    head = f"{'target':<26} {'request':<44} {'body B':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    print(head)
    print("-" * len(head))
    for t in targets:
        r = t.result
        req = f"{t.method} {t.path}" + (" (XML Accept)" if t.accept else "")
        print(f"{t.label:<26} {req:<44} {t.size:>7} {r['rps']:>9.0f} "
              f"{r['p50_us'] / 1000:>8.2f} {r['p99_us'] / 1000:>8.2f}")
    print()
    for name, value in ratios:
        mark = "meets" if value >= TARGET_RATIO else "BELOW"
        print(f"  {name:<44} {value * 100:6.1f}%  ({mark} the {TARGET_RATIO:.0%} target)")
    print()


def error_log_problems(fe):
    """Lines at error or worse (fail the run) and warnings (reported) from the FE log."""
    errors, warnings = [], []
    for line in fe.log_text().splitlines():
        if re.search(r":(error|crit|alert|emerg)\]", line):
            errors.append(line)
        elif re.search(r":warn\]", line):
            warnings.append(line)
    return errors, warnings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk per target (10)")
    ap.add_argument("--warmup", type=int, default=2,
                    help="seconds of unmeasured wrk before each target (2; 0: none)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--timeout", type=int, default=5, help="wrk request timeout, seconds (5)")
    ap.add_argument("--servers", type=int, default=4, help="Apache child processes (4)")
    ap.add_argument("--threads-per-child", type=int, default=32,
                    help="Apache ThreadsPerChild (32)")
    ap.add_argument("--log-level", default="warn",
                    help="Apache LogLevel (warn, the Debian default; info logs every token)")
    ap.add_argument("--only", default="",
                    help="comma-separated subset of: " + ",".join(TARGET_KEYS))
    ap.add_argument("--static-no-mmap", action="store_true",
                    help="EnableMMAP Off for the static files (stock Apache mmaps each file "
                         "it sends, then munmaps it)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--raw", action="store_true", help="also print wrk's own output")
    args = ap.parse_args()
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or args.threads < 1:
        ap.error("bad --duration/--warmup/--connections/--threads")
    if args.servers * args.threads_per_child < args.connections:
        ap.error("--servers x --threads-per-child must be at least --connections")
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    if only - set(TARGET_KEYS):
        ap.error(f"--only: unknown target(s) {', '.join(sorted(only - set(TARGET_KEYS)))}")
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is missing (apt-get install -y wrk)")

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the finally below stops Apache
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="mobility-bench-"))
    tmp.chmod(0o755)  # the Apache children run as nobody
    fe = None
    rc = 0
    try:
        topo = mobility.Topology(offset=mobility.free_offset())
        state = mobility.make_state(tmp / "state", topo)
        static = tmp / "static"
        static.mkdir()
        static.chmod(0o755)
        extra = "\n".join([
            f'Alias {STATIC_PREFIX} "{static}"',
            f'<Directory "{static}">',
            "    Require all granted",
            "    EnableMMAP Off" if args.static_no_mmap else "",
            "</Directory>",
        ])
        fe = mobility.front_end(tmp / "fe", state, topo, extra=extra, mpm="event",
                                servers=args.servers, threads=args.threads_per_child,
                                log_level=args.log_level)
        fe.start()
        port = topo.fe_http
        host = topo.lyncdiscoverinternal

        root_json = Target("root_json", "root JSON", "GET", "/", host,
                           "application/json; charset=utf-8")
        root_xml = Target("root_xml", "root XML", "GET", "/", host,
                          "application/vnd.microsoft.rtc.autodiscover+xml; v=1; charset=utf-8",
                          accept=ROOT_XML_ACCEPT)
        token = Target("token", "token (POST oauthtoken)", "POST", "/WebTicket/oauthtoken", host,
                       "application/json; charset=utf-8", body=TOKEN_BODY, req_ctype=FORM)
        static_json = Target("static_json", "static (JSON root size)", "GET",
                             f"{STATIC_PREFIX}/root.json", host, "application/json")
        static_xml = Target("static_xml", "static (XML root size)", "GET",
                            f"{STATIC_PREFIX}/root.xml", host, "application/xml",
                            accept=ROOT_XML_ACCEPT)

        # checks first: every URL, and the static files made from the dynamic bodies
        jbody = check(port, root_json)
        check_root_json(jbody)
        xbody = check(port, root_xml)
        check_root_xml(xbody)
        if check(port, root_json) != jbody or check(port, root_xml) != xbody:
            raise BenchError("the root document changes between requests")
        (static / "root.json").write_bytes(jbody)
        (static / "root.xml").write_bytes(xbody)
        for f in static.iterdir():
            f.chmod(0o644)
        check(port, static_json, want_body=jbody, want_size=len(jbody))
        check(port, static_xml, want_body=xbody, want_size=len(xbody))
        check_token(check(port, token))
        print(f"bench: checks passed: root JSON {len(jbody)} B, root XML {len(xbody)} B, "
              f"static files identical; token endpoint signs in", flush=True)

        order = [static_json, root_json, static_xml, root_xml, token]
        if only:
            order = [t for t in order if t.key in only]
        total = len(order) * (args.duration + args.warmup)
        print(f"bench: {len(order)} targets x ({args.warmup}s warm-up + {args.duration}s), "
              f"about {total}s", flush=True)
        for t in order:
            if args.warmup:
                wrk(port, t, args.warmup, args.threads, args.connections, args.timeout)
            t.result = wrk(port, t, args.duration, args.threads, args.connections, args.timeout)
            r = t.result
            print(f"bench: {t.label:<26} {r['rps']:9.0f} req/s  p50 {r['p50_us'] / 1000:.2f} ms"
                  f"  p99 {r['p99_us'] / 1000:.2f} ms", flush=True)
            if args.raw:
                print(r["raw"])

        # the requests all answered 2xx (wrk counts the others); the response still has to
        # be the same after the load, and the log free of errors
        check(port, root_json, want_body=jbody)
        check(port, root_xml, want_body=xbody)
        errors, warnings = error_log_problems(fe)
        if errors:
            raise BenchError("the Front End logged errors during the run:\n" + "\n".join(errors[:20]))

        ratios = []
        if root_json.result and static_json.result:
            ratios.append(("root JSON / static throughput",
                           root_json.result["rps"] / static_json.result["rps"]))
        if root_xml.result and static_xml.result:
            ratios.append(("root XML / static throughput",
                           root_xml.result["rps"] / static_xml.result["rps"]))
        conf = (f"event MPM, {args.servers} x {args.threads_per_child} threads, "
                f"LogLevel {args.log_level}, access log on; plain HTTP 127.0.0.1:{port}; "
                f"static files with EnableMMAP {'Off' if args.static_no_mmap else 'On (default)'}")
        print_table(order, machine_facts(args, conf, load_start), ratios)
        if warnings:
            print(f"note: {len(warnings)} warning(s) in the Front End log, e.g.\n  "
                  + "\n  ".join(warnings[:5]))
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        if fe:
            tail = fe.log_text().splitlines()[-20:]
            if tail:
                print("bench: last lines of the Front End error log:\n  " + "\n  ".join(tail),
                      file=sys.stderr)
        rc = 1
    finally:
        if fe:
            fe.stop()
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
