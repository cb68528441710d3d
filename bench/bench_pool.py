#!/usr/bin/python3
"""A pool of two Front Ends (UcwaPoolFrontEnd fe1, fe2) sharing presence and instant
messaging through a private PostgreSQL: parked channels, IM latency on one Front End and
across the two, presence fan-out across them, failover after a SIGKILL; beside them the
single-Front-End figures of bench_ucwa.py and a static file, in one run.

Run as root (PostgreSQL runs as the postgres user, as in test_pool.py): initdb in the
run's temporary directory, a Unix socket there, no TCP. The demo directory, with N + a
few generated users (user00001@contoso.test ..., the demo password), is copied into it.
Both Front Ends use the event MPM sized as bench_ucwa sizes one (ThreadsPerChild 1000,
the module's UcwaMaxParkedPerChild of 3/4 of it, children for N/2 channels + 25% and one
spare). Each client talks to its own Front End directly, as the load balancer's affinity
pins it; plain HTTP on the internal site.

  single     bench_ucwa.py as a subprocess first, on a Front End of its own (--quick runs
             it with --quick; else with its defaults, or --ucwa-args): memory per parked
             channel and wake latency of one Front End, for the comparison at the end
  parked     N event channels in all, N/2 on each Front End, each its own user and
             application (available with Audio), parked (GET events?timeout=3600&
             medium=5, ucwa_client's shards): PSS of each Front End before and while they
             wait, per channel; the server's CPU meanwhile
  im         with the N parked: --im-pairs conversations between users on one Front End
             (half on FE1, half on FE2), and as many across them (half FE1 -> FE2, half
             FE2 -> FE1); each sequential (--im-samples messages, one outstanding, POST
             .../messaging/messages to the recipient's event response, p50/p99; target
             p99 < 10 ms across) and then a throughput phase (every pair posts as fast as
             the server answers, at most --im-window undelivered per pair): messages/s.
             Every message must arrive once
  static     wrk on FE1's static file, with nothing and with N parked
  fanout     one user on FE1 (a control application) changes his presence (POST
             me/presence); --watchers of FE2's parked applications have a presence
             subscription to him: time from the POST to each watcher's event response
             carrying contactPresence, less the 5 s medium window (contact presence is a
             MEDIUM event), p50 and max (the last watcher), --fanout-rounds rounds
  failover   SIGKILL of FE2's parent and children; a watcher on FE1 polls GET
             people/{sip}/presence of five of FE2's users until all read Offline: time
             from the kill to the first and to the last. On the loaded pool with
             UcwaPoolLease at its default (10 s); then, for each --failover-leases value,
             on two new small Front Ends (fe3, fe4) of the same database

The figures never fail the run; a wrong answer, a lost message, a client error or an
error in a Front End's log does.

  ./apxs-build.sh bench --pool [--quick] [--n 6660] ...
  python3 bench/bench_pool.py [--quick] [--n N] [--watchers K] [--no-single] [--keep]
"""
import argparse
import asyncio
import gc
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "lib"))
sys.path.insert(0, str(HERE))
import bench_ucwa as bu  # noqa: E402
import mobility  # noqa: E402
import pool as pool_lib  # noqa: E402
import ucwa_client as uc  # noqa: E402
from bench_ucwa import MEDIUM, PARK_TIMEOUT, BenchError, pct  # noqa: E402

FAILOVER_WATCHED = 5
DBD_MAX = 10            # mod_dbd's DBDMax default (threaded MPM): connections per child


def log(msg):
    print(f"bench_pool: {msg}", flush=True)


def user(i):
    return mobility.GENERATED_USER.format(i)


class Fe:
    """One Front End of the pool: its Apache, port, control connection and channels."""

    def __init__(self, name, apache, topo, servers, tpc):
        self.name, self.apache, self.topo = name, apache, topo
        self.servers, self.tpc = servers, tpc
        self.port, self.host = topo.fe_http, topo.pool
        self.ctl = bu.Control(self.port, self.host)
        self.idxs = []            # the channels it holds
        self.shards = None

    @property
    def pid(self):
        return self.apache.proc.pid

    def wait_threads(self):
        want = self.servers * self.tpc
        deadline = time.time() + 180
        while time.time() < deadline:
            if bu.mem_snapshot(self.pid)["threads"] >= want:
                return
            time.sleep(0.5)
        raise BenchError(f"{self.name} does not run its {want} threads")

    def fresh_children(self):
        """A restart (SIGHUP): the same parent, store and applications, new children
        whose worker threads never ran, so the memory of parking is not hidden by what
        the setup warmed (as bench_ucwa does before each ramp)."""
        old = set(bu.server_pids(self.pid)[1:])
        self.apache.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 180
        while time.time() < deadline:
            kids = set(bu.server_pids(self.pid)[1:])
            if not kids & old and bu.mem_snapshot(self.pid)["threads"] >= \
                    self.servers * self.tpc:
                time.sleep(1.0)
                return
            time.sleep(0.5)
        raise BenchError(f"{self.name}: no new children after SIGHUP")

    def wait_parked(self, want, timeout):
        return bu.wait_parked(self.ctl, self.shards, want, timeout, self.name)

    def kill(self):
        """SIGKILL of the parent and every child: no goodbye to the pool."""
        return self.apache.kill()


