#!/usr/bin/python3
"""UCWA event channels on one Front End: memory per parked channel, wake latency, and a
static-file baseline, measured in one run on one private Front End (event MPM).

Over plain HTTP on the internal site (credentials are accepted there), with alice's and
bob's tokens, the bench creates one UCWA application per channel (distinct endpointId),
makes each available (makeMeAvailable), drains its first package, then:

  idle       N keep-alive connections that fetched a small static file and stay open: what
             a plain idle connection costs the event MPM (no worker thread held)
  parked     N pending event requests (GET .../events?ack=K&timeout=3600), each its own
             application, held by the server: memory (PSS of the parent and children, from
             /proc/PID/smaps_rollup; the RSS sum for reference) before and while N are
             parked, per channel, and the server's CPU while they wait
  wake       with N parked, alice (then bob) posts a note (POST .../me/note) from a control
             application: mod_ucwa queues a MEDIUM-priority "note" event on each of that
             user's applications. Every event mod_ucwa posts today is MEDIUM (none is
             HIGH), so each waits for the medium aggregation window of its request (5 s,
             UCWA's minimum, sent as medium=5): the latency reported is (response time -
             POST time - 5 s), the time from the window's end to the watcher's response.
             One POST releases all of the user's channels at once (N/2 of them): the figure
             is a fan-out under contention, not one device's latency
  release    both users post at once: every channel must answer 200 with an event package
             holding its note event (checked: status, self/next links, the event)
  static     wrk on the same server and port: a small file through an Alias, with nothing
             parked and with N parked

  im         instant messaging, run at each N right after its memory and CPU figures:
             8 alice<->bob 1:1 conversations between dedicated applications (available
             with Messaging; every other application signs in with Audio, so invitations
             reach only these). Sequential: 500 messages, one outstanding, each POST
             .../messaging/messages (text/plain) timed to the recipient's event response
             (its GET parked before the POST; message events are HIGH priority, released
             at once), p50/p99 against a 20 ms target. Throughput: every pair posts as fast
             as the server answers (at most 16 undelivered per pair) for 10 s (--quick 3);
             messages/s, every delivery counted and timed. Shown next to wrk on the static
             file with the same N parked. --im-only runs this section alone (with the
             static baseline); --no-im skips it

N is 1000 and 6660 (Skype for Business's users per Front End); --quick runs 1000 only,
short; --max then adds as many channels as this machine allows (threads are bounded by
kernel.pid_max, connections per process by RLIMIT_NOFILE, spread over client processes).

The figures never fail the run; a wrong answer, a client error or an error in the
server's log does.

  ./apxs-build.sh bench [bench_autodiscover args] [--ucwa bench_ucwa args]
  python3 bench/bench_ucwa.py [--quick] [--max] [--keep] ...
"""
import argparse
import asyncio
import gc
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "lib"))
sys.path.insert(0, str(HERE))
import mobility  # noqa: E402
import ucwa_client as uc  # noqa: E402

USERS = ("alice@contoso.test", "bob@contoso.test")
STATIC_PREFIX = "/bench-static"
LUA = HERE / "request.lua"
APP_PREFIX = "/ucwa/oauth/v1/applications"
MEDIUM = 5               # the medium window every channel asks for (UCWA's minimum)
PARK_TIMEOUT = 3600      # timeout= of the parked requests: longer than any measurement
SKYPE_USERS_PER_FE = 6660


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench_ucwa: {msg}", flush=True)


# --- the server's processes: memory, CPU, connections -------------------------------

def server_pids(parent):
    pids = [parent]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                if int(st[st.rindex(")") + 2:].split()[1]) == parent:
                    pids.append(int(d))
            except (OSError, ValueError):
                pass
    return pids


def mem_snapshot(parent):
    """Sums over the parent and its children, in KiB: Rss, Pss, Pss_Anon, Pss_Shmem;
    and the number of processes and threads."""
    tot = {"Rss": 0, "Pss": 0, "Pss_Anon": 0, "Pss_Shmem": 0, "procs": 0, "threads": 0}
    for pid in server_pids(parent):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in tot:
                        tot[k] += int(v.split()[0])
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        tot["threads"] += int(line.split()[1])
            tot["procs"] += 1
        except (OSError, ValueError):
            pass
    return tot


def cpu_ticks(parent):
    t = 0
    for pid in server_pids(parent):
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            t += int(fields[11]) + int(fields[12])   # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return t


def cpu_percent(parent, seconds):
    """The server's CPU use over seconds, in % of one CPU (children that exit are lost)."""
    hz = os.sysconf("SC_CLK_TCK")
    a, t0 = cpu_ticks(parent), time.monotonic()
    time.sleep(seconds)
    b, t1 = cpu_ticks(parent), time.monotonic()
    return 100.0 * (b - a) / hz / (t1 - t0)


def conns_per_child(parent, port):
    """Established connections to port held by each child process."""
    est = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if int(p[1].split(":")[1], 16) == port and p[3] == "01":
                        est.add(p[9])
        except OSError:
            pass
    out = []
    for pid in server_pids(parent)[1:]:
        n = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in est:
                    n += 1
        except OSError:
            continue
        out.append(n)
    return sorted(out, reverse=True)


# --- plain requests from the bench itself -------------------------------------------

