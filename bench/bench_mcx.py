#!/usr/bin/python3
"""MCX sessions on one Front End: memory per signed-in session with its notification
channel parked, at 1,000 and 6,660 sessions, against baselines measured in the same run
on the same private Front End (event MPM, the server bench_ucwa.py starts).

An MCX session (docs/mcx-protocol.md) is a UCWA application in mod_ucwa's shared-memory
store; its notification channel, GetNotifications, is a long poll that holds a worker
thread like a pending UCWA event GET (the MCX request and the UCWA subrequest it makes run
on that thread). Skype for Business documents about 0.52 MB per always-connected mobility
session; the target here is a tenth of that, 52 kB (52,000 bytes), per session.

Over plain HTTP on the internal site (credentials are accepted there), with WebTickets
from /WebTicket/oauthtoken (Authorization: Bearer):

  setup      N MCX sessions: SignIn (AlwaysConnected, distinct DeviceId, alice and bob in
             turn; UcwaMaxApplicationsPerUser 0), then each session's first notifications
             batch drained (GetNotifications Sequence=<SignIn's Sequence>): its Next is where
             the channel parks. For the UCWA baseline, N UCWA applications of two other users
             (ucwa1, ucwa2: their events never reach the MCX sessions) made available and
             drained, as bench_ucwa does
  idle       N keep-alive connections that fetched a small static file and stay open (what
             a plain connection costs the event MPM: no worker thread held)
  ucwa       N parked UCWA event GETs (bench_ucwa's channel), then released by a note
  mcx        N parked GetNotifications (Sequence=<Next>, Timeout=3600), one connection
             each, from client processes: server PSS (parent + children, smaps_rollup)
             before and while parked, per session = growth / N; the store must count N
             parked (/ucwa-status); the server's CPU while they wait
  wake       with N parked, alice's (then bob's) control MCX session sends PublishPresence
             (Availability): every session of that user gets a MyPresence notification.
             Presence is a MEDIUM-priority UCWA event, held for the medium window of the
             request (5 s, UCWA's minimum and default; MCX sends none): the latency is
             (response time - PublishPresence time - 5 s). One PublishPresence wakes N/2
             sessions at once: a fan-out under contention, not one device's latency
  release    both users publish at once: every parked GetNotifications must answer 200
             with a GetNotificationsResponse holding MyPresence with the published
             availability (counted)
  static     wrk on the same server and port, a small file: nothing parked, N MCX parked

Each ramp (idle, ucwa, mcx) starts right after a restart (SIGHUP: same parent and
session store, new children whose threads never ran). Every server, sizing and client
piece is bench_ucwa's (imported); the MCX client is a subclass of its shard.

--quick runs N=1000 only, with short holds. The figures never fail the run; a wrong
answer, a client error or an error in the server's log does (exit 1).

  /usr/bin/python3 bench/bench_mcx.py [--quick] [--n 1000,6660] [--no-ucwa-baseline] ...
"""
import argparse
import asyncio
import collections
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_ucwa as bu  # noqa: E402  (puts test/lib on sys.path)
import mobility  # noqa: E402
import ucwa_client as uc  # noqa: E402

MCX_USERS = ("alice@contoso.test", "bob@contoso.test")
UCWA_USERS = ("ucwa1@contoso.test", "ucwa2@contoso.test")   # the UCWA baseline's own users
SERVICE = "/Mcx/McxService.svc"
NS = "urn:mobility-httpd:mcx:1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XML_TYPE = "text/xml; charset=utf-8"
MEDIUM = bu.MEDIUM
PARK_TIMEOUT = bu.PARK_TIMEOUT
DRAIN_TIMEOUT = 10          # the range's minimum: a batch with nothing queued waits this
UCWA_BASE_IDX = 1_000_000   # channel indexes of the UCWA baseline (MCX: 0..N-1)
SKYPE_KB = 520_000          # bytes per always-connected session, Skype for Business
TARGET = SKYPE_KB // 10     # 52,000 bytes
WAKE_AVAIL = ("Busy", "DoNotDisturb", "BeRightBack", "Busy")


def log(msg):
    print(f"bench_mcx: {msg}", flush=True)


bu.log = log    # bench_ucwa's phases we reuse log under our name


class BenchError(bu.BenchError):
    pass


# --- the session store's real size ----------------------------------------------------

def shm_objects(parent):
    """The server's shared memory objects (MAP_SHARED mappings of the parent: the session
    store, the scoreboard, caches): {inode: (name, size, allocated bytes)}. The allocated
    bytes come from the object itself (st_blocks of /proc/PID/map_files/...), so they count
    every page the object holds, whether a live process maps it or not: PSS misses pages
    that children which have since exited (a restart) touched, as the store's event rings
    that sign-ins filled."""
    out = {}
    try:
        with open(f"/proc/{parent}/maps") as f:
            lines = f.readlines()
    except OSError:
        return out
    for line in lines:
        p = line.split(None, 5)
        if len(p) < 2 or len(p[1]) < 4 or p[1][3] != "s":
            continue
        try:
            st = os.stat(f"/proc/{parent}/map_files/{p[0]}")
        except OSError:
            continue
        out[st.st_ino] = ((p[5].strip() if len(p) > 5 else "?"), st.st_size, st.st_blocks * 512)
    return out


def store_alloc(parent):
    """(allocated KiB of the largest shared object, the session store; of all of them)."""
    objs = shm_objects(parent)
    if not objs:
        return None, None
    big = max(objs.values(), key=lambda o: o[1])
    return big[2] / 1024, sum(o[2] for o in objs.values()) / 1024


# --- MCX on the wire ------------------------------------------------------------------