class Pool:
    def __init__(self, a):
        self.a = a
        self.fes = []
        self.tokens = {}
        self.results = {}
        self.single = None
        self.pg = None
        self.tmp = None
        self.ims = []

    # sizing -------------------------------------------------------------------------
    def plan(self):
        a = self.a
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.n = a.n
        self.n_fe = [self.n - self.n // 2, self.n // 2]
        self.k = min(a.watchers, self.n_fe[1])
        self.pairs = a.im_pairs
        per_child = a.threads_per_child * 3 // 4
        self.servers = math.ceil(max(self.n_fe) * 1.25 / per_child) + 1
        # the channels, the IM users (2 per pair, 2 sets of pairs), the presence subject
        # and the failover watcher
        self.n_users = self.n + 4 * self.pairs + 2
        self.subject = user(self.n + 4 * self.pairs + 1)
        self.watcher = user(self.n + 4 * self.pairs + 2)
        self.store_apps = max(self.n_fe) + 4 * self.pairs + 64

    agent = "bench_pool"         # userAgent of the applications; the log lines' tag
    conf_more = ""               # more configuration for every Front End (bench_calls)

    def fe_extra(self, name, lease, store_apps, cap=0):
        return "\n".join([f'Include "{self.dirconf}"', f"UcwaPoolFrontEnd {name}"]
                         + ([f"UcwaPoolLease {lease}"] if lease else [])
                         + [bu.fe_config(self.static, store_apps, cap)]
                         + ([self.conf_more] if self.conf_more else []))

    def start_fe(self, name, lease=None, servers=None, tpc=None, store_apps=None):
        servers = servers or self.servers
        tpc = tpc or self.a.threads_per_child
        topo = mobility.Topology(offset=mobility.free_offset())
        ap = mobility.front_end(self.tmp / name, self.state, topo, directory=None,
                                extra=self.fe_extra(name, lease, store_apps or self.store_apps),
                                mpm="event", servers=servers, threads=tpc,
                                log_level=self.a.log_level)
        ap.start(timeout=120)
        fe = Fe(name, ap, topo, servers, tpc)
        fe.wait_threads()
        self.log(f"{name} up on port {fe.port}: {servers} children x {tpc} threads"
            + (f", UcwaPoolLease {lease}" if lease else ", UcwaPoolLease default"))
        return fe

    # setup --------------------------------------------------------------------------
    def client(self, fe):
        return bu.SetupClient(fe.port, fe.host, self.tokens, self.a.setup_concurrency,
                              self.agent, fe.name)

    def log(self, msg):
        print(f"{self.agent}: {msg}", flush=True)

    def get_tokens(self, users, fe):
        self.client(fe).get_tokens(users, self.log)

    def call_all(self, fe, reqs, want, what):
        """reqs: (method, path, user, body); every answer must be want."""
        return self.client(fe).call_all(reqs, want, what)

    def create_apps(self, fe, users, modality, tag):
        return self.client(fe).create_apps(users, [modality], tag)

    def spread_channels(self):
        """Tokens for every user (through FE1); the N channels' applications, available
        with Audio: users 1, 3, 5 ... on FE1, 2, 4, 6 ... on FE2 (fe.idxs)."""
        self.get_tokens([user(i) for i in range(1, self.n_users + 1)], self.fes[0])
        self.bases = {}
        t0 = time.time()
        for k, fe in enumerate(self.fes):
            fe.idxs = [i for i in range(1, self.n + 1) if (i - 1) % 2 == k]
            bases = self.create_apps(fe, [user(i) for i in fe.idxs], "Audio", "ch")
            self.bases.update(zip(fe.idxs, bases))
        self.log(f"{self.n} applications created and available in {time.time() - t0:.1f}s")

    def drain_first(self, fe, idxs):
        """The first event package of each application idxs on fe (older than the medium
        window: released at once): their next acks, in self.acks."""
        resps = self.call_all(fe, [("GET", f"{self.bases[i]}/events?ack=1&timeout="
                                    f"{PARK_TIMEOUT}&medium={MEDIUM}", user(i), None)
                                   for i in idxs], 200, "first events")
        for i, r in zip(idxs, resps):
            self.acks[i] = uc.next_ack(r.json(), self.bases[i])

    def make_shards(self):
        """Each Front End's client shards, holding its channels (fe.idxs)."""
        for fe in self.fes:
            fe.shards = bu.user_shards(fe.port, fe.host, fe.idxs, self.a.shard_size,
                                       self.bases, self.tokens, self.acks)

    def setup(self):
        fe1, fe2 = self.fes
        self.spread_channels()
        # the presence subject (FE1) and its watchers: FE2's first K channels
        self.subject_base = self.create_apps(fe1, [self.subject], "Audio", "subject")[0]
        self.watchers = fe2.idxs[:self.k]
        self.call_all(fe2, [("POST", self.bases[i] + "/people/presenceSubscriptions", user(i),
                             json.dumps({"duration": 30, "uris": ["sip:" + self.subject]}))
                            for i in self.watchers], 201, "presenceSubscriptions")
        log(f"{self.k} applications on FE2 watch {self.subject} (FE1)")
        # the IM pairs: same Front End (half on each) and across (half each way)
        u = self.n
        for kind in ("same", "across"):
            pairs = []
            for k in range(self.pairs):
                s_fe = self.fes[k % 2]
                r_fe = s_fe if kind == "same" else self.fes[1 - k % 2]
                su, ru = user(u + 1), user(u + 2)
                u += 2
                sb = self.create_apps(s_fe, [su], "Messaging", "im")[0]
                rb = self.create_apps(r_fe, [ru], "Messaging", "im")[0]
                pairs.append(uc.ImPair(k, sb, self.tokens[su], rb, self.tokens[ru], 1, ru,
                                       s_port=s_fe.port, r_port=r_fe.port))
            self.ims.append((kind, uc.ImBench("127.0.0.1", fe1.port, fe1.host, pairs,
                                              PARK_TIMEOUT, MEDIUM)))
        # their first packages: older than the medium window, released at once
        time.sleep(MEDIUM + 0.5)
        t0 = time.time()
        self.acks = {}
        for fe in self.fes:
            self.drain_first(fe, fe.idxs)
        log(f"drained the first package of {self.n} channels in {time.time() - t0:.1f}s")
        self.make_shards()

    # phases -------------------------------------------------------------------------
    def park_channels(self):
        """Parks every Front End's channels through its shards, all at once, until each
        store counts them: the seconds it took."""
        a = self.a
        t0 = time.time()
        for fe in self.fes:
            for k, part in enumerate(fe.shards.split(fe.idxs)):
                fe.shards.pipes[k].send(("park", (part, a.connect_concurrency)))
        for fe in self.fes:
            for k in range(len(fe.shards)):
                fe.shards._reply(k, "park", 600)
        for fe in self.fes:
            fe.wait_parked(len(fe.idxs), a.park_timeout)
        return time.time() - t0

    def park(self):
        a = self.a
        for fe in self.fes:
            fe.fresh_children()
        before = [bu.mem_snapshot(fe.pid) for fe in self.fes]
        dt = self.park_channels()
        after = [bu.mem_snapshot(fe.pid) for fe in self.fes]
        cpu = [bu.cpu_percent(fe.pid, a.hold) for fe in self.fes]
        rows = []
        for fe, b, m, c in zip(self.fes, before, after, cpu):
            n = len(fe.idxs)
            rows.append({"fe": fe.name, "n": n, "before": b, "after": m, "cpu": c,
                         "kib_each": (m["Pss"] - b["Pss"]) / n,
                         "rss_each": (m["Rss"] - b["Rss"]) / n,
                         "dist": bu.conns_per_child(fe.pid, fe.port)})
            log(f"{fe.name}: {n} parked, PSS {b['Pss'] / 1024:.0f} -> {m['Pss'] / 1024:.0f} "
                f"MiB, {(m['Pss'] - b['Pss']) / n:.1f} KiB each; CPU {c:.1f}%")
        self.results["parked"] = {"secs": dt, "rows": rows}

    def im(self):
        a = self.a
        out = []
        for kind, ib in self.ims:
            t0 = time.time()
            try:
                asyncio.run(ib.setup())
            except uc.HttpError as e:
                raise BenchError(f"IM setup ({kind}): {e}")
            log(f"IM {kind}: {len(ib.pairs)} conversations connected in {time.time() - t0:.1f}s")
            gc.collect()
            gc.disable()
            try:
                lat = asyncio.run(ib.latency(a.im_samples, 2 * len(ib.pairs), a.im_gap))
                c0 = [bu.cpu_ticks(fe.pid) for fe in self.fes]
                t0 = time.monotonic()
                thr = asyncio.run(ib.throughput(a.im_duration, a.im_window))
                el = time.monotonic() - t0
                hz = os.sysconf("SC_CLK_TCK")
                thr["cpu"] = [100.0 * (bu.cpu_ticks(fe.pid) - c) / hz / el
                              for fe, c in zip(self.fes, c0)]
            except (uc.HttpError, OSError, asyncio.TimeoutError) as e:
                raise BenchError(f"IM {kind}: {type(e).__name__}: {e}")
            finally:
                gc.enable()
            if not lat["complete"] or not thr["complete"]:
                raise BenchError(f"IM {kind}: a recipient did not get every message")
            if thr["delivered"] != thr["sent_total"]:
                raise BenchError(f"IM {kind}: {thr['sent_total']} sent, {thr['delivered']} "
                                 f"delivered")
            log(f"IM {kind}: p50 {pct(lat['lat'], 50):.2f} ms p99 {pct(lat['lat'], 99):.2f} ms "
                f"max {lat['lat'][-1]:.2f} ms; {thr['sent'] / thr['secs']:.0f} msg/s, "
                f"{thr['delivered']}/{thr['sent_total']} delivered, p99 "
                f"{pct(thr['lat'], 99):.2f} ms")
            out.append({"kind": kind, "lat": lat, "thr": thr})
            ib.close()
        for fe in self.fes:
            fe.wait_parked(len(fe.idxs), 60)
        self.results["im"] = out

    def fanout(self):
        a = self.a
        fe1, fe2 = self.fes
        rounds = []
        for r in range(a.fanout_rounds):
            rnd = 100 + r
            fe2.shards.all("arm", [(rnd, part, "contactPresence", True)
                                   for part in fe2.shards.split(self.watchers)])
            avail = ("Busy", "Away")[r % 2]
            t0 = time.time()
            st, body = fe1.ctl.request("POST", self.subject_base + "/me/presence",
                                       json.dumps({"availability": avail}),
                                       token=self.tokens[self.subject])
            t1 = time.time()
            if st != 204:
                raise BenchError(f"POST me/presence: {st} {body[:300]!r}")
            deadline = time.time() + MEDIUM + a.wake_timeout
            samples = []
            while time.time() < deadline:
                samples = [s for part in fe2.shards.all("samples", [(rnd,)] * len(fe2.shards))
                           for s in part]
                if len(samples) >= len(self.watchers):
                    break
                time.sleep(0.1)
            if len(samples) < len(self.watchers):
                raise BenchError(f"fan-out round {r + 1}: {len(self.watchers) - len(samples)} of "
                                 f"{len(self.watchers)} watchers got no contactPresence event "
                                 f"within {MEDIUM + a.wake_timeout}s")
            bad = [s for s in samples if not s[4]]
            if bad:
                raise BenchError(f"fan-out round {r + 1}: {len(bad)} wrong answers, e.g. "
                                 f"{bad[:3]}")
            lat = sorted((s[1] - t0) * 1000 for s in samples)
            rounds.append({"avail": avail, "lat": lat, "post_ms": (t1 - t0) * 1000})
            log(f"fan-out round {r + 1} ({avail}): {len(lat)} watchers, POST -> event p50 "
                f"{pct(lat, 50) - MEDIUM * 1000:.1f} ms, last {lat[-1] - MEDIUM * 1000:.1f} ms "
                f"after the {MEDIUM} s window")
            fe2.wait_parked(len(fe2.idxs), a.park_timeout)
        self.results["fanout"] = rounds

    def failover(self, survivor, victim, watched, label):
        """SIGKILL of victim; survivor's watcher polls the presence of the watched users
        (applications on victim) until every one reads Offline."""
        wb = self.create_apps(survivor, [self.watcher], "Audio", f"watch-{survivor.name}")[0]
        ctl = bu.Control(survivor.port, survivor.host)
        tok = self.tokens[self.watcher]

        def availability(u):
            st, body = ctl.request("GET", f"{wb}/people/{u}/presence", token=tok)
            if st != 200:
                raise BenchError(f"{label}: presence of {u} on {survivor.name}: {st} "
                                 f"{body[:300]!r}")
            return json.loads(body)["availability"]
        deadline = time.time() + 30
        while any(availability(u) == "Offline" for u in watched):
            if time.time() > deadline:
                raise BenchError(f"{label}: {survivor.name} never saw {watched} online")
            time.sleep(0.1)
        if victim.shards:
            victim.shards.close()
            victim.shards = None
        t0 = time.monotonic()
        procs = victim.kill()
        offline = {}
        deadline = t0 + self.a.failover_timeout
        while len(offline) < len(watched) and time.monotonic() < deadline:
            for u in watched:
                if u not in offline and availability(u) == "Offline":
                    offline[u] = time.monotonic() - t0
            time.sleep(0.05)
        if len(offline) < len(watched):
            raise BenchError(f"{label}: {len(watched) - len(offline)} of {victim.name}'s users "
                             f"still not Offline on {survivor.name} "
                             f"{self.a.failover_timeout}s after the kill")
        ts = sorted(offline.values())
        log(f"failover ({label}): {procs} processes killed; Offline on {survivor.name} after "
            f"{ts[0]:.2f} s (first) .. {ts[-1]:.2f} s (last of {len(ts)})")
        self.results.setdefault("failover", []).append(
            {"label": label, "first": ts[0], "last": ts[-1], "n": len(ts)})
        self.check_log(survivor)
        self.pool_status(survivor)

    def small_failover(self, lease):
        """Two new small Front Ends (fe3, fe4) of the same database, lease as given:
        FAILOVER_WATCHED users on fe4, the watcher on fe3."""
        names = (f"fe3-lease{lease}", f"fe4-lease{lease}")
        pair = [self.start_fe(n, lease=lease, servers=2, tpc=64, store_apps=256)
                for n in names]
        try:
            watched = [user(i) for i in self.fes[1].idxs[-FAILOVER_WATCHED:]]
            self.create_apps(pair[1], watched, "Audio", f"small{lease}")
            self.failover(pair[0], pair[1], watched, f"two small Front Ends, UcwaPoolLease "
                                                     f"{lease}")
        finally:
            for fe in pair:
                if fe.apache.proc:
                    fe.apache.stop()

    def check_log(self, fe):
        errors, warnings = bu.error_log_problems(fe.apache)
        if errors:
            raise BenchError(f"{fe.name} logged errors:\n" + "\n".join(errors[:20]))
        self.warnings = getattr(self, "warnings", []) + [f"{fe.name}: {w}" for w in warnings]

    def pool_status(self, fe):
        st = fe.ctl.status()
        self.results.setdefault("status", []).append((fe.name, st.get("pool")))

    # the single Front End -------------------------------------------------------------
    def run_single(self):
        a = self.a
        summary = self.tmp / "single.json"
        args = (a.ucwa_args.split() if a.ucwa_args is not None
                else (["--quick"] if a.quick else []))
        cmd = ["/usr/bin/python3", str(HERE / "bench_ucwa.py"), *args, "--summary", str(summary)]
        log("single Front End: " + " ".join(cmd[1:]))
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            raise BenchError(f"bench_ucwa.py failed (exit {rc})")
        self.single = json.loads(summary.read_text())

    # the whole run --------------------------------------------------------------------
    def go(self):
        a = self.a
        self.plan()
        self.make_tmp()
        try:
            if not a.no_single:
                self.run_single()
            self.start_pool()
            self.setup()
            self.results["wrk_idle"] = bu.run_wrk(self.fes[0].port, self.fes[0].host, a,
                                                  "FE1, nothing parked", log)
            self.park()
            self.im()
            self.results["wrk_parked"] = bu.run_wrk(self.fes[0].port, self.fes[0].host, a,
                                                    f"FE1, {self.n} parked in the pool", log)
            if self.k:
                self.fanout()
            for fe in self.fes:
                self.check_log(fe)
                self.pool_status(fe)
            watched = [user(i) for i in self.fes[1].idxs[:FAILOVER_WATCHED]]
            self.failover(self.fes[0], self.fes[1], watched,
                          f"the pool above ({len(self.fes[1].idxs)} users on FE2), "
                          f"UcwaPoolLease default")
            self.fes[0].shards.close()
            self.fes[0].shards = None
            self.fes[0].apache.stop()
            for lease in [int(x) for x in a.failover_leases.split(",") if x]:
                self.small_failover(lease)
            self.report()
            return 0
        finally:
            self.stop_pool()

    def make_tmp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"mobility-{self.agent.replace('_', '-')}-"))
        self.tmp.chmod(0o755)

    def start_pool(self):
        """In the temporary directory (make_tmp): the directory of n_users generated
        users, loaded into a private PostgreSQL, the static file, and FE1 and FE2."""
        a = self.a
        topo = mobility.Topology(offset=mobility.free_offset())
        self.state = mobility.make_state(self.tmp / "state", topo)
        mobility.add_generated_users(self.state, self.n_users)
        # every child of both Front Ends may hold DBD_MAX connections and each Front End's
        # pool thread one (two during a restart): PostgreSQL's default max_connections
        # (100) runs out under load past 4 children a Front End (503, UCWA00429)
        self.pg_max_conns = max(100, 2 * (self.servers * DBD_MAX + 2) + 10)
        self.pg = pool_lib.Postgres(self.tmp / "pgsql", settings={
            "synchronous_commit": a.synchronous_commit,
            "max_connections": self.pg_max_conns}).start()
        t0 = time.time()
        self.pg.load_directory(self.state)
        self.log(f"PostgreSQL up, directory with {self.n_users} generated users loaded in "
                 f"{time.time() - t0:.1f}s")
        self.dirconf = self.pg.directory_conf(self.tmp / "directory-pool.conf")
        self.static = self.tmp / "static"
        self.static.mkdir()
        self.static.chmod(0o755)
        (self.static / "small.txt").write_bytes(b"x" * 256)
        (self.static / "small.txt").chmod(0o644)
        self.pg_version = self.pg.bin.split('/')[-2]
        self.fes = [self.start_fe("fe1"), self.start_fe("fe2")]

    def stop_pool(self):
        """Stops what start_pool started (and the shards), removes self.tmp (--keep: not)."""
        for fe in self.fes:
            if fe.shards:
                fe.shards.close()
                fe.shards = None
            if fe.apache.proc:
                fe.apache.stop()
        if self.pg:
            self.pg.stop()
            self.pg = None
        if self.tmp:
            if self.a.keep:
                print(f"{self.agent}: kept {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # output ---------------------------------------------------------------------------
    def report(self):
        a = self.a
        r = self.results
        print()
        print("Machine")
        print(f"  nproc            {len(os.sched_getaffinity(0))}")
        print(f"  pool             2 Front Ends (fe1, fe2), event MPM, each {self.servers} "
              f"children x {a.threads_per_child} threads, UcwaMaxParkedPerChild default "
              f"({a.threads_per_child * 3 // 4}), UcwaMaxApplications {self.store_apps}; "
              f"PostgreSQL {self.pg_version} on a Unix socket, same machine, "
              f"synchronous_commit {a.synchronous_commit}, max_connections "
              f"{self.pg_max_conns}")
        print(f"  source           {bu.sh('git', '-C', str(HERE.parent), 'describe', '--always', '--dirty')}")
        print()
        p = r["parked"]
        print(f"Parked event channels: {self.n} in all, each its own user and application "
              f"(parked in {p['secs']:.1f}s)")
        head = (f"{'Front End':<10} {'N':>6} {'PSS before MiB':>14} {'PSS MiB':>9} "
                f"{'KiB each':>9} {'RSS-sum KiB each':>16} {'CPU %':>6} {'conns per child':<20}")
        print(head)
        print("-" * len(head))
        for row in p["rows"]:
            d = row["dist"]
            print(f"{row['fe']:<10} {row['n']:>6} {row['before']['Pss'] / 1024:>14.1f} "
                  f"{row['after']['Pss'] / 1024:>9.1f} {row['kib_each']:>9.1f} "
                  f"{row['rss_each']:>16.1f} {row['cpu']:>6.1f} "
                  f"{(f'{d[0]}..{d[-1]} over {len(d)}' if d else '?'):<20}")
        print(f"  PSS growth of each Front End (parent and children, smaps_rollup) over its "
              f"state before parking / its N; CPU: % of one CPU over {a.hold}s while they wait")
        print()
        print(f"Instant messaging with the {self.n} channels parked: POST .../messaging/messages"
              f" -> the recipient's event response (SO_TIMESTAMPNS)")
        head = (f"{'pairs':<34} {'samples':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
                f"{'POST p50':>8} {'msg/s':>7} {'delivered':>13} {'thr p99':>8} "
                f"{'CPU fe1/fe2':>12}")
        print(head)
        print("-" * len(head))
        for res in r["im"]:
            l, t = res["lat"], res["thr"]
            label = (f"{self.pairs} on one FE (half each)" if res["kind"] == "same"
                     else f"{self.pairs} across FEs (half each way)")
            print(f"{label:<34} {len(l['lat']):>7} {pct(l['lat'], 50):>8.2f} "
                  f"{pct(l['lat'], 99):>8.2f} {l['lat'][-1]:>8.2f} {pct(l['post'], 50):>8.2f} "
                  f"{t['sent'] / t['secs']:>7.0f} {str(t['delivered']) + '/' + str(t['sent_total']):>13} "
                  f"{pct(t['lat'], 99):>8.2f} "
                  f"{'/'.join(f'{c:.0f}' for c in t['cpu']):>12}")
        across = [x for x in r["im"] if x["kind"] == "across"][0]["lat"]["lat"]
        print(f"  across Front Ends: p99 {pct(across, 99):.2f} ms, target < 10 ms: "
              f"{'met' if pct(across, 99) < 10 else 'MISSED'}. Sequential: one message "
              f"outstanding, pairs in turn; throughput: every pair posts at once for "
              f"{a.im_duration}s, at most {a.im_window} undelivered per pair, every message "
              f"counted at its recipient")
        print()
        if r.get("fanout"):
            print(f"Presence fan-out across Front Ends: {self.subject} on FE1 POSTs me/presence;"
                  f" {self.k} applications on FE2 watch him (presenceSubscriptions)")
            head = (f"{'round':<16} {'watchers':>8} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} "
                    f"{'POST ms':>8}")
            print(head)
            print("-" * len(head))
            w = MEDIUM * 1000
            for k, rd in enumerate(r["fanout"]):
                l = rd["lat"]
                print(f"{str(k + 1) + ' ' + rd['avail']:<16} {len(l):>8} {pct(l, 50) - w:>8.1f} "
                      f"{pct(l, 90) - w:>8.1f} {l[-1] - w:>8.1f} {rd['post_ms']:>8.1f}")
            print(f"  POST time -> each watcher's event response carrying contactPresence, less "
                  f"the {MEDIUM} s medium window (contactPresence is MEDIUM priority; the "
                  f"watchers ask medium={MEDIUM}, UCWA's minimum); max = the last watcher")
            print()
        print("Failover: SIGKILL of a Front End (parent and children) -> its users read Offline "
              "on the other (GET people/{sip}/presence every 50 ms)")
        head = f"{'case':<64} {'users':>5} {'first s':>8} {'last s':>8}"
        print(head)
        print("-" * len(head))
        for f in r["failover"]:
            print(f"{f['label']:<64} {f['n']:>5} {f['first']:>8.2f} {f['last']:>8.2f}")
        print()
        wi, wp = r["wrk_idle"], r["wrk_parked"]
        print(f"Static file on FE1 (wrk -t{a.wrk_threads} -c{a.wrk_connections} -d{a.duration}s,"
              f" 256 B): {wi['rps']:.0f} req/s p99 {wi['p99_us'] / 1000:.2f} ms with nothing "
              f"parked; {wp['rps']:.0f} req/s p99 {wp['p99_us'] / 1000:.2f} ms with {self.n} "
              f"parked in the pool")
        if self.single:
            s = self.single
            print()
            print("Beside one Front End (bench_ucwa.py, same run, its own Front End; "
                  "pool: fe1/fe2, or same FE/across)")
            head = f"{'figure':<58} {'one Front End':>14} {'pool':>22}"
            print(head)
            print("-" * len(head))

            def row(label, one, pool=""):
                print(f"{label:<58} {one:>14} {pool:>22}")
            pool_kib = "/".join(f"{x['kib_each']:.1f}" for x in p["rows"])
            for sp in s["parked"]:
                row(f"KiB per parked channel, {sp['n']} parked"
                    + (" (after its wake rounds)" if sp["steady"] else ""),
                    f"{sp['kib_each']:.1f}",
                    "" if sp["steady"] else f"{pool_kib} ({self.n} parked)")
            fan = sorted(x - MEDIUM * 1000 for rd in r.get("fanout", []) for x in rd["lat"])
            w = s["wake"]
            # one Front End: a note wakes N/2 channels; the pool: the presence fan-out
            row("wake after the 5 s window p50/p99 ms (note; pool: fan-out)", f"{w['p50_ms']:.1f}/{w['p99_ms']:.1f}" if w else "-",
                f"{pct(fan, 50):.1f}/{pct(fan, 99):.1f} ({self.k} watchers)" if fan else "")
            same, across = ([x for x in r["im"] if x["kind"] == k][0] for k in ("same", "across"))
            for im in s["im"]:
                row(f"IM p50/p99 ms, {im['n']} parked on one FE; pool {self.n} in all",
                    f"{im['p50_ms']:.2f}/{im['p99_ms']:.2f}",
                    " | ".join(f"{pct(x['lat']['lat'], 50):.2f}/{pct(x['lat']['lat'], 99):.2f}"
                               for x in (same, across)))
                row(f"IM msg/s, {im['n']} parked on one FE; pool {self.n} in all",
                    f"{im['msg_s']:.0f}",
                    " | ".join(f"{x['thr']['sent'] / x['thr']['secs']:.0f}"
                               for x in (same, across)))
            row("static file req/s, nothing / N parked (pool: on FE1)",
                f"{s['static_rps']['idle']:.0f}/{s['static_rps']['parked']:.0f}",
                f"{wi['rps']:.0f}/{wp['rps']:.0f}")
        print()
        for name, st in r.get("status", []):
            print(f"/ucwa-status pool of {name}: {json.dumps(st)}")
        if getattr(self, "warnings", None):
            print(f"note: {len(self.warnings)} warning(s) in the Front End logs, e.g.\n  "
                  + "\n  ".join(self.warnings[:5]))


def add_database_args(ap):
    """The pool database's options (bench_pool, bench_calls --pool)."""
    ap.add_argument("--synchronous-commit", choices=("on", "off"), default="on",
                    help="PostgreSQL's synchronous_commit (on, its default: each commit "
                         "waits for the disk's flush)")


def cannot_run():
    """Why a pool cannot be started here, or None."""
    if os.geteuid() != 0:
        return "run as root (PostgreSQL runs as the postgres user)"
    if not pool_lib.INITDB:
        return "PostgreSQL is missing (apt-get install -y postgresql)"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="N=1000, 100 watchers, short phases; bench_ucwa --quick")
    ap.add_argument("--n", type=int, default=None,
                    help="parked channels in all, half on each Front End (6660; --quick 1000)")
    ap.add_argument("--watchers", type=int, default=None,
                    help="FE2 applications watching one FE1 user (1000; --quick 100)")
    ap.add_argument("--fanout-rounds", type=int, default=None, help="(4; --quick 2)")
    ap.add_argument("--threads-per-child", type=int, default=1000)
    ap.add_argument("--im-pairs", type=int, default=8,
                    help="conversations on one Front End, and as many across (8)")
    ap.add_argument("--im-samples", type=int, default=None,
                    help="sequential messages of each kind (500; --quick 200)")
    ap.add_argument("--im-gap", type=float, default=0.002)
    ap.add_argument("--im-duration", type=float, default=None,
                    help="seconds of each throughput phase (10; --quick 3)")
    ap.add_argument("--im-window", type=int, default=16)
    ap.add_argument("--failover-leases", default="4",
                    help="UcwaPoolLease values for the small-pool failover (4); the loaded "
                         "pool runs at the default")
    ap.add_argument("--failover-timeout", type=float, default=60)
    add_database_args(ap)
    ap.add_argument("--hold", type=float, default=None, help="CPU sample seconds (10; --quick 3)")
    ap.add_argument("--duration", type=int, default=None, help="seconds of wrk (10; --quick 3)")
    bu.add_client_args(ap)
    ap.add_argument("--no-single", action="store_true", help="skip bench_ucwa.py")
    ap.add_argument("--ucwa-args", default=None,
                    help="bench_ucwa.py's arguments (default: --quick with --quick, else none)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    q = a.quick
    a.n = a.n if a.n is not None else (1000 if q else bu.SKYPE_USERS_PER_FE)
    a.watchers = a.watchers if a.watchers is not None else (100 if q else 1000)
    a.fanout_rounds = a.fanout_rounds if a.fanout_rounds is not None else (2 if q else 4)
    a.im_samples = a.im_samples if a.im_samples is not None else (200 if q else 500)
    a.im_duration = a.im_duration if a.im_duration is not None else (3 if q else 10)
    a.hold = a.hold if a.hold is not None else (3 if q else 10)
    a.duration = a.duration if a.duration is not None else (3 if q else 10)
    why = cannot_run()
    if why:
        sys.exit(f"bench_pool: {why}")
    if not shutil.which("wrk"):
        sys.exit("bench_pool: wrk is missing (apt-get install -y wrk)")
    if a.n < 2:
        sys.exit("bench_pool: --n must be 2 at least")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return Pool(a).go()
    except BenchError as e:
        print(f"bench_pool: FAILED: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