class Control:
    """Blocking requests from the bench process: tokens, ucwa-status, the note POSTs."""

    def __init__(self, port, host):
        self.port, self.host = port, host
        self.conn = None

    def request(self, method, path, body=None, token=None, ctype="application/json"):
        headers = {"Host": self.host, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = ctype
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def token(self, user):
        st, body = self.request("POST", "/WebTicket/oauthtoken",
                                f"grant_type=password&username={user}&password="
                                f"{mobility.DEMO_PASSWORD}",
                                ctype="application/x-www-form-urlencoded")
        if st != 200:
            raise BenchError(f"token for {user}: {st} {body[:300]!r}")
        return json.loads(body)["access_token"]

    def status(self):
        st, body = self.request("GET", "/ucwa-status")
        if st != 200:
            raise BenchError(f"/ucwa-status answered {st}: {body[:300]!r}")
        doc = json.loads(body)
        if not doc.get("consistent", False):
            raise BenchError(f"the session store is inconsistent: {doc}")
        return doc


class SetupClient:
    """The setup requests of a bench that gives each channel a generated user of its own
    (bench_pool, bench_calls): tokens, applications made available, any batch of requests
    whose answers must all be one status; over `concurrency` keep-alive connections to one
    Front End. tokens (user -> access token) is filled by get_tokens; agent names the bench
    in userAgent and endpointId; who names the Front End in errors."""

    def __init__(self, port, host, tokens, concurrency, agent, who=""):
        self.port, self.host, self.tokens = port, host, tokens
        self.concurrency, self.agent, self.who = concurrency, agent, f"{who}: " if who else ""

    def run(self, raws):
        return asyncio.run(uc.run_all("127.0.0.1", self.port, raws, self.concurrency))

    def get_tokens(self, users, log=log):
        raws = [uc.request_bytes("POST", "/WebTicket/oauthtoken", self.host,
                                 body=f"grant_type=password&username={u}&password="
                                      f"{mobility.DEMO_PASSWORD}",
                                 ctype="application/x-www-form-urlencoded") for u in users]
        t0 = time.time()
        for u, r in zip(users, self.run(raws)):
            if r.status != 200:
                raise BenchError(f"token for {u}: {r.status} {r.body[:300]!r}")
            self.tokens[u] = r.json()["access_token"]
        log(f"{len(users)} tokens in {time.time() - t0:.1f}s")

    def call_all(self, reqs, want, what):
        """reqs: (method, path, user, body); every answer must be want."""
        resps = self.run([uc.request_bytes(m, p, self.host, token=self.tokens[u], body=b)
                          for m, p, u, b in reqs])
        for (m, p, u, _), r in zip(reqs, resps):
            if r.status != want:
                raise BenchError(f"{self.who}{what}: {m} {p} for {u}: {r.status} "
                                 f"{r.body[:300]!r}")
        return resps

    def create_apps(self, users, modalities, tag):
        """An application for each user, made available with modalities: their bases."""
        ep = self.agent.replace("_", "-")
        resps = self.call_all([("POST", APP_PREFIX, u, json.dumps(
            {"userAgent": f"{self.agent}/1.0", "endpointId": f"{ep}-{tag}-{u}",
             "culture": "en-US"})) for u in users], 201, "applications")
        bases = [r.json()["_links"]["self"]["href"] for r in resps]
        body = json.dumps({"signInAs": "Online", "supportedModalities": modalities,
                           "supportedMessageFormats": ["Plain"]})
        self.call_all([("POST", b + "/me/makeMeAvailable", u, body)
                       for u, b in zip(users, bases)], 204, "makeMeAvailable")
        return bases


def fe_config(static, store_apps, cap):
    """The bench's additions to a Front End's configuration: the static file, keep-alive
    connections that stay open, a store for store_apps applications, nothing that ends
    or wakes a channel by itself; cap: UcwaMaxParkedPerChild (0: the module's default)."""
    lines = [
        f'Alias {STATIC_PREFIX} "{static}"',
        f'<Directory "{static}">', "    Require all granted", "</Directory>",
        # idle keep-alive connections must stay open for the whole measurement
        "KeepAliveTimeout 600", "MaxKeepAliveRequests 0", "ListenBacklog 4096",
        "<IfModule ucwa_module>",
        f"    UcwaMaxApplications {store_apps}",
        "    UcwaMaxApplicationsPerUser 0",
        # two users hold every channel: no per-user bound on what they park
        "    UcwaMaxParkedPerUser 100000",
        f"    UcwaEventTimeoutRange 10 {PARK_TIMEOUT}",
        # nothing may end or wake a channel by itself while we measure
        "    UcwaApplicationIdleTimeout 86400",
        "    UcwaInactiveTimeout 86400",
        "    UcwaAwayTimeout 86400",
    ]
    if cap:
        lines.append(f"    UcwaMaxParkedPerChild {cap}")
    lines.append("</IfModule>")
    return "\n".join(lines)


def run_wrk(port, host, a, label, log=log):
    """wrk on the static file of a Front End (fe_config): a's wrk_threads,
    wrk_connections and duration; requests/s and latency, errors raised."""
    env = dict(os.environ, BENCH_METHOD="GET", BENCH_HOST=host)
    url = f"http://127.0.0.1:{port}{STATIC_PREFIX}/small.txt"
    cmd = ["wrk", f"-t{a.wrk_threads}", f"-c{a.wrk_connections}", f"-d{a.duration}s",
           "--latency", "--timeout=5s", "-s", str(LUA), url]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.duration + 60)
    m = re.search(r"^BENCH_RESULT (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise BenchError(f"wrk failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stdout}"
                         f"\n{p.stderr}")
    res = json.loads(m.group(1))
    errors = {k: res[k] for k in ("connect", "read", "write", "status", "timeout") if res[k]}
    if errors or not res["requests"]:
        raise BenchError(f"wrk reported errors: {errors or 'no request'}\n{p.stdout}")
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["label"] = label
    log(f"wrk static ({label}): {res['rps']:.0f} req/s, p50 {res['p50_us'] / 1000:.2f} ms, "
        f"p99 {res['p99_us'] / 1000:.2f} ms")
    return res


# --- shards (client processes holding the channels) ---------------------------------

class Shards:
    def __init__(self, n, port, host, timeout):
        ctx = multiprocessing.get_context("fork")
        self.pipes, self.procs = [], []
        for k in range(n):
            a, b = ctx.Pipe()
            p = ctx.Process(target=uc.shard_main,
                            args=(b, "127.0.0.1", port, host, f"127.0.1.{k + 1}", timeout,
                                  MEDIUM), daemon=True)
            p.start()
            b.close()
            self.pipes.append(a)
            self.procs.append(p)

    def __len__(self):
        return len(self.pipes)

    def shard_of(self, idx):
        return idx % len(self.pipes)

    def call(self, k, cmd, *args, timeout=600):
        self.pipes[k].send((cmd, args))
        return self._reply(k, cmd, timeout)

    def _reply(self, k, cmd, timeout):
        if not self.pipes[k].poll(timeout):
            raise BenchError(f"client shard {k} did not answer {cmd} in {timeout}s")
        kind, val = self.pipes[k].recv()
        if kind != "ok":
            raise BenchError(f"client shard {k}, {cmd}: {val}")
        return val

    def all(self, cmd, per_shard_args=None, timeout=600):
        """Sends cmd to every shard at once (args per shard), then collects the answers."""
        for k in range(len(self.pipes)):
            self.pipes[k].send((cmd, per_shard_args[k] if per_shard_args else ()))
        return [self._reply(k, cmd, timeout) for k in range(len(self.pipes))]

    def split(self, idxs):
        out = [[] for _ in self.pipes]
        for i in idxs:
            out[self.shard_of(i)].append(i)
        return out

    def stats(self):
        st = self.all("stats")
        tot = {k: sum(s[k] for s in st) for k in
               ("pending", "bounces", "bounced_channels", "drains", "reconnects", "n_errors",
                "idle_open", "timeouts", "gave_up")}
        tot["max_bounces"] = max(s["max_bounces"] for s in st)
        tot["errors"] = [e for s in st for e in s["errors"]][:10]
        return tot

    def close(self):
        for k, p in enumerate(self.procs):
            try:
                self.pipes[k].send(("quit", ()))
            except OSError:
                pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()


def user_shards(port, host, idxs, shard_size, bases, tokens, acks):
    """Client shards holding the channels of generated users idxs (user i's application
    bases[i], its token, its next ack acks[i]), shard_size channels a shard at most."""
    shards = Shards(max(1, math.ceil(len(idxs) / shard_size)), port, host, PARK_TIMEOUT)
    rows = [[] for _ in range(len(shards))]
    for i in idxs:
        u = mobility.GENERATED_USER.format(i)
        rows[shards.shard_of(i)].append((i, u, bases[i], tokens[u], acks[i]))
    shards.all("add", [(r,) for r in rows])
    return shards


def wait_parked(ctl, shards, want, timeout, who=""):
    """Until the store (ctl's /ucwa-status) counts want parked requests and every shard's
    GETs are outstanding, stable for a second. who: the Front End's name, for errors."""
    who = f"{who}: " if who else ""
    deadline = time.time() + timeout
    stable_since = None
    last = None
    while time.time() < deadline:
        st = ctl.status()
        cs = shards.stats()
        if cs["n_errors"]:
            raise BenchError(f"{who}client errors while parking: {cs['errors']}")
        cur = (st["parked"], cs["pending"], cs["bounces"])
        if st["parked"] == want and cs["pending"] >= want:
            if cur == last and stable_since and time.time() - stable_since >= 1.0:
                return st, cs
            if cur != last:
                stable_since = time.time()
        else:
            stable_since = None
        last = cur
        time.sleep(0.25)
    raise BenchError(f"{who}{want} channels did not all park in {timeout}s: store says "
                     f"{last[0]} parked, the client {last[1]} pending, "
                     f"{last[2]} bounces so far")