def envelope(op, fields):
    parts = "".join(f"<m:{k}>{escape(str(v))}</m:{k}>" for k, v in fields if v is not None)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<s:Envelope xmlns:s="{SOAP}" '
            f'xmlns:m="{NS}"><s:Body><m:{op}>{parts}</m:{op}></s:Body></s:Envelope>')


def mcx_raw(host, token, op, fields):
    return uc.request_bytes("POST", SERVICE, host, token=token,
                            body=envelope(op, fields).encode(), ctype=XML_TYPE,
                            accept="text/xml")


def local(tag):
    return tag.rsplit("}", 1)[-1]


def mcx_answer(status, body, op):
    """The <op>Response element of an answer; HttpError for a fault or anything else."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise uc.HttpError(f"{op}: HTTP {status}, not XML ({e}): {body[:200]!r}")
    b = root.find(f"{{{SOAP}}}Body")
    fault = b.find(f"{{{SOAP}}}Fault") if b is not None else None
    if fault is not None:
        code = fault.findtext(f"detail/{{{NS}}}McxError/{{{NS}}}Code")
        raise uc.HttpError(f"{op}: HTTP {status}, fault {code}: {fault.findtext('faultstring')}")
    el = b.find(f"{{{NS}}}{op}Response") if b is not None else None
    if status != 200 or el is None:
        raise uc.HttpError(f"{op}: HTTP {status}, no {op}Response: {body[:200]!r}")
    return el


def parse_batch(status, body):
    """(Sequence, Next, notifications as dicts, Resume, Resync) of a GetNotificationsResponse."""
    el = mcx_answer(status, body, "GetNotifications")
    notes = [dict(n.attrib, kind=local(n.tag)) for n in el]
    return (int(el.get("Sequence")), int(el.get("Next")), notes, el.get("Resume") == "true",
            el.get("Resync") == "true")


# --- the client shard: bench_ucwa's, with MCX channels beside its UCWA ones ------------

class McxShard(uc.Shard):
    """A channel is "mcx" (base = its SessionId, ack = its Sequence) or "ucwa" (the parent
    class's event channel). An MCX channel's watch is (round, "MyPresence:<Availability>",
    repark)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.kind = {}
        self.resumes = 0
        self.empty = 0
        self.note_kinds = collections.Counter()

    async def cmd_add(self, rows):
        for kind, idx, user, base, token, ack in rows:
            self.channels[idx] = uc.Channel(idx, user, base, token, ack)
            self.kind[idx] = kind
        return len(self.channels)

    async def cmd_stats(self):
        st = await super().cmd_stats()
        st.update(resumes=self.resumes, empty=self.empty, note_kinds=dict(self.note_kinds))
        return st

    async def _issue(self, ch, fresh=False):
        if self.kind.get(ch.idx) != "mcx":
            return await super()._issue(ch, fresh)
        if ch.conn is None or ch.conn.closed or fresh:
            if ch.conn is not None:
                ch.conn.close()
            ch.conn = uc.Conn(self.loop, self.addr, self.port, self.src)
        raw = mcx_raw(self.host, ch.token, "GetNotifications",
                      [("SessionId", ch.base), ("Sequence", ch.ack),
                       ("Timeout", ch.timeout or self.timeout)])
        for attempt in range(5):
            try:
                fut = await ch.conn.request(raw)
                break
            except (uc.HttpError, OSError) as e:
                ch.conn.close()
                ch.reconnects += 1
                if attempt == 4:
                    self.errors.append((ch.idx, f"cannot send GetNotifications: {e}"))
                    ch.pending = False
                    return
                await asyncio.sleep(0.2 * (attempt + 1))
        ch.pending = True
        ch.since = time.time()
        fut.add_done_callback(lambda f, ch=ch: self._answered(ch, f))

    def _answered(self, ch, fut):
        if self.kind.get(ch.idx) != "mcx":
            return super()._answered(ch, fut)
        ch.pending = False
        exc = fut.exception()
        if exc is not None:
            ch.reconnects += 1
            if ch.mode == "park":
                self.loop.create_task(self._issue(ch, fresh=True))
            return
        r = fut.result()
        if r.status == 503 and ch.mode == "park" and not ch.watch and b"ServiceBusy" in r.body:
            # the child is at UcwaMaxParkedPerChild: ServiceBusy, and the connection
            # closes; again on a new one (another child may take it), as bench_ucwa does
            ch.bounces += 1
            self.loop.call_later(0.05 + random.random() * 0.2,
                                 lambda: self.loop.create_task(self._issue(ch, fresh=True)))
            return
        try:
            seq, nxt, notes, resume, resync = parse_batch(r.status, r.body)
            if resync:
                raise uc.HttpError(f"Resync: {r.body[:200]!r}")
            if seq != ch.ack:
                raise uc.HttpError(f"the answer is batch {seq}, not {ch.ack}")
        except (uc.HttpError, ValueError, TypeError) as e:
            self.errors.append((ch.idx, f"session {ch.base}: {e}"))
            if ch.watch:
                self.samples[ch.watch[0]].append((ch.idx, r.t_first, r.t_done, r.status, False,
                                                  str(e)[:200]))
                ch.watch = None
            ch.mode = "idle"
            return
        self.resumes += resume
        for n in notes:
            self.note_kinds[n["kind"]] += 1
        ch.ack = nxt
        if ch.watch:
            rnd, want, repark = ch.watch
            ch.watch = None
            kind, _, avail = want.partition(":")
            hit = any(n["kind"] == kind and (not avail or n.get("Availability") == avail)
                      for n in notes)
            self.samples[rnd].append((ch.idx, r.t_first, r.t_done, 200, hit,
                                      "" if hit else f"no {want}: {notes[:3]}"))
            if not repark:
                ch.mode = "idle"
                return
        elif r.t_done - ch.since >= (ch.timeout or self.timeout) - 1:
            ch.timeouts += 1
        else:
            ch.drains += 1          # something was queued: on to the next batch
            self.empty += not notes
        if ch.mode == "park":
            self.loop.create_task(self._issue(ch))


def shard_main(pipe, addr, port, host, src, timeout, medium):
    os.environ.pop("PYTHONASYNCIODEBUG", None)
    McxShard(pipe, addr, port, host, src, timeout, medium).run()


class McxShards(bu.Shards):
    def __init__(self, n, port, host, timeout):
        ctx = multiprocessing.get_context("fork")
        self.pipes, self.procs = [], []
        for k in range(n):
            a, b = ctx.Pipe()
            p = ctx.Process(target=shard_main,
                            args=(b, "127.0.0.1", port, host, f"127.0.1.{k + 1}", timeout,
                                  MEDIUM), daemon=True)
            p.start()
            b.close()
            self.pipes.append(a)
            self.procs.append(p)

    def stats(self):
        st = self.all("stats")
        tot = {k: sum(s[k] for s in st) for k in
               ("pending", "bounces", "bounced_channels", "drains", "reconnects", "n_errors",
                "idle_open", "timeouts", "gave_up", "resumes", "empty")}
        tot["max_bounces"] = max(s["max_bounces"] for s in st)
        tot["errors"] = [e for s in st for e in s["errors"]][:10]
        kinds = collections.Counter()
        for s in st:
            kinds.update(s["note_kinds"])
        tot["note_kinds"] = dict(kinds)
        return tot


# --- the run --------------------------------------------------------------------------

class Run(bu.Run):
    def plan(self):
        super().plan()
        n = self.n_main
        self.ucwa_n = 0 if self.args.no_ucwa_baseline else n
        # MCX sessions and their two controls, the UCWA baseline and its two controls
        self.store_apps = n + 2 + (self.ucwa_n + 2 if self.ucwa_n else 0) + 64
        self.n_shards = max(self.n_shards, min(2, len(os.sched_getaffinity(0))))

    def config_extra(self, static):
        return (super().config_extra(static) + "\n<IfModule mcx_module>\n"
                "    McxSessionLifetime 86400 259200\n</IfModule>")

    def snapshot(self, label, n=None):
        m = super().snapshot(label, n)
        m["store"], m["shm_all"] = store_alloc(self.fe.proc.pid)
        m["private"] = m["Pss"] - m["Pss_Shmem"]
        return m

    # setup ---------------------------------------------------------------------------
    def run_all(self, raws, concurrency=None):
        return asyncio.run(uc.run_all("127.0.0.1", self.port, raws,
                                      concurrency or self.args.setup_concurrency))

    def sign_in_all(self):
        n = self.n_main
        host = self.host
        self.users = [MCX_USERS[i % 2] for i in range(n)]
        # the control sessions first: their sign-in's presence events are drained below
        self.ctl_sessions = {}
        for u in MCX_USERS:
            self.ctl_sessions[u] = self.sign_in_one(u, f"bench-mcx-control-{u[:u.index('@')]}")
        raws = [mcx_raw(host, self.tokens[self.users[i]], "SignIn",
                        [("SessionKind", "AlwaysConnected"), ("DeviceId", f"bench-mcx-{i:06d}"),
                         ("UserAgent", "bench_mcx/1.0"), ("Culture", "en-US")])
                for i in range(n)]
        t0 = time.time()
        resps = self.run_all(raws)
        dt = time.time() - t0
        self.sessions, self.seqs = [], []
        for i, r in enumerate(resps):
            try:
                el = mcx_answer(r.status, r.body, "SignIn")
            except uc.HttpError as e:
                raise BenchError(f"SignIn {i} ({self.users[i]}): {e}")
            f = {local(c.tag): (c.text or "") for c in el}
            if (f.get("SessionKind") != "AlwaysConnected" or f.get("Lifetime") != "86400"
                    or f.get("Uri") != "sip:" + self.users[i] or not f.get("Sequence", "").isdigit()):
                raise BenchError(f"SignIn {i}: unexpected answer {f}")
            self.sessions.append(f["SessionId"])
            self.seqs.append(int(f["Sequence"]))
        if len(set(self.sessions)) != n:
            raise BenchError("two SignIns with distinct DeviceIds got the same session")
        self.setup_rows.append((f"SignIn x {n} (alice and bob in turn, AlwaysConnected, "
                                f"Lifetime 86400; each makes the session available)",
                                f"{n / dt:.0f}/s"))
        log(f"signed in {n} MCX sessions in {dt:.1f}s")

    def sign_in_one(self, user, device):
        st, body = self.ctl.request("POST", SERVICE, envelope(
            "SignIn", [("SessionKind", "AlwaysConnected"), ("DeviceId", device)]),
            token=self.tokens[user], ctype=XML_TYPE)
        try:
            el = mcx_answer(st, body, "SignIn")
        except uc.HttpError as e:
            raise BenchError(f"control SignIn for {user}: {e}")
        return el.findtext(f"{{{NS}}}SessionId")

    def drain_mcx(self):
        """Each session's first batch (SignIn's Sequence): its Next is where it parks."""
        host = self.host
        raws = [mcx_raw(host, self.tokens[self.users[i]], "GetNotifications",
                        [("SessionId", self.sessions[i]), ("Sequence", self.seqs[i]),
                         ("Timeout", DRAIN_TIMEOUT)]) for i in range(self.n_main)]
        t0 = time.time()
        resps = self.run_all(raws, max(64, self.args.setup_concurrency))
        dt = time.time() - t0
        self.acks = []
        resumes = empty = 0
        kinds = collections.Counter()
        for i, r in enumerate(resps):
            try:
                seq, nxt, notes, resume, resync = parse_batch(r.status, r.body)
            except uc.HttpError as e:
                raise BenchError(f"first batch of session {self.sessions[i]}: {e}")
            if resync or seq != self.seqs[i]:
                raise BenchError(f"first batch of session {self.sessions[i]}: Sequence {seq}"
                                 f" (asked {self.seqs[i]}), Resync {resync}")
            resumes += resume
            empty += not notes
            kinds.update(n["kind"] for n in notes)
            self.acks.append(nxt)
        self.drain_info = (resumes, empty, dict(kinds))
        self.setup_rows.append((f"first GetNotifications x {self.n_main} (drained; Resume "
                                f"{resumes}, empty {empty}, notifications {dict(kinds)})",
                                f"{self.n_main / dt:.0f}/s"))
        log(f"drained the first batch of {self.n_main} sessions in {dt:.1f}s ({resumes} "
            f"said Resume, {empty} were empty; notifications {dict(kinds)})")

    def setup_ucwa(self):
        """The baseline: bench_ucwa's channels (one application each, available, drained),
        for users of their own."""
        n = self.ucwa_n
        host = self.host
        users = [UCWA_USERS[i % 2] for i in range(n + 2)]
        raws = [uc.request_bytes("POST", bu.APP_PREFIX, host, token=self.tokens[users[i]],
                                 body=json.dumps({"userAgent": "bench_mcx-ucwa/1.0",
                                                  "endpointId": f"bench-ucwa-{i:06d}",
                                                  "culture": "en-US"}))
                for i in range(n + 2)]
        t0 = time.time()
        resps = self.run_all(raws)
        bases = []
        for i, r in enumerate(resps):
            if r.status != 201:
                raise BenchError(f"UCWA application {i}: {r.status} {r.body[:300]!r}")
            bases.append(r.json()["_links"]["self"]["href"])
        body = json.dumps({"signInAs": "Online", "supportedModalities": ["Audio"],
                           "supportedMessageFormats": ["Plain"]})
        resps = self.run_all([uc.request_bytes("POST", b + "/me/makeMeAvailable", host,
                                               token=self.tokens[u], body=body)
                              for b, u in zip(bases, users)])
        for b, r in zip(bases, resps):
            if r.status != 204:
                raise BenchError(f"makeMeAvailable {b}: {r.status} {r.body[:300]!r}")
        dt = time.time() - t0
        self.ucwa_bases, self.ucwa_users = bases[:n], users[:n]
        self.ucwa_control = {users[i]: bases[i] for i in (n, n + 1)}
        self.setup_rows.append((f"UCWA baseline: {n + 2} applications of ucwa1/ucwa2, made "
                                f"available", f"{(n + 2) / dt:.0f}/s"))
        log(f"UCWA baseline: {n + 2} applications made available in {dt:.1f}s")

    def drain_ucwa(self):
        raws = [uc.request_bytes("GET", f"{b}/events?ack=1&timeout={DRAIN_TIMEOUT}"
                                 f"&medium={MEDIUM}", self.host, token=self.tokens[u])
                for b, u in zip(self.ucwa_bases, self.ucwa_users)]
        resps = self.run_all(raws, max(64, self.args.setup_concurrency))
        self.ucwa_acks = []
        for b, r in zip(self.ucwa_bases, resps):
            if r.status != 200:
                raise BenchError(f"first events of {b}: {r.status} {r.body[:300]!r}")
            self.ucwa_acks.append(uc.next_ack(r.json(), b))

    def start_shards(self):
        self.shards = McxShards(self.n_shards, self.port, self.host, PARK_TIMEOUT)
        rows = [[] for _ in range(len(self.shards))]
        for i in range(self.n_main):
            rows[self.shards.shard_of(i)].append(
                ("mcx", i, self.users[i], self.sessions[i], self.tokens[self.users[i]],
                 self.acks[i]))
        self.ucwa_idx = [UCWA_BASE_IDX + j for j in range(self.ucwa_n)]
        for j, idx in enumerate(self.ucwa_idx):
            u = self.ucwa_users[j]
            rows[self.shards.shard_of(idx)].append(
                ("ucwa", idx, u, self.ucwa_bases[j], self.tokens[u], self.ucwa_acks[j]))
        self.shards.all("add", [(r,) for r in rows])
        self.main = list(range(self.n_main))

    # phases ----------------------------------------------------------------------------
    def ramp(self, idxs, ref, what):
        """Parks idxs in steps of self.counts; a memory snapshot and a CPU sample at each."""
        out = []
        done = 0
        base = self.shards.stats()     # the client's counters are cumulative
        for n in self.counts:
            dt, st, cs = self.park(idxs[done:n], n, self.args.park_timeout)
            done = n
            m = self.snapshot(f"{n} parked {what}", n)
            m.update(ref=ref, park_s=dt, bounces=cs["bounces"] - base["bounces"],
                     store_parked=st["parked"], drains=cs["drains"] - base["drains"],
                     dist=bu.conns_per_child(self.fe.proc.pid, self.port))
            m["cpu"] = bu.cpu_percent(self.fe.proc.pid, self.args.hold)
            out.append(m)
            log(f"{n} {what} parked in {dt:.1f}s (bounces {m['bounces']}, store: "
                f"{st['parked']} parked): PSS {m['Pss'] / 1024:.0f} MiB, "
                f"{(m['Pss'] - ref['Pss']) / n:.1f} KiB each; server CPU {m['cpu']:.1f}% "
                f"over {self.args.hold}s")
        return out

    def wake(self, rnd, kind, users, repark, label, avail=None):
        if kind == "mcx":
            idxs = [i for i in self.main if self.users[i] in users]
            want = f"MyPresence:{avail}"
        else:
            idxs = [i for j, i in enumerate(self.ucwa_idx) if self.ucwa_users[j] in users]
            want = "note"
        self.shards.all("arm", [(rnd, part, want, repark) for part in self.shards.split(idxs)])
        posts = []
        for u in users:
            t0 = time.time()
            if kind == "mcx":
                st, body = self.ctl.request("POST", SERVICE, envelope(
                    "PublishPresence", [("SessionId", self.ctl_sessions[u]),
                                        ("Availability", avail)]),
                    token=self.tokens[u], ctype=XML_TYPE)
                ok = st == 200 and b"PublishPresenceResponse" in body
            else:
                st, body = self.ctl.request("POST", self.ucwa_control[u] + "/me/note",
                                            json.dumps({"message": f"bench round {rnd}"}),
                                            token=self.tokens[u])
                ok = st == 204
            t1 = time.time()
            if not ok:
                raise BenchError(f"round {rnd}: the wake request for {u}: {st} {body[:300]!r}")
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
        t_post = dict((u, t0) for u, t0, _ in posts)
        user_of = (lambda i: self.users[i]) if kind == "mcx" else \
            (lambda i: self.ucwa_users[i - UCWA_BASE_IDX])
        lat = sorted((s[1] - t_post[user_of(s[0])] - MEDIUM) * 1000 for s in samples)
        return {"label": label, "n": len(samples), "lat": lat,
                "post_ms": max(t1 - t0 for _, t0, t1 in posts) * 1000}

    def ucwa_phase(self):
        self.fresh_children()
        ref = self.snapshot("before parking UCWA channels (new children)")
        parked = self.ramp(self.ucwa_idx, ref, "UCWA event channels")
        rel = self.wake(900, "ucwa", list(UCWA_USERS), False,
                        f"UCWA baseline released: {self.ucwa_n} note events")
        log(f"UCWA baseline released: {rel['n']}/{self.ucwa_n} answered their note event")
        time.sleep(1.0)
        st = self.ctl.status()
        if st["parked"]:
            raise BenchError(f"after the UCWA release the store still counts {st['parked']} "
                             f"parked")
        # the baseline's applications end (DELETE): their records and ring pages are given
        # back, so the store's pages while MCX is parked are the MCX sessions' own
        resps = self.run_all([uc.request_bytes("DELETE", b, self.host, token=self.tokens[u])
                              for b, u in zip(self.ucwa_bases, self.ucwa_users)])
        for b, r in zip(self.ucwa_bases, resps):
            if r.status != 204:
                raise BenchError(f"DELETE {b}: {r.status} {r.body[:300]!r}")
        log(f"UCWA baseline: {len(resps)} applications deleted")
        return ref, parked, rel

    # the whole run -----------------------------------------------------------------
    def go(self):
        a = self.args
        self.plan()
        self.setup_rows = []
        tmp = Path(tempfile.mkdtemp(prefix="mobility-bench-mcx-"))
        tmp.chmod(0o755)
        self.tmp = tmp
        self.fe = None
        self.shards = None
        try:
            self.snapshot_modules(tmp / "modules")
            topo = mobility.Topology(offset=mobility.free_offset(), mcx="on")
            for u in UCWA_USERS:
                topo.users[u] = (topo.pool, f"UCWA baseline {u[4]}")
            state = mobility.make_state(tmp / "state", topo)
            static = tmp / "static"
            static.mkdir()
            static.chmod(0o755)
            (static / "small.txt").write_bytes(b"x" * 256)
            (static / "small.txt").chmod(0o644)
            self.fe = mobility.front_end(tmp / "fe", state, topo, extra=self.config_extra(static),
                                         mpm="event", servers=self.servers, threads=self.tpc,
                                         log_level=a.log_level)
            sites = mobility.REPO / "conf.d" / "sites"
            shutil.copytree(sites, tmp / "sites")
            self.fe.body = self.fe.body.replace(f'"{sites}/', f'"{tmp / "sites"}/')
            log(f"starting the Front End: event MPM, {self.servers} x {self.tpc} threads, "
                f"UcwaMaxParkedPerChild {self.cap or f'default ({self.per_child})'}, "
                f"UcwaMaxApplications {self.store_apps}")
            self.fe.start(timeout=120)
            self.port, self.host = topo.fe_http, topo.pool
            self.ctl = bu.Control(self.port, self.host)
            self.wait_threads()
            m0 = self.snapshot("fresh server, no session")
            self.tokens = {u: self.ctl.token(u) for u in MCX_USERS + (UCWA_USERS if self.ucwa_n
                                                                       else ())}
            self.store_points = [("fresh server", m0["store"], 0)]
            self.store_size = max(shm_objects(self.fe.proc.pid).values(),
                                  key=lambda o: o[1])[1]
            self.sign_in_all()
            self.store_points.append((f"after {self.n_main + 2} MCX SignIns",
                                      store_alloc(self.fe.proc.pid)[0], self.n_main + 2))
            if self.ucwa_n:
                self.setup_ucwa()
                self.store_points.append((f"after {self.ucwa_n + 2} UCWA applications",
                                          store_alloc(self.fe.proc.pid)[0], self.ucwa_n + 2))
            # presence events are MEDIUM: past the window they are released at once
            time.sleep(MEDIUM + 0.5)
            self.drain_mcx()
            if self.ucwa_n:
                self.drain_ucwa()
            self.start_shards()
            st = self.ctl.status()
            log(f"store: {json.dumps(st)}")
            cpu_idle = bu.cpu_percent(self.fe.proc.pid, a.hold)
            log(f"server CPU with nothing parked: {cpu_idle:.1f}% over {a.hold}s")
            wrk_idle = self.wrk("nothing parked")
            idle = []
            m_setup = None
            if not a.no_idle:
                self.fresh_children()
                m_setup = self.snapshot(f"{self.store_apps - 64} sessions/applications, new "
                                        f"children")
                idle = self.idle_phase(m_setup)
            ucwa = None
            if self.ucwa_n:
                ucwa = self.ucwa_phase()
            # the MCX ramp
            self.fresh_children()
            m_pre = self.snapshot("before parking MCX channels (new children)")
            parked = self.ramp(self.main, m_pre, "MCX GetNotifications")
            wrk_parked = self.wrk(f"{self.n_main} MCX parked")
            rounds = []
            for r in range(a.rounds):
                u = MCX_USERS[r % 2]
                avail = WAKE_AVAIL[(r // 2) % len(WAKE_AVAIL)]
                res = self.wake(r + 1, "mcx", [u], True,
                                f"{u.split('@')[0]} publishes {avail}: "
                                f"{self.n_main // 2} sessions woken", avail=avail)
                rounds.append(res)
                log(f"round {r + 1}: {res['n']} MyPresence answers, from window end p50 "
                    f"{bu.pct(res['lat'], 50):.1f} ms p99 {bu.pct(res['lat'], 99):.1f} ms "
                    f"(PublishPresence took {res['post_ms']:.1f} ms)")
                self.wait_parked(self.n_main, a.park_timeout)
            steady = self.snapshot(f"{self.n_main} MCX parked after {a.rounds} wake rounds",
                                   self.n_main)
            steady.update(ref=m_pre, steady=True)
            rel = self.wake(a.rounds + 1, "mcx", list(MCX_USERS), False,
                            f"both publish Online: all {self.n_main} sessions released",
                            avail="Online")
            log(f"release: {rel['n']} of {self.n_main} GetNotifications answered 200 with "
                f"MyPresence Online")
            rounds.append(rel)
            time.sleep(1.0)
            m_after = self.snapshot("after the release (connections still open)")
            st = self.ctl.status()
            cs = self.shards.stats()
            if cs["n_errors"]:
                raise BenchError(f"client errors: {cs['errors']}")
            if st["parked"]:
                raise BenchError(f"after the release the store still counts {st['parked']} "
                                 f"parked")
            errors, warnings = bu.error_log_problems(self.fe)
            if errors:
                raise BenchError("the Front End logged errors:\n" + "\n".join(errors[:20]))
            self.report_mcx(m0, m_setup, idle, ucwa, m_pre, parked, steady, m_after, rounds,
                            wrk_idle, wrk_parked, cpu_idle, st, cs, warnings)
            return 0
        except bu.BenchError:
            if self.fe:
                tail = self.fe.log_text().splitlines()[-20:]
                if tail:
                    print("bench_mcx: last lines of the Front End error log:\n  "
                          + "\n  ".join(tail), file=sys.stderr)
            raise
        finally:
            if self.shards:
                self.shards.close()
            if self.fe:
                self.fe.stop()
            if a.keep:
                print(f"bench_mcx: kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)

    # output --------------------------------------------------------------------------
    def report_mcx(self, m0, m_setup, idle, ucwa, m_pre, parked, steady, m_after, rounds,
                   wrk_idle, wrk_parked, cpu_idle, st, cs, warnings):
        a = self.args
        mib = lambda kib: f"{kib / 1024:,.1f}"  # noqa: E731
        per = lambda m: (m["Pss"] - m["ref"]["Pss"]) / m["n"]  # noqa: E731
        print()
        print("Machine")
        for k, v in bu.machine_facts(self):
            print(f"  {k:<16} {v}")
        print(f"  {'mcx':<16} McxSessionLifetime 86400 259200, sessions AlwaysConnected; "
              f"UcwaEventTimeoutRange 10 {PARK_TIMEOUT}; client: {self.n_shards} process(es)")
        print()
        print("Setup")
        for what, rate in self.setup_rows:
            print(f"  {what:<100} {rate:>8}")
        print()
        print("Server memory (sum over the parent and its children; PSS from smaps_rollup "
              "counts shared pages once; RSS sums count them in every process)")
        head = (f"{'state':<56} {'procs':>5} {'threads':>7} {'PSS MiB':>9} {'anon MiB':>9} "
                f"{'shm MiB':>8} {'RSS sum MiB':>11}")
        print(head)
        print("-" * len(head))
        allm = [m0] + ([m_setup] if m_setup else []) + idle
        if ucwa:
            allm += [ucwa[0]] + ucwa[1]
        allm += [m_pre] + parked + [steady, m_after]
        for m in allm:
            print(f"{m['label']:<56} {m['procs']:>5} {m['threads']:>7} {mib(m['Pss']):>9} "
                  f"{mib(m['Pss_Anon']):>9} {mib(m['Pss_Shmem']):>8} {mib(m['Rss']):>11}")
        print(f"  shm: the server's shared memory as its processes map it (PSS); the session "
              f"store itself is below")
        print()
        slot = self.store_size / self.store_apps / 1024
        print(f"Session store (shared memory reserved for UcwaMaxApplications {self.store_apps}: "
              f"{self.store_size / 2**20:,.1f} MiB, {slot:.1f} KiB per application = "
              f"UcwaEventsPerApplication 64 x UcwaEventSize 4096 ring + record). Pages are "
              f"allocated when first written and given back once their event is delivered "
              f"(acknowledged) or dropped; allocated = the object's pages, mapped by a live "
              f"process or not")
        prev = None
        for label, kib, n in self.store_points:
            extra = (f"  +{(kib - prev) / n:.1f} KiB per session" if prev is not None and n
                     else "")
            print(f"  {label:<40} {kib / 1024:>9.1f} MiB allocated{extra}")
            prev = kib
        for m in (m_pre, parked[-1], steady, m_after):
            print(f"  {m['label']:<40} {m['store'] / 1024:>9.1f} MiB allocated")
        # what a session's ring holds while it waits: the pages of its undelivered events
        last = parked[-1]
        self.store_per_session = max(0.0, (last["store"] - self.store_points[0][1])
                                     / max(1, last["n"] or 1))
        print(f"  an MCX session's ring fills as notifications arrive (here: every SignIn "
              f"notifies all the user's other sessions, {self.n_main // 2} each; "
              f"{self.drain_info[0]} of {self.n_main} first batches said Resume, their ring had "
              f"wrapped), and empties as they are delivered: while parked, the store holds "
              f"{self.store_per_session:.1f} KiB per session, the records used included (of "
              f"{slot - self.store_points[0][1] / self.store_apps:.0f} KiB reserved)")
        print()
        idle_by_n = {m["n"]: m for m in idle if "ref" in m and not m.get("warm")}
        ucwa_by_n = {m["n"]: m for m in (ucwa[1] if ucwa else [])}
        st_kib = self.store_per_session
        print(f"Per MCX session (growth over the new children before parking / N), against the "
              f"target, a tenth of Skype for Business's 0.52 MB: {TARGET:,} bytes = "
              f"{TARGET / 1024:.1f} KiB")
        rec_kib = self.store_points[0][1] / self.store_apps
        head = (f"{'N':<22} {'parked':>6} {'PSS MiB':>8} {'PSS KiB':>8} {'target':>7} "
                f"{'private':>7} {'+store':>6} {'+start':>7} {'=total':>7} {'target':>7} "
                f"{'UCWA KiB':>8} {'MCX-UCWA':>8} {'idle KiB':>8} {'CPU %':>6}")
        print(head)
        print("-" * len(head))
        for m in parked + [steady]:
            k = per(m)
            pk = (m["private"] - m["ref"]["private"]) / m["n"]
            tot = pk + st_kib + rec_kib
            u = ucwa_by_n.get(m["n"]) if not m.get("steady") else None
            i = idle_by_n.get(m["n"]) if not m.get("steady") else None
            uk = per(u) if u else None
            ik = per(i) if i else None
            label = f"{m['n']}" + (f" after {a.rounds} wakes" if m.get("steady") else "")
            cpu_s = f"{m['cpu']:.1f}" if "cpu" in m else "-"
            verdict = lambda kib: (f"{100 * kib * 1024 / TARGET:.0f}%"  # noqa: E731
                                   + ("" if kib * 1024 <= TARGET else "!"))
            print(f"{label:<22} {m.get('store_parked', self.n_main):>6} {mib(m['Pss']):>8} "
                  f"{k:>8.1f} {verdict(k):>7} {pk:>7.1f} {st_kib:>6.1f} {rec_kib:>7.1f} "
                  f"{tot:>7.1f} {verdict(tot):>7} {(f'{uk:.1f}' if uk is not None else '-'):>8} "
                  f"{(f'{k - uk:+.1f}' if uk is not None else '-'):>8} "
                  f"{(f'{ik:.1f}' if ik is not None else '-'):>8} {cpu_s:>6}")
        print(f"  PSS KiB: the server's PSS growth / N (as bench_ucwa measures a channel); "
              f"target: % of {TARGET:,} bytes, '!' over it. private: the same without shared "
              f"memory (PSS - Pss_Shmem; after the wake rounds the new children map store "
              f"pages the SignIns had allocated). +store: the session store's pages allocated "
              f"per session while parked, over the fresh server's (the records in use: the "
              f"application, its user, subscriptions, conversations and push jobs; the UCWA "
              f"baseline's applications were deleted before the MCX ramp; the ring's "
              f"undelivered events: delivered ones are given back; at most "
              f"{(self.store_size / self.store_apps / 1024) - rec_kib:.0f} "
              f"KiB); +start: what the fresh server's store holds per configured application "
              f"(records are allocated when first used); total = private + store + start")
        print(f"  UCWA KiB: a parked UCWA event GET (bench_ucwa's channel) at the same N, "
              f"measured the same way in this run; idle KiB: an idle keep-alive connection "
              f"(static file). CPU: the server's, % of one CPU over {a.hold}s while the "
              f"sessions wait (nothing parked: {cpu_idle:.1f}%"
              + (f"; UCWA channels: " + ", ".join(f"{m['n']}: {m['cpu']:.1f}%"
                                                   for m in ucwa[1]) if ucwa else "") + ")")
        if idle:
            w = [m for m in idle if m.get("warm")]
            if w:
                print(f"  idle connections again on warm children: {per(w[0]):.1f} KiB each")
        print()
        print(f"Parking (each session: its own connection; GetNotifications Sequence=<Next> "
              f"Timeout={PARK_TIMEOUT})")
        head = (f"{'channels':<24} {'N':>6} {'seconds':>8} {'bounces':>8} {'drains':>7} "
                f"{'conns per child (max..min)':<30}")
        print(head)
        print("-" * len(head))
        for what, ms in ((("UCWA event GET", ucwa[1]),) if ucwa else ()) + (("MCX", parked),):
            for m in ms:
                d = m["dist"]
                dist = f"{d[0]}..{d[-1]} over {len(d)}" if d else "?"
                print(f"{what:<24} {m['n']:>6} {m['park_s']:>8.1f} {m['bounces']:>8} "
                      f"{m['drains']:>7} {dist:<30}")
        print(f"  a bounce (counted per ramp): the child was at UcwaMaxParkedPerChild "
              f"({self.cap or f'default 3/4 x {self.tpc} = {self.per_child}'}) and answered "
              f"503 (MCX: ServiceBusy); the client retried on a new connection. drains: "
              f"batches answered at once because something was queued")
        print()
        print(f"Wake latency with {self.n_main} MCX sessions parked: response time - "
              f"(PublishPresence time + medium window {MEDIUM} s)")
        head = (f"{'round':<60} {'samples':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
                f"{'max ms':>8} {'Publish ms':>10}")
        print(head)
        print("-" * len(head))
        alls = []
        for r in rounds:
            alls += r["lat"]
            print(f"{r['label']:<60} {r['n']:>7} {bu.pct(r['lat'], 50):>8.1f} "
                  f"{bu.pct(r['lat'], 90):>8.1f} {bu.pct(r['lat'], 99):>8.1f} "
                  f"{r['lat'][-1]:>8.1f} {r['post_ms']:>10.1f}")
        alls.sort()
        print(f"{'all rounds':<60} {len(alls):>7} {bu.pct(alls, 50):>8.1f} "
              f"{bu.pct(alls, 90):>8.1f} {bu.pct(alls, 99):>8.1f} {alls[-1]:>8.1f}")
        print(f"  kernel receive timestamps of each response's first bytes (SO_TIMESTAMPNS); "
              f"min {alls[0]:.1f} ms. Release: {rounds[-1]['n']}/{self.n_main} parked "
              f"GetNotifications answered 200 with a GetNotificationsResponse holding "
              f"MyPresence Online" + (f"; UCWA baseline release: {ucwa[2]['n']}/{self.ucwa_n}"
                                      f" answered their note event (p50 "
                                      f"{bu.pct(ucwa[2]['lat'], 50):.1f} ms p99 "
                                      f"{bu.pct(ucwa[2]['lat'], 99):.1f} ms)" if ucwa else ""))
        print(f"  client totals: MCX notifications received {cs['note_kinds']}, Resume batches "
              f"{cs['resumes']}, empty early batches {cs['empty']}, reconnects "
              f"{cs['reconnects']}, errors {cs['n_errors']}")
        print()
        print(f"Static file baseline (wrk -t{a.wrk_threads} -c{a.wrk_connections} "
              f"-d{a.duration}s, {bu.STATIC_PREFIX}/small.txt, 256 B, same server and port)")
        head = f"{'while':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        print(head)
        print("-" * len(head))
        for w in (wrk_idle, wrk_parked):
            print(f"{w['label']:<26} {w['rps']:>9.0f} {w['p50_us'] / 1000:>8.2f} "
                  f"{w['p99_us'] / 1000:>8.2f}")
        print()
        print(f"store at the end: {json.dumps(st)}")
        if warnings:
            kinds = collections.Counter()
            example = {}
            for w in warnings:
                mm = re.search(r"\] ([A-Z]+[0-9]+): (.*)$", w)
                key = mm.group(1) if mm else "?"
                kinds[key] += 1
                example.setdefault(key, mm.group(2)[:160] if mm else w[:200])
            print(f"note: {len(warnings)} warning(s) in the Front End log (LogLevel "
                  f"{a.log_level}): " + "; ".join(f"{k} x {v}, e.g. {example[k]!r}"
                                                   for k, v in kinds.most_common()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N=1000 only, short holds and wrk runs")
    ap.add_argument("--n", default="", help="comma-separated N values instead of 1000,6660")
    ap.add_argument("--threads-per-child", type=int, default=1000,
                    help="ThreadsPerChild and ThreadLimit (1000)")
    ap.add_argument("--servers", type=int, default=0,
                    help="child processes (default: bench_ucwa's sizing for the largest N)")
    ap.add_argument("--cap", type=int, default=None,
                    help="UcwaMaxParkedPerChild (default: unset, 3/4 of ThreadsPerChild)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="wake rounds before the release, alice and bob in turn (4; --quick 2)")
    ap.add_argument("--hold", type=float, default=None,
                    help="seconds the server's CPU is sampled while parked (10; --quick 3)")
    ap.add_argument("--duration", type=int, default=None, help="seconds of wrk (10; --quick 3)")
    bu.add_client_args(ap)
    ap.add_argument("--no-ucwa-baseline", action="store_true",
                    help="skip the parked UCWA channel baseline")
    ap.add_argument("--no-idle", action="store_true",
                    help="skip the idle keep-alive connection baseline")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    a.rounds = a.rounds if a.rounds is not None else (2 if a.quick else 4)
    a.hold = a.hold if a.hold is not None else (3 if a.quick else 10)
    a.duration = a.duration if a.duration is not None else (3 if a.quick else 10)
    # bench_ucwa's sizing reads these
    a.max, a.max_channels, a.no_im, a.im_pairs = False, 0, True, 0
    if not shutil.which("wrk"):
        sys.exit("bench_mcx: wrk is missing (apt-get install -y wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return Run(a).go()
    except bu.BenchError as e:
        print(f"bench_mcx: FAILED: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
