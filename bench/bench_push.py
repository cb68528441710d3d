#!/usr/bin/python3
"""Push notifications through mod_ucwa's dispatcher, to a local WebPush service: latency
from the POST that causes a push to its arrival, and notifications per second, each next
to a baseline measured in the same run.

One private Front End (event MPM, plain HTTP on the internal site, bearer tokens) with
WebPush on (the lines of test/integration/test_ucwa_push.py's push_config(): a P-256 VAPID
key made with openssl, UcwaPushAllowHttp, loopback endpoints allowed, background after
1 s), and web-push-testing (npm, the pinned version of test/integration/push_services.py,
installed the same way), which checks each push's VAPID signature and decrypts it. It is
started through bench/wpt_timed.js: the package's own server and model, plus the arrival
time of every push (taken when Node emits the request, sub-millisecond clock), so no
polling decides when a push came. Its clock is compared with this process's at the start
and the end (the smallest of 20 round trips) and the offset is taken off.

The dispatcher under test is the module's (mod_ucwa/ucwa_push_dispatch.c): a mod_watchdog
singleton thread that sleeps 100 ms, then takes up to 16 due jobs from the shared-memory
queue and sends them one by one over one libcurl connection, then sleeps again.

  latency    alice (foreground, one application) and one background bob application
             (registered with its own subscription, reportBackground) in a connected
             conversation. Sequential: alice posts a message (text/plain), the bench waits
             for that push to arrive, then for the baseline below, then pauses a random
             20..120 ms (so the samples do not lock to the watchdog's period; one push per
             job: the next message is posted only after the last push arrived). Figure:
             POST sent -> push arrived at web-push-testing (and -> decrypted and stored)
  baseline b the UCWA event path for the same message, interleaved with the samples above:
             a foreground bob application in a second conversation with alice, its event
             GET parked (checked on /ucwa-status) before the POST; POST sent -> the kernel
             receive time of the event response
  throughput N users push0001.. (added to the demo directory), each with one background
             application and its own subscription; alice (ceil(N/16) applications: 16 live
             conversations each at most) posts, as fast as the server answers on 8
             connections, (1) one invitation to each user, then, once every user accepted
             and went back to the background, (2) one message in each conversation. Figure:
             N / (last push arrived - first POST sent); also the rate over the arrival
             window, the latency of each push under the burst, and the dispatcher's rounds
             as seen from the arrivals (gaps > 40 ms split rounds)
  baseline a web-push-testing's capacity for the same pushes without Apache:
             test/tools/push_probe (common/push/push_* as the module uses them, built with
             `make -C test/unit tools` into --probe-build) sends N correctly encrypted,
             VAPID-signed pushes (chunks of 100, its maximum per process, one connection
             each, in turn), then the same N over 2 connections at once (2 processes)

Users: several users and not N applications of bob, because an invitation alerts at most
16 applications of the invited user (UCWA_CONV_ENDPOINTS, the first in slot order), so bob
could not have N accepted conversations on N different applications.

Every push is checked: it arrived once, was answered 201 (signature and decryption good),
and decrypts to exactly {event, conversation, badge} (UcwaPushContent None: no customer
data) with the right event, the recipient's conversation and the expected badge; the
baseline's pushes to their payload too. The figures never fail the run; a wrong answer, a
client error or an error in the server's log does (exit 1).

  /usr/bin/python3 bench/bench_push.py [--quick] [--samples 200] [--apps 200] [--keep]
"""
import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import http.client

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "test" / "lib"))
sys.path.insert(0, str(HERE))
# after bench/: test/integration has a ucwa_client.py of its own
sys.path.append(str(REPO / "test" / "integration"))
import mobility  # noqa: E402
import ucwa_client as uc  # noqa: E402  (bench/ucwa_client.py: raw asyncio HTTP/1.1)
from bench_ucwa import cpu_ticks, error_log_problems, pct, sh  # noqa: E402
import push_services as ps  # noqa: E402

APP_PREFIX = "/ucwa/oauth/v1/applications"
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
SUBJECT = "mailto:bench@contoso.test"
CONV_PER_APP = 16          # UCWA_CONV_PER_APP: live conversations of one application
PROBE_MAX = 100            # push_probe --count at most
LOOPBACK = ["--allow-http", "--allow", "localhost", "--allow", "127.0.0.1", "--allow", "::1"]
ROUND_GAP = 0.040          # arrivals further apart than this belong to different rounds


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench_push: {msg}", flush=True)


def check(cond, what):
    if not cond:
        raise BenchError(what)


# --- blocking HTTP to the Front End (setup, checks) ---------------------------------