# --- the run ------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.rows = []            # result lines for the tables
        self.notes = []
        self.im = None            # ucwa_client.ImBench once its conversations are set up
        self.im_results = []

    # sizing ------------------------------------------------------------------------
    def plan(self):
        a = self.args
        self.counts = [1000] if a.quick else [1000, SKYPE_USERS_PER_FE]
        if a.n:
            self.counts = sorted({int(x) for x in a.n.split(",")})
        self.n_main = max(self.counts)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.nofile = hard
        with open("/proc/sys/kernel/pid_max") as f:
            self.pid_max = int(f.read())
        try:
            with open("/proc/sys/kernel/threads-max") as f:
                self.threads_max = int(f.read())
        except OSError:
            self.threads_max = self.pid_max
        self.threads_now = sum(1 for _ in Path("/proc").glob("[0-9]*/task/[0-9]*"))
        self.mem_avail = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    self.mem_avail = int(line.split()[1])
        t = a.threads_per_child
        cap = a.cap if a.cap is not None else 0
        per_child = cap if cap else t * 3 // 4
        if a.max:
            # every thread the kernel leaves us, less a margin for the client and the rest
            budget = min(self.pid_max, self.threads_max) - self.threads_now - 1500
            servers = max(1, budget // (t + 4))
            if not cap:
                cap = t - 16      # leave 16 workers per child for everything else
                per_child = cap
            if a.max_channels:
                servers = min(servers, math.ceil(a.max_channels / cap) + 1)
            self.max_target = servers * cap
            if a.max_channels:
                self.max_target = min(self.max_target, a.max_channels)
        else:
            # room for the largest N with the per-child cap, and 25% for uneven spread
            servers = math.ceil(self.n_main * 1.25 / per_child) + 1
            self.max_target = 0
        if a.servers:
            servers = a.servers
        self.servers, self.tpc, self.cap = servers, t, cap
        self.per_child = per_child
        self.apps_total = max(self.n_main, self.max_target) + 2
        self.im_pairs = 0 if a.no_im else a.im_pairs
        self.store_apps = self.apps_total + 64 + 2 * self.im_pairs
        if servers * (t + 4) > min(self.pid_max, self.threads_max) - self.threads_now:
            raise BenchError(f"{servers} x {t} threads do not fit kernel.pid_max {self.pid_max}"
                             f" with {self.threads_now} threads running: lower --servers or "
                             f"--threads-per-child")
        self.shard_size = min(a.shard_size, self.nofile - 512)
        total_channels = max(self.n_main, self.max_target)
        self.n_shards = max(1, math.ceil(total_channels / self.shard_size))

    def config_extra(self, static):
        return fe_config(static, self.store_apps, self.cap)

    # phases ------------------------------------------------------------------------
    def snapshot(self, label, n=None):
        m = mem_snapshot(self.fe.proc.pid)
        m["label"], m["n"] = label, n
        return m

    def wait_parked(self, want, timeout):
        return wait_parked(self.ctl, self.shards, want, timeout)

    def setup_apps(self):
        a = self.args
        self.tokens = {u: self.ctl.token(u) for u in USERS}
        n = self.apps_total
        users = [USERS[i % 2] for i in range(n)]
        host = self.host
        raws = [uc.request_bytes("POST", APP_PREFIX, host, token=self.tokens[users[i]],
                                 body=json.dumps({"userAgent": "bench_ucwa/1.0",
                                                  "endpointId": f"bench-{i:06d}",
                                                  "culture": "en-US"}))
                for i in range(n)]
        t0 = time.time()
        resps = asyncio.run(uc.run_all("127.0.0.1", self.port, raws, a.setup_concurrency))
        dt = time.time() - t0
        self.bases = []
        for i, r in enumerate(resps):
            if r.status != 201:
                raise BenchError(f"application {i} for {users[i]}: {r.status} {r.body[:300]!r}")
            self.bases.append(r.json()["_links"]["self"]["href"])
        if len(set(self.bases)) != n:
            raise BenchError("two POSTs got the same application")
        self.users = users
        self.rows.append(("setup", f"created {n} applications (alice and bob, "
                                   f"UcwaMaxApplicationsPerUser 0)", f"{n / dt:.0f}/s"))
        log(f"created {n} applications in {dt:.1f}s")
        # control applications (never polled): the last two, one per user
        self.control = {users[i]: self.bases[i] for i in (n - 2, n - 1)}
        # which channels do makeMeAvailable: the main ones and the controls; --max extras
        # stay lurkers (their presence fan-out would cost N^2 events) and end by timeout.
        # They sign in with Audio, not Messaging: an invitation alerts every application
        # of the invited user available for Messaging (the first UCWA_CONV_ENDPOINTS, 16,
        # in slot order), so Messaging lurkers would take the invitations of the
        # instant-messaging section from its dedicated applications. Audio changes
        # nothing else here: the same presence events, and notes reach every application.
        self.main = list(range(self.n_main))
        self.extra = list(range(self.n_main, n - 2))
        avail = self.main + [n - 2, n - 1]
        body = json.dumps({"signInAs": "Online", "supportedModalities": ["Audio"],
                           "supportedMessageFormats": ["Plain"]})
        raws = [uc.request_bytes("POST", self.bases[i] + "/me/makeMeAvailable", host,
                                 token=self.tokens[users[i]], body=body) for i in avail]
        # the instant-messaging pairs: alice's sender and bob's recipient applications,
        # made available with Messaging (these alone)
        self.im_apps = []
        if self.im_pairs:
            ims = [(k, u) for k in range(self.im_pairs) for u in USERS]
            r2 = asyncio.run(uc.run_all("127.0.0.1", self.port, [
                uc.request_bytes("POST", APP_PREFIX, host, token=self.tokens[u],
                                 body=json.dumps({"userAgent": "bench_ucwa-im/1.0",
                                                  "endpointId": f"bench-im-{k}-{u[0]}",
                                                  "culture": "en-US"}))
                for k, u in ims], a.setup_concurrency))
            for (k, u), r in zip(ims, r2):
                if r.status != 201:
                    raise BenchError(f"IM application {k} for {u}: {r.status} {r.body[:300]!r}")
                self.im_apps.append((k, u, r.json()["_links"]["self"]["href"]))
            im_body = json.dumps({"signInAs": "Online", "supportedModalities": ["Messaging"],
                                  "supportedMessageFormats": ["Plain"]})
            raws += [uc.request_bytes("POST", b + "/me/makeMeAvailable", host,
                                      token=self.tokens[u], body=im_body)
                     for _, u, b in self.im_apps]
        t0 = time.time()
        resps = asyncio.run(uc.run_all("127.0.0.1", self.port, raws, a.setup_concurrency))
        dt = time.time() - t0
        avail_bases = [self.bases[i] for i in avail] + [b for _, _, b in self.im_apps]
        for b, r in zip(avail_bases, resps):
            if r.status != 204:
                raise BenchError(f"makeMeAvailable {b}: {r.status} {r.body[:300]!r}")
        self.rows.append(("setup", f"makeMeAvailable x {len(resps)} (each also posts a "
                                   f"presence event to the user's other devices)",
                          f"{len(resps) / dt:.0f}/s"))
        log(f"made {len(resps)} applications available in {dt:.1f}s "
            f"({len(self.im_apps)} with Messaging, for the IM section; the rest with Audio)")
        # their first packages (makeMeAvailable's events) are released at once once older
        # than the medium window: drain them so a parked channel has nothing queued
        time.sleep(MEDIUM + 0.5)
        self.acks = [1] * n
        raws = [uc.request_bytes("GET", f"{self.bases[i]}/events?ack=1&timeout={PARK_TIMEOUT}"
                                 f"&medium={MEDIUM}", host, token=self.tokens[users[i]])
                for i in self.main]
        t0 = time.time()
        resps = asyncio.run(uc.run_all("127.0.0.1", self.port, raws, a.setup_concurrency))
        dt = time.time() - t0
        resumes = 0
        for i, r in zip(self.main, resps):
            if r.status != 200:
                raise BenchError(f"first events of {self.bases[i]}: {r.status} {r.body[:300]!r}")
            pkg = r.json()
            resumes += "resume" in pkg["_links"]
            self.acks[i] = uc.next_ack(pkg, self.bases[i])
        log(f"drained the first package of {len(self.main)} channels in {dt:.1f}s "
            f"({resumes} said resume: their ring overflowed with presence events)")

    def start_shards(self):
        self.shards = Shards(self.n_shards, self.port, self.host, PARK_TIMEOUT)
        rows = [[] for _ in range(len(self.shards))]
        for i in self.main + self.extra:
            rows[self.shards.shard_of(i)].append(
                (i, self.users[i], self.bases[i], self.tokens[self.users[i]], self.acks[i]))
        self.shards.all("add", [(r,) for r in rows])

    def idle_phase(self, ref):
        """N idle keep-alive connections to the static file."""
        opened = 0
        out = []
        for n in self.counts:
            add = n - opened
            per = [add // len(self.shards) + (1 if k < add % len(self.shards) else 0)
                   for k in range(len(self.shards))]
            self.shards.all("idle_open", [(per[k], f"{STATIC_PREFIX}/small.txt",
                                           f"127.0.2.{k + 1}", self.args.connect_concurrency)
                                          for k in range(len(self.shards))])
            opened = n
            time.sleep(1.0)
            cs = self.shards.stats()
            if cs["idle_open"] != n:
                raise BenchError(f"{n - cs['idle_open']} idle connections were closed")
            m = self.snapshot(f"{n} idle keep-alive connections (static file)", n)
            m["ref"] = ref
            m["dist"] = conns_per_child(self.fe.proc.pid, self.port)
            out.append(m)
            log(f"{n} idle keep-alive connections: PSS {m['Pss'] / 1024:.0f} MiB")
        self.shards.all("idle_close")
        time.sleep(1.5)
        # the same N again, on children whose workers have now run: the connection alone
        closed = self.snapshot(f"{n} idle connections closed")
        per = [n // len(self.shards) + (1 if k < n % len(self.shards) else 0)
               for k in range(len(self.shards))]
        self.shards.all("idle_open", [(per[k], f"{STATIC_PREFIX}/small.txt",
                                       f"127.0.3.{k + 1}", self.args.connect_concurrency)
                                      for k in range(len(self.shards))])
        time.sleep(1.0)
        m = self.snapshot(f"{n} idle keep-alive connections again (warm)", n)
        m["ref"] = closed
        m["warm"] = True
        out.append(closed)
        out.append(m)
        log(f"{n} idle keep-alive connections again: PSS {m['Pss'] / 1024:.0f} MiB")
        self.shards.all("idle_close")
        time.sleep(1.5)
        return out

    def park(self, idxs, want_total, timeout):
        t0 = time.time()
        self.shards.all("park", [(part, self.args.connect_concurrency)
                                 for part in self.shards.split(idxs)])
        st, cs = self.wait_parked(want_total, timeout)
        return time.time() - t0, st, cs

    def park_phase(self, ref):
        out = []
        done = 0
        for n in self.counts:
            dt, st, cs = self.park(self.main[done:n], n, self.args.park_timeout)
            done = n
            m = self.snapshot(f"{n} parked event channels", n)
            m["ref"] = ref
            m["park_s"] = dt
            m["bounces"] = cs["bounces"]
            m["bounced_channels"] = cs["bounced_channels"]
            m["max_bounces"] = cs["max_bounces"]
            m["dist"] = conns_per_child(self.fe.proc.pid, self.port)
            m["cpu"] = cpu_percent(self.fe.proc.pid, self.args.hold)
            out.append(m)
            log(f"{n} parked in {dt:.1f}s (bounces {cs['bounces']}): PSS "
                f"{m['Pss'] / 1024:.0f} MiB; server CPU {m['cpu']:.0f}% over {self.args.hold}s")
            # after the memory snapshot and the CPU sample of this N
            self.im_phase(n)
        return out

    def im_phase(self, n):
        """Instant messaging with n lurkers parked: the latency of one message at a time,
        then the throughput of every pair posting at once (see ucwa_client.ImBench)."""
        a = self.args
        if not self.im_pairs:
            return
        if self.im is None:
            by = {(k, u): b for k, u, b in self.im_apps}
            alice, bob = USERS
            pairs = [uc.ImPair(k, by[(k, alice)], self.tokens[alice], by[(k, bob)],
                               self.tokens[bob], 1, bob) for k in range(self.im_pairs)]
            self.im = uc.ImBench("127.0.0.1", self.port, self.host, pairs, PARK_TIMEOUT,
                                 MEDIUM)
            t0 = time.time()
            try:
                asyncio.run(self.im.setup())
            except uc.HttpError as e:
                raise BenchError(f"IM setup: {e}")
            log(f"IM: {self.im_pairs} alice->bob conversations connected in "
                f"{time.time() - t0:.1f}s")
        res = {"n": n, "pairs": self.im_pairs}
        hz = os.sysconf("SC_CLK_TCK")
        gc.collect()
        gc.disable()
        try:
            lat = asyncio.run(self.im.latency(a.im_samples, 2 * self.im_pairs, a.im_gap))
            c0, t0 = cpu_ticks(self.fe.proc.pid), time.monotonic()
            u0 = resource.getrusage(resource.RUSAGE_SELF)
            thr = asyncio.run(self.im.throughput(a.im_duration, a.im_window))
            u1 = resource.getrusage(resource.RUSAGE_SELF)
            el = time.monotonic() - t0
            thr["cpu"] = 100.0 * (cpu_ticks(self.fe.proc.pid) - c0) / hz / el
            thr["client_cpu"] = 100.0 * (u1.ru_utime - u0.ru_utime + u1.ru_stime
                                         - u0.ru_stime) / el
        except (uc.HttpError, OSError, asyncio.TimeoutError) as e:
            raise BenchError(f"IM with {n} parked: {type(e).__name__}: {e}")
        finally:
            gc.enable()
        if not lat["complete"] or not thr["complete"]:
            raise BenchError(f"IM with {n} parked: a recipient did not get every message")
        if thr["delivered"] != thr["sent_total"]:
            raise BenchError(f"IM with {n} parked: {thr['sent_total']} sent, "
                             f"{thr['delivered']} delivered")
        res["lat"], res["thr"] = lat, thr
        log(f"IM, {n} parked: sequential {len(lat['lat'])} messages, p50 "
            f"{pct(lat['lat'], 50):.2f} ms p99 {pct(lat['lat'], 99):.2f} ms (POST p50 "
            f"{pct(lat['post'], 50):.2f} ms); throughput {thr['sent'] / thr['secs']:.0f} msg/s "
            f"over {thr['secs']:.1f}s, {thr['delivered']}/{thr['sent_total']} delivered, "
            f"p50 {pct(thr['lat'], 50):.2f} ms p99 {pct(thr['lat'], 99):.2f} ms, server CPU "
            f"{thr['cpu']:.0f}% (the client, one process: {thr['client_cpu']:.0f}%)")
        # the lurkers are all still parked, the recipients' GETs are not
        self.wait_parked(n, 60)
        if n != self.n_main:
            res["wrk"] = self.wrk(f"{n} parked (IM section)")
        self.im_results.append(res)

    def wake_round(self, rnd, users, repark, label):
        idxs = [i for i in self.main if self.users[i] in users]
        self.shards.all("arm", [(rnd, part, "note", repark) for part in self.shards.split(idxs)])
        posts = []
        for u in users:
            t0 = time.time()
            st, body = self.ctl.request("POST", self.control[u] + "/me/note",
                                        json.dumps({"message": f"bench round {rnd}"}),
                                        token=self.tokens[u])
            t1 = time.time()
            if st != 204:
                raise BenchError(f"note POST for {u}: {st} {body[:300]!r}")
            posts.append((u, t0, t1))
        deadline = time.time() + MEDIUM + self.args.wake_timeout
        samples = []
        while time.time() < deadline:
            samples = [s for part in self.shards.all("samples", [(rnd,)] * len(self.shards))
                       for s in part]
            if len(samples) >= len(idxs):
                break
            time.sleep(0.2)
        if len(samples) < len(idxs):
            raise BenchError(f"round {rnd}: {len(idxs) - len(samples)} of {len(idxs)} "
                             f"channels did not answer within {MEDIUM + self.args.wake_timeout}s")
        bad = [s for s in samples if not s[4]]
        if bad:
            raise BenchError(f"round {rnd}: {len(bad)} wrong answers, e.g. {bad[:3]}")
        t_post = {u: t0 for u, t0, _ in posts}
        lat = sorted((s[1] - t_post[self.users[s[0]]] - MEDIUM) * 1000 for s in samples)
        loop_lat = sorted((s[2] - t_post[self.users[s[0]]] - MEDIUM) * 1000 for s in samples)
        post_ms = max(t1 - t0 for _, t0, t1 in posts) * 1000
        return {"label": label, "n": len(samples), "lat": lat, "loop": loop_lat,
                "post_ms": post_ms}

    def wrk(self, label):
        return run_wrk(self.port, self.host, self.args, label)

    def max_phase(self, before):
        """Parks the lurker applications on top of the main channels, as many as fit."""
        extra = self.extra
        if not extra:
            return None
        # they end by their own timeout: long enough to park them all and measure
        est = max(120, int(len(extra) / max(1.0, self.park_rate) * 3) + 60)
        t_out = est + int(self.args.hold) + 60
        for k in range(len(self.shards)):
            self.shards.call(k, "set_timeout", t_out)
        want = len(self.main) + len(extra)
        t0 = time.time()
        self.shards.all("park", [(part, self.args.connect_concurrency)
                                 for part in self.shards.split(extra)])
        best, last_change, last = 0, time.time(), None
        reason = "every channel parked"
        while True:
            st = self.ctl.status()
            cs = self.shards.stats()
            if st["parked"] > best:
                best, last_change = st["parked"], time.time()
            if st["parked"] >= want and cs["pending"] >= want:
                break
            if cs["n_errors"]:
                reason = f"client errors: {cs['errors'][:2]}"
                break
            if time.time() - last_change > 20:
                reason = (f"no progress for 20 s ({cs['pending']} requests pending, "
                          f"{cs['bounces']} bounces)")
                break
            if time.time() - t0 > est:
                reason = f"not all parked within {est}s"
                break
            last = (st, cs)
            time.sleep(0.5)
        dt = time.time() - t0
        time.sleep(1.0)
        st = self.ctl.status()
        m = self.snapshot(f"max: {st['parked']} parked event channels", st["parked"])
        m["ref"] = before
        m["park_s"] = dt
        cs = self.shards.stats()
        m["bounces"], m["bounced_channels"], m["max_bounces"] = (
            cs["bounces"], cs["bounced_channels"], cs["max_bounces"])
        m["dist"] = conns_per_child(self.fe.proc.pid, self.port)
        m["cpu"] = cpu_percent(self.fe.proc.pid, self.args.hold)
        m["reason"] = reason
        m["t_out"] = t_out
        # from now on a bounced lurker is not sent again; the parked ones end by timeout
        self.shards.all("no_retry")
        m["t_end"] = time.time()
        log(f"max: {st['parked']} parked ({reason}); PSS {m['Pss'] / 1024:.0f} MiB")
        return m

    # the whole run -----------------------------------------------------------------
    def go(self):
        a = self.args
        self.plan()
        tmp = Path(tempfile.mkdtemp(prefix="mobility-bench-ucwa-"))
        tmp.chmod(0o755)
        self.tmp = tmp
        self.fe = None
        self.shards = None
        try:
            self.snapshot_modules(tmp / "modules")
            topo = mobility.Topology(offset=mobility.free_offset())
            state = mobility.make_state(tmp / "state", topo)
            static = tmp / "static"
            static.mkdir()
            static.chmod(0o755)
            (static / "small.txt").write_bytes(b"x" * 256)
            (static / "small.txt").chmod(0o644)
            self.fe = mobility.front_end(tmp / "fe", state, topo, extra=self.config_extra(static),
                                         mpm="event", servers=self.servers, threads=self.tpc,
                                         log_level=a.log_level)
            # the site templates, copied too: the restarts read the configuration again,
            # and it must stay the one the directory was made for
            sites = mobility.REPO / "conf.d" / "sites"
            shutil.copytree(sites, tmp / "sites")
            self.fe.body = self.fe.body.replace(f'"{sites}/', f'"{tmp / "sites"}/')
            log(f"starting the Front End: event MPM, {self.servers} x {self.tpc} threads, "
                f"UcwaMaxParkedPerChild {self.cap or f'default ({self.per_child})'}, "
                f"UcwaMaxApplications {self.store_apps}")
            self.fe.start(timeout=120)
            self.port, self.host = topo.fe_http, topo.pool
            self.ctl = Control(self.port, self.host)
            self.wait_threads()
            m0 = self.snapshot("fresh server, no application")
            self.setup_apps()
            self.start_shards()
            cpu_idle = cpu_percent(self.fe.proc.pid, a.hold)
            log(f"server CPU with nothing parked: {cpu_idle:.1f}% over {a.hold}s")
            wrk_idle = self.wrk("nothing parked")
            if a.im_only:
                # the IM section alone: park, measure IM at each N, wrk with the most parked
                self.fresh_children()
                m_pre = self.snapshot("before parking (new children)")
                self.park_phase(m_pre)
                wrk_parked = self.wrk(f"{self.n_main} parked")
                errors, warnings = error_log_problems(self.fe)
                if errors:
                    raise BenchError("the Front End logged errors:\n" + "\n".join(errors[:20]))
                print()
                print("Machine")
                for k, v in machine_facts(self):
                    print(f"  {k:<16} {v}")
                self.report_im(wrk_idle, wrk_parked)
                if a.summary:
                    self.write_summary([], [], wrk_idle, wrk_parked)
                if warnings:
                    print(f"note: {len(warnings)} warning(s) in the Front End log, e.g.\n  "
                          + "\n  ".join(warnings[:5]))
                return 0
            # each memory ramp starts from new children (a restart, SIGHUP): the same
            # parent and store, worker threads that never ran
            self.fresh_children()
            m_setup = self.snapshot(f"{self.apps_total} applications, new children")
            idle = self.idle_phase(m_setup)
            self.fresh_children()
            m_pre = self.snapshot("before parking (new children again)")
            parked = self.park_phase(m_pre)
            last = parked[-1]
            self.park_rate = (self.counts[-1] - (self.counts[-2] if len(self.counts) > 1 else 0)) \
                / max(0.1, last["park_s"])
            wrk_parked = self.wrk(f"{self.n_main} parked")
            rounds = []
            for r in range(a.rounds):
                u = USERS[r % 2]
                res = self.wake_round(r + 1, [u], True, f"{u.split('@')[0]} posts a note: "
                                      f"{self.n_main // 2} channels woken")
                rounds.append(res)
                log(f"round {r + 1}: {res['n']} answers, from window end p50 "
                    f"{pct(res['lat'], 50):.1f} ms p99 {pct(res['lat'], 99):.1f} ms "
                    f"(POST took {res['post_ms']:.1f} ms)")
                self.wait_parked(self.n_main, a.park_timeout)
            steady = self.snapshot(f"{self.n_main} parked after {a.rounds} wake rounds",
                                   self.n_main)
            steady["ref"] = m_pre
            steady["steady"] = True
            mx = self.max_phase(steady) if a.max else None
            # the release: both users at once; every channel must answer its note event
            rel = self.wake_round(a.rounds + 1, list(USERS), False,
                                  f"both post a note: all {self.n_main} channels released")
            log(f"release: {rel['n']} of {self.n_main} answered 200 with their note event")
            rounds.append(rel)
            if mx:
                self.wait_extra(mx)
            m_after = self.snapshot("after the release (connections still open)")
            st = self.ctl.status()
            errors, warnings = error_log_problems(self.fe, tolerate_maxworkers=a.max)
            if errors:
                raise BenchError("the Front End logged errors:\n" + "\n".join(errors[:20]))
            self.report(m0, m_setup, idle, m_pre, parked + [steady], mx, m_after, rounds, wrk_idle,
                        wrk_parked, cpu_idle, st, warnings)
            if a.summary:
                self.write_summary(parked + [steady], rounds, wrk_idle, wrk_parked)
            return 0
        except BenchError:
            if self.fe:
                tail = self.fe.log_text().splitlines()[-20:]
                if tail:
                    print("bench_ucwa: last lines of the Front End error log:\n  "
                          + "\n  ".join(tail), file=sys.stderr)
            raise
        finally:
            if self.shards:
                self.shards.close()
            if self.fe:
                self.fe.stop()
            if a.keep:
                print(f"bench_ucwa: kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)

    def write_summary(self, parked, rounds, wrk_idle, wrk_parked):
        """The headline figures as JSON (--summary), for bench_pool.py to print beside its
        own."""
        alls = sorted(x for r in rounds for x in r["lat"])
        out = {
            "parked": [{"n": m["n"], "steady": bool(m.get("steady")),
                        "kib_each": (m["Pss"] - m["ref"]["Pss"]) / m["n"]} for m in parked],
            "wake": {"n": len(alls), "p50_ms": pct(alls, 50), "p99_ms": pct(alls, 99),
                     "max_ms": alls[-1] if alls else None} if alls else None,
            "im": [{"n": r["n"], "p50_ms": pct(r["lat"]["lat"], 50),
                    "p99_ms": pct(r["lat"]["lat"], 99),
                    "msg_s": r["thr"]["sent"] / r["thr"]["secs"]} for r in self.im_results],
            "static_rps": {"idle": wrk_idle["rps"], "parked": wrk_parked["rps"]},
        }
        Path(self.args.summary).write_text(json.dumps(out))

    def snapshot_modules(self, where):
        """Our modules, copied: the restarts below load them again from disk, and a build
        running meanwhile must not swap them (a new session-store layout under a running
        store breaks every session)."""
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

    def wait_threads(self, old=()):
        """The children start their worker threads after the parent is up: wait for them
        (and, after a restart, for the old children to be gone)."""
        want = self.servers * self.tpc
        deadline = time.time() + 180
        while time.time() < deadline:
            kids = server_pids(self.fe.proc.pid)[1:]
            m = mem_snapshot(self.fe.proc.pid)
            if m["threads"] >= want and not set(kids) & set(old):
                time.sleep(1.0)
                return kids
            time.sleep(0.5)
        raise BenchError(f"the Front End runs {m['threads']} threads, not {want}, or old "
                         f"children are still there")

    def fresh_children(self):
        """A restart (SIGHUP, apachectl restart): the same parent, session store and
        applications, new children, so a measurement starts from worker threads that never
        ran. Not graceful: the old children are gone before the new ones start, so the
        thread count never doubles (with --max it would pass kernel.pid_max)."""
        old = server_pids(self.fe.proc.pid)[1:]
        self.fe.proc.send_signal(signal.SIGHUP)
        self.wait_threads(old)

    def wait_extra(self, mx):
        """The --max lurkers end by their timeout: each must answer 200 with an empty
        package."""
        left = mx["t_end"] + mx["t_out"] + 30 - time.time()
        log(f"waiting up to {left:.0f}s for the --max channels' timeout")
        deadline = time.time() + max(0, left)
        while time.time() < deadline:
            cs = self.shards.stats()
            if cs["n_errors"]:
                raise BenchError(f"--max channels: {cs['errors'][:3]}")
            if cs["pending"] == 0:
                break
            time.sleep(1)
        cs = self.shards.stats()
        mx["released"] = cs["timeouts"]
        mx["gave_up"] = cs["gave_up"]
        mx["release_ok"] = cs["n_errors"] == 0 and cs["pending"] == 0

    # output ------------------------------------------------------------------------
    def report(self, m0, m_setup, idle, m_pre, parked, mx, m_after, rounds, wrk_idle,
               wrk_parked, cpu_idle, st, warnings):
        a = self.args
        mib = lambda kib: f"{kib / 1024:,.1f}"  # noqa: E731
        print()
        print("Machine")
        for k, v in machine_facts(self):
            print(f"  {k:<16} {v}")
        print()
        store_kib = m_setup["Pss_Shmem"]
        print("Server memory (sum over the parent and its children; PSS from smaps_rollup "
              "counts shared pages once; RSS sums count them in every process)")
        head = (f"{'state':<52} {'procs':>5} {'threads':>7} {'PSS MiB':>9} {'anon MiB':>9} "
                f"{'shm MiB':>8} {'RSS sum MiB':>11}")
        print(head)
        print("-" * len(head))
        allm = [m0, m_setup] + idle + [m_pre] + parked + ([mx] if mx else []) + [m_after]
        for m in allm:
            print(f"{m['label']:<52} {m['procs']:>5} {m['threads']:>7} {mib(m['Pss']):>9} "
                  f"{mib(m['Pss_Anon']):>9} {mib(m['Pss_Shmem']):>8} {mib(m['Rss']):>11}")
        print()
        print("Per connection (PSS growth over the reference state / N)")
        head = (f"{'connections':<44} {'N':>6} {'ref PSS MiB':>11} {'PSS MiB':>9} "
                f"{'KiB each':>9} {'RSS-sum KiB each':>16}")
        print(head)
        print("-" * len(head))
        for m in idle + parked + ([mx] if mx else []):
            if "ref" not in m:
                continue
            ref = m["ref"]
            n = m["n"] - (ref.get("n") or 0) if m is mx else m["n"]
            if m in idle:
                kind = ("idle keep-alive, again on warm children" if m.get("warm")
                        else "idle keep-alive (static file)")
            elif m is mx:
                kind = "parked, --max, over the steady main N"
            elif m.get("steady"):
                kind = f"parked, after {a.rounds} wake rounds (steady)"
            else:
                kind = "parked event channel"
            print(f"{kind:<44} {n:>6} {mib(ref['Pss']):>11} {mib(m['Pss']):>9} "
                  f"{(m['Pss'] - ref['Pss']) / n:>9.1f} {(m['Rss'] - ref['Rss']) / n:>16.1f}")
        print("  references: idle connections against the fresh children (and, warm, against "
              "the state after closing them); parked against the fresh children before "
              "parking" + ("; --max against the steady main N" if mx else "")
              + ". Each ramp starts right after a restart (SIGHUP: same parent, store and "
              "applications; new children whose threads never ran), so neither inherits "
              "memory the other warmed. Kernel socket buffers are not in these figures")
        print(f"  the session store (UcwaMaxApplications {self.store_apps}, "
              f"UcwaEventsPerApplication 64 x UcwaEventSize 4096, the defaults) is shared "
              f"memory touched at start: {mib(store_kib)} MiB, "
              f"{store_kib / self.store_apps:.0f} KiB per application, in every row above")
        print()
        print("Parking (each channel: its own connection and application, "
              f"GET events?ack=K&timeout={PARK_TIMEOUT}&medium={MEDIUM})")
        head = (f"{'N':>6} {'seconds':>8} {'bounces':>8} {'channels bounced':>16} "
                f"{'max/channel':>11} {'server CPU %':>12} {'conns per child (max..min)':<30}")
        print(head)
        print("-" * len(head))
        print(f"{0:>6} {'':>8} {'':>8} {'':>16} {'':>11} {cpu_idle:>12.1f}")
        for m in [p for p in parked if "park_s" in p] + ([mx] if mx else []):
            d = m["dist"]
            dist = f"{d[0]}..{d[-1]} over {len(d)}" if d else "?"
            print(f"{m['n']:>6} {m['park_s']:>8.1f} {m['bounces']:>8} {m['bounced_channels']:>16} "
                  f"{m['max_bounces']:>11} {m['cpu']:>12.1f} {dist:<30}")
        print(f"  a bounce: the child that got the request was at UcwaMaxParkedPerChild "
              f"({self.cap or f'default 3/4 x {self.tpc} = {self.per_child}'}) and answered at "
              f"once with an empty package; the bench retried on a new connection")
        print(f"  server CPU: % of one CPU over {a.hold}s while the channels wait "
              f"(each parked request wakes every 500 ms and takes the store's lock)")
        if mx:
            print(f"  --max: stopped with {mx['n']} parked: {mx['reason']}; the extra "
                  f"{len(self.extra)} channels were lurkers released by their timeout "
                  f"({mx['t_out']}s): {mx.get('released', '?')} answered 200 empty packages"
                  f" at their timeout" + ("" if mx.get("release_ok") else
                                          " (NOT ALL: some still pending)")
                  + (f"; {mx['gave_up']} bounced after the measurement and were not sent "
                     "again" if mx.get("gave_up") else ""))
        print()
        print(f"Wake latency with {self.n_main} parked: response time - (POST time + medium "
              f"window {MEDIUM} s); every event mod_ucwa posts is MEDIUM priority")
        head = (f"{'round':<58} {'samples':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
                f"{'max ms':>8} {'POST ms':>8}")
        print(head)
        print("-" * len(head))
        alls = []
        for r in rounds:
            alls += r["lat"]
            print(f"{r['label']:<58} {r['n']:>7} {pct(r['lat'], 50):>8.1f} {pct(r['lat'], 90):>8.1f} "
                  f"{pct(r['lat'], 99):>8.1f} {r['lat'][-1]:>8.1f} {r['post_ms']:>8.1f}")
        alls.sort()
        print(f"{'all rounds':<58} {len(alls):>7} {pct(alls, 50):>8.1f} {pct(alls, 90):>8.1f} "
              f"{pct(alls, 99):>8.1f} {alls[-1]:>8.1f}")
        print(f"  times are the kernel's receive timestamps of each response's first bytes "
              f"(SO_TIMESTAMPNS); min {alls[0]:.1f} ms. The last round is the release: "
              f"{rounds[-1]['n']}/{self.n_main} answered 200 with an event package holding "
              f"their note event")
        print()
        print(f"Static file baseline (wrk -t{a.wrk_threads} -c{a.wrk_connections} "
              f"-d{a.duration}s, {STATIC_PREFIX}/small.txt, 256 B, same server and port)")
        head = f"{'while':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        print(head)
        print("-" * len(head))
        for w in (wrk_idle, wrk_parked):
            print(f"{w['label']:<26} {w['rps']:>9.0f} {w['p50_us'] / 1000:>8.2f} "
                  f"{w['p99_us'] / 1000:>8.2f}")
        self.report_im(wrk_idle, wrk_parked)
        print()
        print(f"store at the end: {json.dumps(st)}")
        if warnings:
            print(f"note: {len(warnings)} warning(s) in the Front End log, e.g.\n  "
                  + "\n  ".join(warnings[:5]))


def report_im(self, wrk_idle, wrk_parked):
    """The instant-messaging section's tables."""
    a = self.args
    if not self.im_results:
        return
    print()
    print(f"Instant messaging: POST .../messaging/messages (text/plain) by alice -> bob's "
          f"event response; {self.im_pairs} connected alice<->bob conversations between "
          f"dedicated applications (available with Messaging), N lurker channels parked "
          f"alongside (available with Audio, so no invitation reaches them)")
    head = (f"{'N parked':>8} {'samples':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
            f"{'max ms':>8} {'POST p50':>8} {'POST p99':>8}   target p99 < 20 ms")
    print("  sequential (one message outstanding, pairs in turn; the recipient's GET parked "
          "before each POST)")
    print(head)
    print("-" * len(head))
    for r in self.im_results:
        l = r["lat"]
        print(f"{r['n']:>8} {len(l['lat']):>7} {pct(l['lat'], 50):>8.2f} "
              f"{pct(l['lat'], 90):>8.2f} {pct(l['lat'], 99):>8.2f} {l['lat'][-1]:>8.2f} "
              f"{pct(l['post'], 50):>8.2f} {pct(l['post'], 99):>8.2f}   "
              f"{'met' if pct(l['lat'], 99) < 20 else 'MISSED'}")
    print(f"  throughput ({self.im_pairs} pairs post at once, each as fast as the server "
          f"answers, at most {a.im_window} undelivered per pair; every message counted at "
          f"its recipient)")
    head = (f"{'N parked':>8} {'seconds':>7} {'msg/s':>8} {'delivered':>17} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'max ms':>8} {'POST p50':>8} {'srv CPU%':>8} {'cli CPU%':>8} "
            f"{'static req/s':>12}")
    print(head)
    print("-" * len(head))
    for r in self.im_results:
        t = r["thr"]
        w = r.get("wrk") or (wrk_parked if r["n"] == self.n_main else None)
        print(f"{r['n']:>8} {t['secs']:>7.1f} {t['sent'] / t['secs']:>8.0f} "
              f"{str(t['delivered']) + '/' + str(t['sent_total']):>17} {pct(t['lat'], 50):>8.2f} "
              f"{pct(t['lat'], 99):>8.2f} {t['lat'][-1]:>8.2f} {pct(t['post'], 50):>8.2f} "
              f"{t['cpu']:>8.0f} {t['client_cpu']:>8.0f} {(w['rps'] if w else float('nan')):>12.0f}")
    print(f"  static baseline, same server and run: {wrk_idle['rps']:.0f} req/s with nothing "
          f"parked; the last column is wrk with the same N parked (wrk -t{a.wrk_threads} "
          f"-c{a.wrk_connections} -d{a.duration}s)")
    bl = [r["lat"]["bounces"] + r["thr"]["bounces"] for r in self.im_results]
    print(f"  latency = kernel receive time (SO_TIMESTAMPNS) of the recipient's response - "
          f"time.time() before the POST is sent; msg/s = messages the server answered 201 "
          f"over the posting time (the final deliveries included in 'delivered'); recipient "
          f"bounces (not parked by a full child) {sum(bl)}. CPU: % of one CPU during the "
          f"throughput phase, the server's and the client's (one Python process, sharing "
          f"the machine's {len(os.sched_getaffinity(0))} CPUs with the server)")


Run.report_im = report_im


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_facts(run):
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    apache = sh(mobility.APACHE, "-v").splitlines()
    return [
        ("nproc", str(len(os.sched_getaffinity(0)))),
        ("cpu", cpu),
        ("memory", f"{run.mem_avail / 1024 / 1024:.1f} GiB available at start"),
        ("kernel", platform.release()),
        ("limits", f"RLIMIT_NOFILE {run.nofile} (per process; the client uses "
                   f"{run.n_shards} process(es)), kernel.pid_max {run.pid_max}, "
                   f"{run.threads_now} threads running before the bench"),
        ("apache", apache[0].split(":", 1)[1].strip() if apache else "?"),
        ("apache config", f"event MPM, {run.servers} children x {run.tpc} threads "
                          f"(ServerLimit {run.servers * 4}, MaxRequestWorkers "
                          f"{run.servers * run.tpc}), UcwaMaxParkedPerChild "
                          f"{run.cap or f'default ({run.per_child})'}, UcwaMaxApplications "
                          f"{run.store_apps}, LogLevel {run.args.log_level}, access log on, "
                          f"Mutex file (fcntl, Debian's default); plain HTTP, internal site"),
        ("source", sh("git", "-C", str(HERE.parent), "describe", "--always", "--dirty")),
    ]


def error_log_problems(fe, tolerate_maxworkers=False):
    errors, warnings = [], []
    for line in fe.log_text().splitlines():
        if re.search(r":(error|crit|alert|emerg)\]", line):
            if tolerate_maxworkers and re.search(r"AH00484|AH10159", line):
                warnings.append(line)
            else:
                errors.append(line)
        elif re.search(r":warn\]", line):
            warnings.append(line)
    return errors, warnings


def add_client_args(ap):
    """The options every bench driving parked channels shares (bench_mcx, bench_pool):
    wrk, the client's connections and shards, how long parking and a wake may take, and
    Apache's LogLevel."""
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=32)
    ap.add_argument("--setup-concurrency", type=int, default=16,
                    help="connections for creating applications (16)")
    ap.add_argument("--connect-concurrency", type=int, default=200,
                    help="connections each client process opens at once (200)")
    ap.add_argument("--shard-size", type=int, default=8000,
                    help="channels per client process (8000)")
    ap.add_argument("--park-timeout", type=int, default=180,
                    help="seconds allowed for N channels to park (180)")
    ap.add_argument("--wake-timeout", type=int, default=60,
                    help="seconds after the window allowed for a wake round (60)")
    ap.add_argument("--log-level", default="warn", help="Apache LogLevel (warn)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N=1000 only, short holds and wrk runs")
    ap.add_argument("--max", action="store_true",
                    help="also park as many channels as the machine allows")
    ap.add_argument("--max-channels", type=int, default=0,
                    help="with --max: stop at this many parked channels (default: as many as "
                         "the threads kernel.pid_max leaves allow)")
    ap.add_argument("--n", default="", help="comma-separated N values instead of 1000,6660")
    ap.add_argument("--threads-per-child", type=int, default=1000,
                    help="ThreadsPerChild and ThreadLimit (1000)")
    ap.add_argument("--servers", type=int, default=0,
                    help="child processes (default: enough for the largest N at the per-child "
                         "cap, plus 25%% and one)")
    ap.add_argument("--cap", type=int, default=None,
                    help="UcwaMaxParkedPerChild (default: unset, the module's 3/4 of "
                         "ThreadsPerChild; with --max, ThreadsPerChild - 16)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="wake rounds before the release, alternating alice and bob (4; "
                         "--quick 2)")
    ap.add_argument("--hold", type=float, default=None,
                    help="seconds the server's CPU is sampled while channels wait (10; "
                         "--quick 3)")
    ap.add_argument("--duration", type=int, default=None, help="seconds of wrk (10; --quick 3)")
    add_client_args(ap)
    ap.add_argument("--no-im", action="store_true", help="skip the instant-messaging section")
    ap.add_argument("--im-only", action="store_true",
                    help="only the instant-messaging section (with the static baseline): "
                         "no idle ramp, wake rounds or release")
    ap.add_argument("--im-pairs", type=int, default=8,
                    help="alice<->bob conversations of the IM section (8; at most 16, "
                         "UCWA_CONV_ENDPOINTS)")
    ap.add_argument("--im-samples", type=int, default=500,
                    help="sequential messages measured at each N (500)")
    ap.add_argument("--im-gap", type=float, default=0.002,
                    help="seconds between a recipient's GET and the next POST to it (0.002)")
    ap.add_argument("--im-duration", type=float, default=None,
                    help="seconds of the IM throughput phase (10; --quick 3)")
    ap.add_argument("--im-window", type=int, default=16,
                    help="messages posted and not yet delivered per pair, at most (16)")
    ap.add_argument("--summary", default="",
                    help="also write the headline figures to this file as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    a.rounds = a.rounds if a.rounds is not None else (2 if a.quick else 4)
    a.hold = a.hold if a.hold is not None else (3 if a.quick else 10)
    a.duration = a.duration if a.duration is not None else (3 if a.quick else 10)
    a.im_duration = a.im_duration if a.im_duration is not None else (3 if a.quick else 10)
    if a.im_only and a.no_im:
        sys.exit("bench_ucwa: --im-only and --no-im exclude each other")
    if not 1 <= a.im_pairs <= 16:
        sys.exit("bench_ucwa: --im-pairs must be 1 to 16")
    if not shutil.which("wrk"):
        sys.exit("bench_ucwa: wrk is missing (apt-get install -y wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return Run(a).go()
    except BenchError as e:
        print(f"bench_ucwa: FAILED: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