class Client:
    """One keep-alive HTTP/1.1 connection to the internal site (one per thread)."""

    def __init__(self, port, host):
        self.port, self.host = port, host
        self.conn = None

    def request(self, method, path, body=None, token=None, ctype="application/json"):
        headers = {"Host": self.host, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            if not isinstance(body, (str, bytes)):
                body = json.dumps(body)
            headers["Content-Type"] = ctype
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, hdrs, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def expect(self, want, method, path, body=None, token=None, ctype="application/json"):
        st, hdrs, data = self.request(method, path, body, token, ctype)
        if st != want:
            raise BenchError(f"{method} {path}: {st} (wanted {want}) {data[:300]!r}")
        return hdrs, data

    def token(self, user):
        _, data = self.expect(200, "POST", "/WebTicket/oauthtoken",
                              f"grant_type=password&username={user}&password="
                              f"{mobility.DEMO_PASSWORD}",
                              ctype="application/x-www-form-urlencoded")
        return json.loads(data)["access_token"]

    def parked(self):
        _, data = self.expect(200, "GET", "/ucwa-status")
        doc = json.loads(data)
        if not doc.get("consistent", False):
            raise BenchError(f"the session store is inconsistent: {doc}")
        return doc["parked"]


class App:
    def __init__(self, user, token, doc):
        self.user, self.token = user, token
        self.base = doc["_links"]["self"]["href"]
        self.events = doc["_links"]["events"]["href"]


def create_app(cl, user, token, endpoint_id):
    """An application, made available for Messaging."""
    _, data = cl.expect(201, "POST", APP_PREFIX, {"userAgent": "bench_push/1.0",
                                                  "endpointId": endpoint_id,
                                                  "culture": "en-US"}, token)
    app = App(user, token, json.loads(data))
    cl.expect(204, "POST", app.base + "/me/makeMeAvailable",
              {"signInAs": "Online", "supportedModalities": ["Messaging"],
               "supportedMessageFormats": ["Plain"]}, token)
    return app


def events_href(app, timeout):
    return app.events + ("&" if "?" in app.events else "?") + f"timeout={timeout}"


def follow(app, pkg):
    links = pkg["_links"]
    nxt = links.get("next") or links.get("resync")
    if not nxt or not nxt["href"].startswith(app.base + "/events"):
        raise BenchError(f"no next link under {app.base} in {json.dumps(pkg)[:300]}")
    app.events = nxt["href"]


def events_of(pkg):
    """[(sender rel, type, link rel, event)]"""
    return [(s.get("rel"), e.get("type"), e.get("link", {}).get("rel"), e)
            for s in pkg.get("sender", []) for e in s.get("events", [])]


def poll(cl, app, timeout=1):
    _, data = cl.expect(200, "GET", events_href(app, timeout), token=app.token)
    pkg = json.loads(data)
    follow(app, pkg)
    return events_of(pkg)


def wait_event(cl, app, pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for ev in poll(cl, app, 1):
            if pred(*ev):
                return ev[3]
    raise BenchError(f"{app.user} ({app.base}): the awaited event did not come in {timeout}s")


def drain(cl, app):
    """Polls until a package comes back empty (timeout=1)."""
    for _ in range(50):
        if not poll(cl, app, 1):
            return
    raise BenchError(f"{app.base}: events keep coming")


def invite(cl, app, to):
    hdrs, _ = cl.expect(201, "POST", app.base + "/communication/messagingInvitations",
                        {"to": "sip:" + to}, app.token)
    return hdrs["location"]


def inviter_conversation(cl, app, location):
    _, data = cl.expect(200, "GET", location, token=app.token)
    return json.loads(data)["_links"]["conversation"]["href"]


def accept(cl, app):
    """Waits for the incoming invitation, accepts it; returns this side's conversation."""
    ev = wait_event(cl, app, lambda s, t, rel, e: rel == "messagingInvitation"
                    and t == "started" and "_embedded" in e)
    inv = ev["_embedded"]["messagingInvitation"]
    check(inv.get("direction") == "Incoming", f"not an incoming invitation: {inv}")
    cl.expect(204, "POST", inv["_links"]["accept"]["href"], token=app.token)
    return inv["_links"]["conversation"]["href"]


def conv_id(href):
    return href.rstrip("/").rsplit("/", 1)[1]


# --- asyncio: bursts and timed requests ---------------------------------------------

async def burst(port, raws, concurrency):
    """Sends raws over concurrency keep-alive connections (opened first), as fast as the
    server answers; returns [(time the request was sent, Response)] in order."""
    loop = asyncio.get_running_loop()
    conns = [uc.Conn(loop, "127.0.0.1", port) for _ in range(min(concurrency, len(raws)))]
    await asyncio.gather(*(c.connect() for c in conns))
    out = [None] * len(raws)
    it = iter(range(len(raws)))

    async def worker(c):
        try:
            for i in it:
                t0 = time.time()
                out[i] = (t0, await c.fetch(raws[i]))
        finally:
            c.close()
    await asyncio.gather(*(worker(c) for c in conns))
    return out


# --- web-push-testing ---------------------------------------------------------------

class Wpt:
    """web-push-testing through bench/wpt_timed.js."""

    def __init__(self, workdir):
        try:
            ps.need_node()
        except AssertionError as e:
            raise BenchError(str(e))
        prefix = ps.npm_prefix(Path(os.environ.get("PUSH_BUILD", REPO / "build")))
        pkg = prefix / "node_modules" / ps.WPT_PACKAGE
        manifest = pkg / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text()).get("version") != \
                ps.WPT_VERSION:
            if not ps.NPM:
                raise BenchError("npm is needed to install web-push-testing")
            log(f"installing {ps.WPT_PACKAGE}@{ps.WPT_VERSION} into {prefix}")
            prefix.mkdir(parents=True, exist_ok=True)
            r = subprocess.run([ps.NPM, "install", "--prefix", str(prefix), "--no-save",
                                "--no-audit", "--no-fund", f"{ps.WPT_PACKAGE}@{ps.WPT_VERSION}"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise BenchError(f"npm install failed:\n{r.stderr[-2000:]}")
        self.pkg = pkg
        self.version = json.loads(manifest.read_text())["version"]
        self.server = None
        for attempt in range(5):
            port = ps.free_port()
            try:
                self.server = ps.Server([ps.NODE, str(HERE / "wpt_timed.js"), str(pkg), str(port)],
                                        workdir / f"wpt-{attempt}.log", "Server running on port",
                                        cwd=workdir)
                break
            except RuntimeError as e:
                if attempt == 4:
                    raise BenchError(f"web-push-testing did not start: {e}")
        self.port = self.server.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"

    def call(self, path, body, timeout=None):
        st, out = ps.http_json(self.base + path, "POST", body)
        if st != 200:
            raise BenchError(f"web-push-testing {path}: {st} {out}")
        return out

    def records(self, start=0):
        return self.call("/bench/records", {"from": start})

    def total(self):
        return self.records(1 << 30)["total"]

    def wait_total(self, count, timeout):
        """Blocks until count pushes were stored (201) in all; long polls of 5 s."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return False
            out = self.call("/bench/wait", {"count": count,
                                            "timeout_ms": int(min(5, left) * 1000)})
            if out["ok"]:
                return True

    def offset(self):
        """This clock minus ours, in seconds (node - python), from the quickest of 20
        round trips; and that round trip."""
        best = None
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for _ in range(20):
                t0 = time.time()
                c.request("POST", "/bench/now", body="{}",
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                now = json.loads(r.read())["now"] / 1000.0
                t1 = time.time()
                if best is None or t1 - t0 < best[1]:
                    best = (now - (t0 + t1) / 2, t1 - t0)
        finally:
            c.close()
        return best

    def subscribe(self, key):
        return ps.subscribe(self.base, key)

    def notifications(self, client_hash):
        return ps.notifications(self.base, client_hash)

    def stop(self):
        if self.server:
            self.server.stop()


# --- the run ------------------------------------------------------------------------

def summary(vals_ms):
    v = sorted(vals_ms)
    return {"n": len(v), "p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99),
            "max": v[-1] if v else float("nan"), "min": v[0] if v else float("nan")}


def rounds_of(arrivals):
    """Splits sorted arrival times (s) into rounds (gaps > ROUND_GAP): their sizes, the
    gaps between pushes within a round and between rounds (ms)."""
    sizes, inner, between = [], [], []
    if not arrivals:
        return sizes, inner, between
    size = 1
    for a, b in zip(arrivals, arrivals[1:]):
        g = b - a
        if g > ROUND_GAP:
            sizes.append(size)
            between.append(g * 1000)
            size = 1
        else:
            inner.append(g * 1000)
            size += 1
    sizes.append(size)
    return sizes, inner, between


class Run:
    def __init__(self, args):
        self.args = args
        self.local = threading.local()
        self.results = {}

    def cl(self):
        c = getattr(self.local, "client", None)
        if c is None:
            c = self.local.client = Client(self.port, self.host)
        return c

    # setup ---------------------------------------------------------------------------
    def snapshot_modules(self, where):
        """Our modules, copied (as bench_ucwa does): a build meanwhile must not swap them."""
        where.mkdir()
        where.chmod(0o755)
        copies = {}
        for m in mobility.OUR_MODULES:
            src = mobility.module_path(m)
            dst = where / src.name
            shutil.copy2(src, dst)
            copies[m] = dst
        real = mobility.module_path
        mobility.module_path = lambda name: copies.get(name) or real(name)

    def build_probe(self):
        a = self.args
        if a.probe:
            self.probe_bin = a.probe
            return
        r = subprocess.run(["make", "-s", "-j2", "-C", str(REPO / "test" / "unit"), f"TOP={REPO}",
                            f"BUILD={a.probe_build}", "tools"], capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"building push_probe failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        self.probe_bin = str(Path(a.probe_build) / "unit" / "push_probe")

    def add_users(self, state, n):
        """push0001.. on pool01 with the demo password (alice's hash), as
        ucwa_client.state_with_tags adds users."""
        self.targets = [f"push{k + 1:04d}@contoso.test" for k in range(n)]
        con = sqlite3.connect(state / "directory.db")
        for u in self.targets:
            con.execute("INSERT OR IGNORE INTO users SELECT ?, password, home_pool, ?, NULL "
                        "FROM users WHERE sip_uri = ?", (u, u.split("@")[0].title(), ALICE))
        con.commit()
        con.close()

    def config_extra(self, vapid):
        a = self.args
        self.store_apps = a.apps + math.ceil(a.apps / CONV_PER_APP) \
            + math.ceil(min(a.samples, a.apps) / CONV_PER_APP) + 32
        return "\n".join([
            "KeepAliveTimeout 600", "MaxKeepAliveRequests 0",
            "<IfModule ucwa_module>",
            f"    UcwaMaxApplications {self.store_apps}",
            "    UcwaMaxApplicationsPerUser 0",
            # two users hold every channel: no per-user bound on what they park
            "    UcwaMaxParkedPerUser 100000",
            "    UcwaEventTimeoutRange 1 3600",
            # nothing may end or change by itself while we measure
            "    UcwaApplicationIdleTimeout 86400",
            "    UcwaInactiveTimeout 86400",
            "    UcwaAwayTimeout 86400",
            "    UcwaInvitationTimeout 3600",
            # test_ucwa_push.py's push_config(), WebPush only
            "    UcwaPushProvider WebPush On",
            f'    UcwaPushVapidKey "{vapid}" {SUBJECT}',
            "    UcwaPushAllowHttp On",
            "    UcwaPushAllowEndpoint localhost 127.0.0.1 ::1",
            "    UcwaPushBackgroundAfter 1",
            "</IfModule>"])

    def register(self, cl, app):
        """A subscription at web-push-testing, registered for app; returns it."""
        sub = self.wpt.subscribe(self.server_key)
        _, data = cl.expect(201, "POST", app.base + "/pushRegistrations",
                            {"provider": "WebPush", "endpoint": sub["endpoint"],
                             "keys": {"p256dh": sub["keys"]["p256dh"],
                                      "auth": sub["keys"]["auth"]}}, app.token)
        reg = json.loads(data)
        check(reg.get("provider") == "WebPush" and reg.get("endpoint") == sub["endpoint"],
              f"registration answer: {reg}")
        return sub

    def background(self, cl, app):
        cl.expect(204, "POST", app.base + "/reportBackground", token=app.token)

    # latency -------------------------------------------------------------------------
    def setup_latency(self):
        cl = self.cl()
        self.tok = {u: cl.token(u) for u in (ALICE, BOB)}
        self.a0 = create_app(cl, ALICE, self.tok[ALICE], "bench-push-alice-0")
        _, data = cl.expect(200, "GET", self.a0.base + "/pushRegistrations",
                            token=self.a0.token)
        self.server_key = json.loads(data)["applicationServerKey"]
        # bob's foreground application first (alone available: it gets the invitation)
        self.bob_fg = create_app(cl, BOB, self.tok[BOB], "bench-push-bob-fg")
        loc = invite(cl, self.a0, BOB)
        accept(cl, self.bob_fg)
        self.conv_fg = inviter_conversation(cl, self.a0, loc)
        # then bob's background one: both are alerted now, it accepts
        self.bob_bg = create_app(cl, BOB, self.tok[BOB], "bench-push-bob-bg")
        loc = invite(cl, self.a0, BOB)
        self.bob_bg_conv = accept(cl, self.bob_bg)
        self.conv_bg = inviter_conversation(cl, self.a0, loc)
        check(conv_id(self.conv_bg) == conv_id(self.bob_bg_conv),
              "the two sides of a conversation have different ids")
        self.sub_bg = self.register(cl, self.bob_bg)
        drain(cl, self.bob_bg)
        self.background(cl, self.bob_bg)
        drain(cl, self.bob_fg)
        check(cl.parked() == 0, "an event request is still parked")

    async def latency_loop(self, samples):
        a = self.args
        loop = asyncio.get_running_loop()
        ca = uc.Conn(loop, "127.0.0.1", self.port)
        cf = uc.Conn(loop, "127.0.0.1", self.port)
        cw = uc.Conn(loop, "127.0.0.1", self.wpt.port)
        for c in (ca, cf, cw):
            await c.connect()
        st = self.cl()
        push, push_done, post, fg, fg_post = [], [], [], [], []
        want_hash = self.sub_bg["clientHash"]
        try:
            for k in range(samples):
                # the push path: background bob
                raw = uc.request_bytes("POST", self.conv_bg + "/messaging/messages", self.host,
                                       token=self.a0.token, body=f"push sample {k}",
                                       ctype="text/plain")
                t0 = time.time()
                r = await ca.fetch(raw)
                check(r.status == 201, f"message {k}: {r.status} {r.body[:300]!r}")
                post.append((r.t_first - t0) * 1000)
                w = await cw.fetch(uc.request_bytes(
                    "POST", "/bench/wait", self.wpt.host,
                    body=json.dumps({"hash": want_hash, "count": k + 1, "timeout_ms": 15000})))
                wj = w.json()
                check(wj["ok"], f"sample {k}: no push within 15 s")
                check(len(wj["records"]) == k + 1,
                      f"sample {k}: {len(wj['records'])} pushes arrived, not {k + 1}")
                rec = wj["records"][k]
                push.append((rec["recv"] / 1000 - self.off - t0) * 1000)
                push_done.append((rec["done"] / 1000 - self.off - t0) * 1000)
                # the event path: foreground bob, parked first
                fut = await cf.request(uc.request_bytes("GET", events_href(self.bob_fg, 60),
                                                        self.host, token=self.bob_fg.token))
                deadline = time.time() + 5
                while st.parked() < 1:
                    check(time.time() < deadline, "the foreground GET did not park in 5 s")
                    await asyncio.sleep(0.002)
                raw = uc.request_bytes("POST", self.conv_fg + "/messaging/messages", self.host,
                                       token=self.a0.token, body=f"event sample {k}",
                                       ctype="text/plain")
                t1 = time.time()
                r = await ca.fetch(raw)
                check(r.status == 201, f"message {k} (foreground): {r.status} {r.body[:300]!r}")
                fg_post.append((r.t_first - t1) * 1000)
                g = await asyncio.wait_for(fut, 15)
                check(g.status == 200, f"event GET {k}: {g.status} {g.body[:300]!r}")
                pkg = g.json()
                follow(self.bob_fg, pkg)
                evs = events_of(pkg)
                check(any(rel == "message" for _, _, rel, _ in evs),
                      f"event GET {k}: no message event in {[(s, t, rel) for s, t, rel, _ in evs]}")
                fg.append((g.t_first - t1) * 1000)
                await asyncio.sleep(random.uniform(a.gap_min, a.gap_max))
        finally:
            for c in (ca, cf, cw):
                c.close()
        return {"push": push, "push_done": push_done, "post": post, "fg": fg,
                "fg_post": fg_post}

    def check_latency_payloads(self, samples):
        got = self.wpt.notifications(self.sub_bg["clientHash"])
        cid = conv_id(self.bob_bg_conv)
        want = [{"event": "message", "conversation": cid, "badge": k + 1} for k in range(samples)]
        if got != want:
            bad = [(k, g) for k, (g, w) in enumerate(zip(got, want)) if g != w][:3]
            raise BenchError(f"latency pushes: {len(got)} decrypted, {samples} expected; "
                             f"first differences {bad} (want e.g. {want[0]})")

    # throughput ----------------------------------------------------------------------
    def setup_targets(self):
        """Each target user: a token, an application (available), a subscription,
        registered, background. alice's inviting applications."""
        n = self.args.apps
        self.n_alice = math.ceil(n / CONV_PER_APP)
        self.n_inv = min(self.args.samples, n)
        n_inv_alice = math.ceil(self.n_inv / CONV_PER_APP)

        def one(k):
            cl = self.cl()
            u = self.targets[k]
            app = create_app(cl, u, cl.token(u), f"bench-push-{k:04d}")
            sub = self.register(cl, app)
            self.background(cl, app)
            return app, sub

        def alice(j):
            return create_app(self.cl(), ALICE, self.tok[ALICE], f"bench-push-alice-{j + 1}")
        t0 = time.time()
        with ThreadPoolExecutor(8) as ex:
            res = list(ex.map(one, range(n)))
            self.alices = list(ex.map(alice, range(self.n_alice + n_inv_alice)))
        self.inv_alices = self.alices[self.n_alice:]
        self.alices = self.alices[:self.n_alice]
        self.t_apps = [r[0] for r in res]
        self.t_subs = [r[1] for r in res]
        check(len({s["clientHash"] for s in self.t_subs}) == n, "two subscriptions are the same")
        log(f"{n} target users with a background application and a subscription each, "
            f"{self.n_alice} alice applications, in {time.time() - t0:.1f}s")

    def measure_burst(self, what, raws, want_201):
        """Runs the burst; waits for one push per target; returns the figures."""
        a = self.args
        n = len(raws)
        base = self.wpt.total()
        c_base = self.wpt.records(1 << 30)["connections"]
        hz = os.sysconf("SC_CLK_TCK")
        ap0, nd0 = cpu_ticks(self.fe.proc.pid), cpu_ticks(self.wpt.server.proc.pid)
        t_start = time.time()
        gc.disable()
        try:
            sent = asyncio.run(burst(self.port, raws, a.concurrency))
        finally:
            gc.enable()
        self.last_sent = sent
        t_posted = time.time()
        for i, (t0, r) in enumerate(sent):
            check(r.status == want_201, f"{what} {i}: {r.status} {r.body[:300]!r}")
        if not self.wpt.wait_total(base + n, a.push_timeout + n / 5):
            raise BenchError(f"{what}: {self.wpt.total() - base} of {n} pushes arrived in "
                             f"{a.push_timeout + n / 5:.0f}s")
        t_end = time.time()
        ap1, nd1 = cpu_ticks(self.fe.proc.pid), cpu_ticks(self.wpt.server.proc.pid)
        time.sleep(0.3)   # anything extra would come now
        rec = self.wpt.records(base)
        recs = rec["records"]
        check(len(recs) == n, f"{what}: {len(recs)} pushes arrived, {n} expected")
        bad = [r for r in recs if r["status"] != 201]
        check(not bad, f"{what}: web-push-testing refused {len(bad)} pushes, e.g. {bad[:3]}")
        by_hash = {r["hash"]: r for r in recs}
        check(len(by_hash) == n, f"{what}: {n - len(by_hash)} targets got two pushes")
        lat, arrivals = [], []
        for k, (t0, _) in enumerate(sent):
            r = by_hash.get(self.t_subs[k]["clientHash"])
            check(r is not None, f"{what}: no push for {self.targets[k]}")
            arr = r["recv"] / 1000 - self.off
            arrivals.append(arr)
            lat.append((arr - t0) * 1000)
        arrivals.sort()
        t_first_post = min(t0 for t0, _ in sent)
        span = arrivals[-1] - arrivals[0]
        sizes, inner, between = rounds_of(arrivals)
        out = {"what": what, "n": n, "secs": arrivals[-1] - t_first_post,
               "rate": n / (arrivals[-1] - t_first_post),
               "window_rate": (n - 1) / span if span > 0 else float("nan"),
               "post_secs": t_posted - t_start, "lat": summary(lat),
               "rounds": sizes, "inner": summary(inner), "between": summary(between),
               "connections": rec["connections"] - c_base,
               "apache_cpu": 100.0 * (ap1 - ap0) / hz / (t_end - t_start),
               "node_cpu": 100.0 * (nd1 - nd0) / hz / (t_end - t_start)}
        log(f"{what}: {n} pushes in {out['secs']:.2f}s = {out['rate']:.1f}/s (window "
            f"{out['window_rate']:.1f}/s), {len(sizes)} rounds of at most {max(sizes)}, "
            f"POSTs answered in {out['post_secs']:.2f}s")
        return out

    def throughput(self):
        n = self.args.apps
        host = self.host
        # (1) invitations
        raws = [uc.request_bytes("POST", self.alices[k // CONV_PER_APP].base +
                                 "/communication/messagingInvitations", host,
                                 token=self.tok[ALICE],
                                 body=json.dumps({"to": "sip:" + self.targets[k]}))
                for k in range(n)]
        inv = self.measure_burst("invitations", raws, 201)
        self.results["inv"] = inv
        locations = [r.headers.get("location") for _, r in self.last_sent]

        # every target accepts and goes back to the background; alice's side of each
        # conversation from her invitation (GET its Location)
        def settle(k):
            cl = self.cl()
            app = self.t_apps[k]
            bconv = accept(cl, app)
            self.background(cl, app)
            return bconv, inviter_conversation(cl, self.alices[k // CONV_PER_APP],
                                               locations[k])
        with ThreadPoolExecutor(8) as ex:
            both = list(ex.map(settle, range(n)))
        self.t_convs = [b[0] for b in both]
        self.a_convs = [b[1] for b in both]
        for k in range(n):
            check(conv_id(self.a_convs[k]) == conv_id(self.t_convs[k]),
                  f"{self.targets[k]}: alice's conversation {self.a_convs[k]} is not "
                  f"{self.t_convs[k]}")
        for k in range(n):
            got = self.wpt.notifications(self.t_subs[k]["clientHash"])
            want = [{"event": "invitation", "conversation": conv_id(self.t_convs[k]), "badge": 1}]
            check(got == want, f"{self.targets[k]}: invitation push {got}, want {want}")
        # (2) messages
        raws = [uc.request_bytes("POST", self.a_convs[k] + "/messaging/messages", host,
                                 token=self.tok[ALICE], body=f"throughput {k}",
                                 ctype="text/plain")
                for k in range(n)]
        msg = self.measure_burst("messages", raws, 201)
        self.results["msg"] = msg
        for k in range(n):
            got = self.wpt.notifications(self.t_subs[k]["clientHash"])
            cid = conv_id(self.t_convs[k])
            want = [{"event": "invitation", "conversation": cid, "badge": 1},
                    {"event": "message", "conversation": cid, "badge": 1}]
            check(got == want, f"{self.targets[k]}: pushes {got}, want {want}")

    async def invitation_latency_loop(self, count):
        """alice (applications of her own, 16 invitations each) invites target k, one
        at a time: its background application gets an invitation push (its third)."""
        a = self.args
        loop = asyncio.get_running_loop()
        ca = uc.Conn(loop, "127.0.0.1", self.port)
        cw = uc.Conn(loop, "127.0.0.1", self.wpt.port)
        for c in (ca, cw):
            await c.connect()
        lat, done, post, locs = [], [], [], []
        try:
            for k in range(count):
                app = self.inv_alices[k // CONV_PER_APP]
                raw = uc.request_bytes("POST", app.base + "/communication/messagingInvitations",
                                       self.host, token=app.token,
                                       body=json.dumps({"to": "sip:" + self.targets[k]}))
                t0 = time.time()
                r = await ca.fetch(raw)
                check(r.status == 201, f"invitation {k}: {r.status} {r.body[:300]!r}")
                post.append((r.t_first - t0) * 1000)
                locs.append(r.headers.get("location"))
                w = await cw.fetch(uc.request_bytes(
                    "POST", "/bench/wait", self.wpt.host,
                    body=json.dumps({"hash": self.t_subs[k]["clientHash"], "count": 3,
                                     "timeout_ms": 15000})))
                wj = w.json()
                check(wj["ok"] and len(wj["records"]) == 3,
                      f"invitation sample {k}: {len(wj.get('records', []))} pushes, not 3")
                rec = wj["records"][2]
                lat.append((rec["recv"] / 1000 - self.off - t0) * 1000)
                done.append((rec["done"] / 1000 - self.off - t0) * 1000)
                await asyncio.sleep(random.uniform(a.gap_min, a.gap_max))
        finally:
            for c in (ca, cw):
                c.close()
        return {"push": lat, "push_done": done, "post": post, "locations": locs}

    def invitation_latency(self):
        count = self.n_inv
        base = self.wpt.total()
        gc.disable()
        try:
            out = asyncio.run(self.invitation_latency_loop(count))
        finally:
            gc.enable()
        time.sleep(0.3)
        check(self.wpt.total() - base == count,
              f"invitation latency: {self.wpt.total() - base} pushes for {count} invitations")
        cl = self.cl()
        for k in range(count):
            cid = conv_id(inviter_conversation(cl, self.inv_alices[k // CONV_PER_APP],
                                               out["locations"][k]))
            got = self.wpt.notifications(self.t_subs[k]["clientHash"])
            want = {"event": "invitation", "conversation": cid, "badge": 2}
            check(len(got) == 3 and got[2] == want,
                  f"{self.targets[k]}: third push {got[2:]}, want {want}")
        self.results["lat_inv"] = out
        log(f"invitation latency: {count} samples, p50 {pct(sorted(out['push']), 50):.1f} ms "
            f"p99 {pct(sorted(out['push']), 99):.1f} ms")

    # baseline a: push_probe ----------------------------------------------------------
    def probe_args(self, sub, count, conv):
        return [self.probe_bin, "webpush", "--endpoint", sub["endpoint"],
                "--p256dh", sub["keys"]["p256dh"], "--auth", sub["keys"]["auth"],
                "--vapid-pem", str(self.vapid), "--subject", SUBJECT, *LOOPBACK,
                "--event", "message", "--conversation", conv, "--badge", "1",
                "--ttl", "3600", "--urgency", "high", "--count", str(count)]

    def direct(self, n, parallel):
        """n pushes by push_probe: chunks of at most 100, parallel processes at a time."""
        chunks = []
        left = n
        while left > 0:
            chunks.append(min(PROBE_MAX, left, math.ceil(n / parallel)))
            left -= chunks[-1]
        subs = [self.wpt.subscribe(self.server_key) for _ in chunks]
        base = self.wpt.total()
        c_base = self.wpt.records(1 << 30)["connections"]
        outs = [None] * len(chunks)
        t_start = time.time()
        pending = list(range(len(chunks)))
        running = []
        while pending or running:
            while pending and len(running) < parallel:
                i = pending.pop(0)
                p = subprocess.Popen(self.probe_args(subs[i], chunks[i], f"probe-{i}"),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                running.append((i, p))
            i, p = running.pop(0)
            so, se = p.communicate(timeout=120)
            if p.returncode != 0 or not so.strip():
                raise BenchError(f"push_probe exited {p.returncode}: {so[-500:]} {se[-500:]}")
            outs[i] = json.loads(so)
        t_end = time.time()
        if not self.wpt.wait_total(base + n, 30):
            raise BenchError(f"direct: {self.wpt.total() - base} of {n} pushes arrived")
        rec = self.wpt.records(base)
        recs = rec["records"]
        check(len(recs) == n and all(r["status"] == 201 for r in recs),
              f"direct: {len(recs)} records, statuses {sorted({r['status'] for r in recs})}")
        for i, out in enumerate(outs):
            ex = out.get("exchanges", [])
            check(out.get("result") == "OK" and len(ex) == chunks[i]
                  and all(e.get("status") == 201 for e in ex),
                  f"push_probe chunk {i}: {json.dumps(out)[:500]}")
            got = self.wpt.notifications(subs[i]["clientHash"])
            want = [{"event": "message", "conversation": f"probe-{i}", "badge": 1}] * chunks[i]
            check(got == want, f"push_probe chunk {i}: decrypted {got[:2]}..., want {want[0]}")
        arrivals = sorted(r["recv"] / 1000 - self.off for r in recs)
        span = arrivals[-1] - arrivals[0]
        # the rate within each process (its own connection), without process start-up
        per = {}
        for r in recs:
            per.setdefault(r["hash"], []).append(r["recv"] / 1000)
        inner = []
        for v in per.values():
            v.sort()
            inner += [(b - a) * 1000 for a, b in zip(v, v[1:])]
        out = {"n": n, "parallel": parallel, "chunks": chunks,
               "secs": arrivals[-1] - t_start, "rate": n / (arrivals[-1] - t_start),
               "window_rate": (n - 1) / span if span > 0 else float("nan"),
               "wall": t_end - t_start, "inner": summary(inner),
               "connections": rec["connections"] - c_base}
        log(f"direct ({parallel} at a time, chunks {chunks}): {n} pushes in {out['secs']:.2f}s "
            f"= {out['rate']:.0f}/s (window {out['window_rate']:.0f}/s), per push on one "
            f"connection p50 {out['inner']['p50']:.2f} ms")
        return out

    # the whole run -------------------------------------------------------------------
    def go(self):
        a = self.args
        tmp = Path(tempfile.mkdtemp(prefix="mobility-bench-push-"))
        tmp.chmod(0o755)
        self.tmp = tmp
        self.fe = None
        self.wpt = None
        self.load0 = os.getloadavg()
        try:
            self.snapshot_modules(tmp / "modules")
            self.build_probe()
            self.wpt = Wpt(tmp)
            self.off, rtt = self.wpt.offset()
            log(f"web-push-testing {self.wpt.version} on port {self.wpt.port}; its clock - "
                f"ours = {self.off * 1000:+.3f} ms (round trip {rtt * 1000:.2f} ms)")
            self.vapid = tmp / "vapid.pem"
            subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-out", str(self.vapid)], check=True,
                           capture_output=True)
            self.vapid.chmod(0o644)
            topo = mobility.Topology(offset=mobility.free_offset())
            state = mobility.make_state(tmp / "state", topo)
            self.add_users(state, a.apps)
            self.fe = mobility.front_end(tmp / "fe", state, topo,
                                         extra=self.config_extra(self.vapid), mpm="event",
                                         servers=2, threads=32, log_level=a.log_level)
            self.fe.start(timeout=60)
            self.port, self.host = topo.fe_http, topo.pool
            log(f"Front End up (event MPM, 2 x 32 threads, UcwaMaxApplications "
                f"{self.store_apps}, LogLevel {a.log_level})")

            self.setup_latency()
            log(f"latency: {a.samples} sequential samples")
            gc.disable()
            try:
                lat = asyncio.run(self.latency_loop(a.samples))
            finally:
                gc.enable()
            self.check_latency_payloads(a.samples)
            check(self.wpt.total() == a.samples,
                  f"{self.wpt.total()} pushes arrived for {a.samples} messages")
            self.results["lat"] = lat
            log(f"latency: push p50 {pct(sorted(lat['push']), 50):.1f} ms p99 "
                f"{pct(sorted(lat['push']), 99):.1f} ms; event GET p50 "
                f"{pct(sorted(lat['fg']), 50):.2f} ms p99 {pct(sorted(lat['fg']), 99):.2f} ms")

            self.setup_targets()
            self.throughput()
            self.invitation_latency()
            self.module_conns = self.wpt.records(1 << 30)["connections"]
            self.results["direct1"] = self.direct(a.apps, 1)
            self.results["direct2"] = self.direct(a.apps, 2)
            time.sleep(1.0)
            want_total = a.samples + 2 * a.apps + self.n_inv + 2 * a.apps
            check(self.wpt.total() == want_total,
                  f"web-push-testing got {self.wpt.total()} pushes in all, {want_total} expected")
            off2, rtt2 = self.wpt.offset()
            self.off_drift = off2 - self.off
            self.load1 = os.getloadavg()
            errors, warnings = error_log_problems(self.fe)
            log_text = self.fe.log_text()
            errors += [line for line in log_text.splitlines() if "exit signal" in line]
            # a push that was not OK is logged at info (UCWA00253 ... result)
            not_ok = [line for line in log_text.splitlines()
                      if "UCWA00253" in line and ": 201 OK" not in line]
            if errors or not_ok:
                raise BenchError("the Front End logged errors or failed pushes:\n"
                                 + "\n".join((errors + not_ok)[:20]))
            self.report(warnings)
            return 0
        except BenchError:
            if self.fe:
                tail = self.fe.log_text().splitlines()[-20:]
                if tail:
                    print("bench_push: last lines of the Front End error log:\n  "
                          + "\n  ".join(tail), file=sys.stderr)
            raise
        finally:
            if self.fe:
                self.fe.stop()
            if self.wpt:
                self.wpt.stop()
            if a.keep:
                print(f"bench_push: kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)

    # the report ----------------------------------------------------------------------
    def report(self, warnings):
        a = self.args
        r = self.results
        lat = r["lat"]
        push, done, fg = summary(lat["push"]), summary(lat["push_done"]), summary(lat["fg"])
        post, fg_post = summary(lat["post"]), summary(lat["fg_post"])
        print()
        print("Machine")
        cpu = "?"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        apache = sh(mobility.APACHE, "-v").splitlines()
        facts = [
            ("nproc", str(len(os.sched_getaffinity(0)))),
            ("cpu", cpu),
            ("load average", f"{self.load0[0]:.2f} at start, {self.load1[0]:.2f} at the end "
                             f"(1 min; other work shares the machine)"),
            ("kernel", platform.release()),
            ("apache", (apache[0].split(":", 1)[1].strip() if apache else "?") +
             ", event MPM, 2 children x 32 threads, plain HTTP (internal site), "
             f"LogLevel {a.log_level}"),
            ("libcurl", sh("curl-config", "--version")),
            ("node", sh(ps.NODE, "--version") + f", web-push-testing {self.wpt.version} "
                                               "(bench/wpt_timed.js)"),
            ("clocks", f"web-push-testing - bench = {self.off * 1000:+.3f} ms, drift "
                       f"{self.off_drift * 1000:+.3f} ms over the run"),
            ("source", sh("git", "-C", str(REPO), "describe", "--always", "--dirty")),
        ]
        for k, v in facts:
            print(f"  {k:<14} {v}")

        print()
        print(f"Latency: one push per POST, sequential ({len(lat['push'])} samples, "
              f"{a.gap_min * 1000:.0f}..{a.gap_max * 1000:.0f} ms random pause between)")
        head = f"  {'':<58} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'min ms':>8}"
        print(head)
        print("  " + "-" * (len(head) - 2))

        def row(label, s):
            print(f"  {label:<58} {s['p50']:>8.2f} {s['p90']:>8.2f} {s['p99']:>8.2f} "
                  f"{s['max']:>8.2f} {s['min']:>8.2f}")
        row("push: message POST sent -> push arrived at web-push-testing", push)
        row("push: message POST sent -> decrypted and stored there", done)
        row("  (the message POST answered)", post)
        li = r["lat_inv"]
        row(f"push: invitation POST sent -> push arrived ({len(li['push'])} samples)",
            summary(li["push"]))
        row("  (the invitation POST answered)", summary(li["post"]))
        row("baseline b: POST sent -> parked event GET answered", fg)
        row("  (the message POST answered)", fg_post)
        print(f"  push / event path at p50: {push['p50'] / fg['p50']:.0f}x. Arrival = Node's "
              "request event in web-push-testing (no polling), its clock offset taken off; "
              "event GET = kernel receive timestamp (SO_TIMESTAMPNS)")

        print()
        n = a.apps
        print(f"Throughput: {n} background applications (one per user, each its own "
              f"subscription); alice posts one request each on {a.concurrency} connections")
        head = (f"  {'':<44} {'notif/s':>8} {'window/s':>9} {'seconds':>8} {'rounds':>7} "
                f"{'max/rnd':>7} {'lat p50':>8} {'lat p99':>8} {'new conn':>8}")
        print(head)
        print("  " + "-" * (len(head) - 2))
        for key, label in (("inv", "module: invitation to each user"),
                           ("msg", "module: message in each conversation")):
            t = r[key]
            print(f"  {label:<44} {t['rate']:>8.1f} {t['window_rate']:>9.1f} {t['secs']:>8.2f} "
                  f"{len(t['rounds']):>7} {max(t['rounds']):>7} {t['lat']['p50']:>8.0f} "
                  f"{t['lat']['p99']:>8.0f} {t['connections']:>8}")
        for key, label in (("direct1", "baseline a: push_probe, 1 connection at a time"),
                           ("direct2", "baseline a: push_probe, 2 connections at once")):
            t = r[key]
            print(f"  {label:<44} {t['rate']:>8.1f} {t['window_rate']:>9.1f} {t['secs']:>8.2f} "
                  f"{'-':>7} {'-':>7} {'-':>8} {'-':>8} {t['connections']:>8}")
        d1 = r["direct1"]
        print(f"  ratio module/direct (1 connection): invitations "
              f"{r['inv']['rate'] / d1['rate']:.2f}, messages "
              f"{r['msg']['rate'] / d1['rate']:.2f} (over the arrival window "
              f"{r['inv']['window_rate'] / d1['window_rate']:.2f}, "
              f"{r['msg']['window_rate'] / d1['window_rate']:.2f})")
        print("  notif/s = N / (last push arrived - first POST sent) (direct: - first process "
              "started); window/s = (N-1) / (last - first arrival); lat = POST sent -> push "
              "arrived (ms), under the burst; new conn = TCP connections that carried pushes, "
              f"opened during the phase (the dispatcher opened {self.module_conns} in all, for "
              f"{a.samples + 2 * n + self.n_inv} pushes)")
        print()
        print("Dispatcher rounds (from the arrivals; a gap > 40 ms starts a round)")
        head = (f"  {'':<44} {'per push in a round (ms)':>26} {'between rounds (ms)':>22} "
                f"{'srv CPU%':>9} {'wpt CPU%':>9}")
        print(head)
        print(f"  {'':<44} {'p50':>8} {'p90':>8} {'max':>8} {'p50':>7} {'min':>7} {'max':>6}")
        for key, label in (("inv", "module: invitations"), ("msg", "module: messages")):
            t = r[key]
            print(f"  {label:<44} {t['inner']['p50']:>8.2f} {t['inner']['p90']:>8.2f} "
                  f"{t['inner']['max']:>8.2f} {t['between']['p50']:>7.1f} "
                  f"{t['between']['min']:>7.1f} {t['between']['max']:>6.1f} "
                  f"{t['apache_cpu']:>9.0f} {t['node_cpu']:>9.0f}")
        print(f"  {'baseline a: push_probe, one connection':<44} {d1['inner']['p50']:>8.2f} "
              f"{d1['inner']['p90']:>8.2f} {d1['inner']['max']:>8.2f}")
        m = r["msg"]
        per = m["inner"]["p50"] / 1000
        print(f"  round sizes (messages): {' '.join(str(s) for s in m['rounds'])}")
        print(f"  a full round of 16 at this pace: 100 ms sleep + 16 x {per * 1000:.2f} ms -> "
              f"ceiling {16 / (0.1 + 16 * per):.0f} notifications/s; with push_probe's pace "
              f"({d1['inner']['p50']:.2f} ms) the same loop would give "
              f"{16 / (0.1 + 16 * d1['inner']['p50'] / 1000):.0f}/s; one connection without "
              f"the sleep {1000 / m['inner']['p50']:.0f}/s")
        if warnings:
            print(f"note: {len(warnings)} warning(s) in the Front End log, e.g.\n  "
                  + "\n  ".join(warnings[:5]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 samples and 50 applications")
    ap.add_argument("--samples", type=int, default=None,
                    help="sequential latency samples (200; --quick 50)")
    ap.add_argument("--apps", type=int, default=None,
                    help="background applications for the throughput (200; --quick 50)")
    ap.add_argument("--concurrency", type=int, default=8,
                    help="connections alice posts on in the throughput bursts (8)")
    ap.add_argument("--gap-min", type=float, default=0.020,
                    help="smallest pause between latency samples, seconds (0.020)")
    ap.add_argument("--gap-max", type=float, default=0.120,
                    help="largest pause between latency samples, seconds (0.120)")
    ap.add_argument("--push-timeout", type=float, default=30,
                    help="seconds allowed for a burst's pushes, plus N/5 (30)")
    ap.add_argument("--probe", default="", help="an already built push_probe")
    ap.add_argument("--probe-build", default="/var/tmp/mobility-bench-push",
                    help="BUILD directory push_probe is built in (/var/tmp/mobility-bench-push)")
    ap.add_argument("--log-level", default="info", help="Apache LogLevel (info)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    a.samples = a.samples if a.samples is not None else (50 if a.quick else 200)
    a.apps = a.apps if a.apps is not None else (50 if a.quick else 200)
    if a.samples < 2 or a.apps < 2:
        sys.exit("bench_push: --samples and --apps must be at least 2")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return Run(a).go()
    except BenchError as e:
        print(f"bench_push: FAILED: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
