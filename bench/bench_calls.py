#!/usr/bin/python3
"""Calls between UCWA applications (signalling only: offer, ring, answer, negotiation,
hang-up) with thousands of event channels parked, on one Front End and (--pool) across
the two Front Ends of a pool: call setup latency, concurrent calls per second, and a
static-file baseline, measured in one run and printed side by side.

Over plain HTTP on the internal site, on a private Front End (event MPM, sized as
bench_ucwa sizes one) with a directory of generated users (user00001@contoso.test ...,
the demo password), each application its own user:

  parked     N event channels (6660, Skype for Business's users per Front End; --quick
             1000), each its own user and application, available with Audio (never
             called), parked (GET events?timeout=3600&medium=5, ucwa_client's shards)
  setup      --pairs caller/callee pairs (available with Audio and Video), calls one at a
             time, pairs in turn (--samples calls, --quick fewer), each with both event
             requests parked before the POST:
               ring: POST {A}/communication/audioVideoInvitations (the offer) -> the
                     callee's event response holding audioVideoInvitation started;
                     "offer in hand" adds the GET of the invitation when the event was
                     link-only (its body did not fit an event slot)
               answer: POST acceptWithAnswer (the answer SDP) -> the caller's event
                     response holding audioVideoNegotiation (and "answer in hand": with
                     the GET of the negotiation when link-only)
             then the caller hangs up (stopAudioVideo) and both see the conversation
             deleted. Calls alternate an audio offer as aiortc writes one (about 2.5 KiB,
             JSON with a data URI) and an audio and video one (about 6 KiB,
             application/sdp body); answers of about the same sizes. Each side's events
             are checked: the documented sequence, every event once, the offer and the
             answer byte for byte. Target p99 < 20 ms each
  concurrent --concurrent calls (1000) between as many caller/callee pairs of their own,
             in --workers client processes, started at once: offer, ring, answer,
             negotiation, stopAudioVideo, both sides' conversation deleted. Calls per
             second (calls / time from the first POST to the last event), each call's
             setup time (POST to negotiation) and whether every call completed with
             every event seen exactly once. A request answered 503 with Retry-After
             (a pool's Front End whose outbox to the others, UCWA_POOL_OUTBOX, is full:
             nothing was done) is sent again after it, as a client does, and counted
  static     wrk on the same server's static file, with nothing parked and with N parked

--pool (root, as bench_pool.py): then the same phases on a pool of two Front Ends that
bench_pool.py starts (fe1, fe2, a private PostgreSQL with the same generated users, each
Front End sized for its share): the N channels half on each, every caller's application
on FE1 and every callee's on FE2, so each ring crosses the pool from FE1 to FE2 and each
answer from FE2 to FE1 (docs/extensions.md §19); the static file on FE1. --no-single
skips the one-Front-End run.

A call's record is held UCWA_CONV_RETAIN (60 s) after it ends, so UcwaMaxCalls is set to
the calls of the run and some room.

The figures never fail the run; a wrong answer, a lost or repeated event, a client error
or an error in the server's log does.

  ./apxs-build.sh bench --calls [--quick] [--pool] ...
  python3 bench/bench_calls.py [--quick] [--n 6660] [--concurrent 1000] [--pool]
                               [--no-single] [--keep]
"""
import argparse
import asyncio
import base64
import gc
import json
import math
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "lib"))
sys.path.insert(0, str(HERE))
import bench_pool  # noqa: E402
import bench_ucwa as bu  # noqa: E402
import mobility  # noqa: E402
import ucwa_client as uc  # noqa: E402
from bench_ucwa import MEDIUM, PARK_TIMEOUT, BenchError, pct  # noqa: E402

EV_TIMEOUT = 60          # timeout= of the call parties' event requests
MAX_RETRIES = 3          # a 503 with Retry-After sent again at most so many times
AV_RELS = {"audioVideoInvitation", "conversation", "localParticipant", "participant",
           "audioVideo", "audioVideoNegotiation", "audioVideoRenegotiation"}
COMM, CONV, INV = "communication", "conversation", "audioVideoInvitation"
# the documented sequences (docs/extensions.md, test_calls.py)
CALLER = [(COMM, INV, "started"), (COMM, CONV, "added"), (CONV, "localParticipant", "added"),
          (CONV, "audioVideo", "updated"),
          (INV, "audioVideoNegotiation", "updated"), (COMM, CONV, "updated"),
          (CONV, "participant", "added"), (CONV, "audioVideo", "updated"),
          (COMM, INV, "completed"),
          (CONV, "audioVideo", "updated"), (COMM, CONV, "deleted")]
CALLEE = [(COMM, INV, "started"), (COMM, CONV, "added"), (CONV, "localParticipant", "added"),
          (CONV, "participant", "added"),
          (COMM, INV, "updated"), (CONV, "audioVideo", "updated"), (COMM, CONV, "updated"),
          (CONV, "participant", "updated"), (COMM, INV, "completed"),
          (CONV, "participant", "deleted"), (CONV, "audioVideo", "updated"),
          (COMM, CONV, "deleted")]


def log(msg):
    print(f"bench_calls: {msg}", flush=True)


def user(i):
    return mobility.GENERATED_USER.format(i)


# --- session descriptions as real stacks write them ------------------------------------

def _media(kind, mid, pts, rtpmaps, fbs, fmtps, ssrc, tag, ncand):
    lines = [f"m={kind} 9 UDP/TLS/RTP/SAVPF {' '.join(str(p) for p in pts)}",
             "c=IN IP4 0.0.0.0", "a=sendrecv",
             "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
             "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
             f"a=mid:{mid}", f"a=msid:{tag}-stream {tag}-{kind}",
             "a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp-mux"]
    if kind == "video":
        lines.append("a=rtcp-rsize")
    lines += [f"a=ssrc-group:FID {ssrc} {ssrc + 1}"] if kind == "video" else []
    for s in ((ssrc, ssrc + 1) if kind == "video" else (ssrc,)):
        lines += [f"a=ssrc:{s} cname:{tag}-cname-0123456789abcdef",
                  f"a=ssrc:{s} msid:{tag}-stream {tag}-{kind}"]
    lines += rtpmaps + fbs + fmtps
    # host, server-reflexive and relay candidates of a phone on Wi-Fi with IPv6
    for i in range(ncand):
        typ = ("host", "srflx", "relay")[i % 3]
        addr = f"192.168.{i % 7}.{10 + i}" if typ == "host" else f"203.0.113.{20 + i}"
        rel = "" if typ == "host" else f" raddr 192.168.0.{10 + i} rport {50000 + i}"
        lines.append(f"a=candidate:{(i * 2654435761) % 10**9} 1 udp "
                     f"{2122260223 - i * 1000} {addr} {50000 + i} typ {typ}{rel}")
    lines += ["a=end-of-candidates", f"a=ice-ufrag:{tag[:8]:0<8}",
              "a=ice-pwd:" + (tag * 8)[:24].ljust(24, "x"),
              "a=fingerprint:sha-256 " + ":".join(f"{(i * 37 + len(tag)) % 256:02X}"
                                                   for i in range(32)),
              "a=setup:actpass"]
    return lines


def sdp(tag, video=False):
    """An offer (or answer) as aiortc writes one: audio (opus, PCMU, PCMA) about 2.5 KiB;
    with video (VP8, H.264 with rtx, RTCP feedback) about 6 KiB. Unique by tag."""
    session = zlib.crc32(tag.encode()) * 2 + 10**9      # 10 digits, the same every run
    head = ["v=0", f"o=- {session} 0 IN IP4 0.0.0.0", "s=-", "t=0 0",
            "a=group:BUNDLE 0 1" if video else "a=group:BUNDLE 0",
            "a=msid-semantic:WMS *"]
    audio = _media("audio", 0, [96, 0, 8],
                   ["a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000"],
                   [], ["a=fmtp:96 minptime=10;useinbandfec=1"], 1000 + len(tag), tag, 20)
    lines = head + audio
    if video:
        pts = [97, 98, 99, 100, 101, 102]
        rtpmaps = ["a=rtpmap:97 VP8/90000", "a=rtpmap:98 rtx/90000",
                   "a=rtpmap:99 H264/90000", "a=rtpmap:100 rtx/90000",
                   "a=rtpmap:101 H264/90000", "a=rtpmap:102 rtx/90000"]
        fbs = [f"a=rtcp-fb:{p} {fb}" for p in (97, 99, 101)
               for fb in ("nack", "nack pli", "goog-remb", "ccm fir")]
        fmtps = ["a=fmtp:98 apt=97", "a=fmtp:100 apt=99", "a=fmtp:102 apt=101",
                 "a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;"
                 "profile-level-id=42001f",
                 "a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;"
                 "profile-level-id=42e01f"]
        lines += _media("video", 1, pts, rtpmaps, fbs, fmtps, 3000 + len(tag), tag, 24)
    return ("\r\n".join(lines) + "\r\n").encode()


def from_data_uri(uri):
    head, data = uri.split(",", 1)
    if not head.startswith("data:") or not head.endswith(";base64"):
        raise uc.HttpError(f"not a base64 data URI: {head[:80]!r}")
    return base64.b64decode(data)


# --- a call party: one application with its event request always out --------------------

class Party:
    """An application of a caller or callee: an event connection whose GET is re-sent as
    soon as each response is in (its kernel receive time kept per event), and a connection
    for its own requests."""

    def __init__(self, name, base, token, port, host, ack):
        self.name, self.base, self.token = name, base, token
        self.port, self.host, self.ack = port, host, ack
        self.evconn = self.conn = None
        self.events = []          # (sender rel, rel, type, event, t_first)
        self.ready = self.changed = None
        self.task = None
        self.bounces = self.reconnects = 0
        self.retries = 0          # 503s with Retry-After, sent again after it
        self.error = None

    def start(self, loop):
        self.evconn = uc.Conn(loop, "127.0.0.1", self.port)
        self.conn = uc.Conn(loop, "127.0.0.1", self.port)
        self.ready, self.changed = asyncio.Event(), asyncio.Event()
        self.task = loop.create_task(self._receiver())

    def close(self):
        if self.task:
            self.task.cancel()
        for c in (self.evconn, self.conn):
            if c:
                c.close()

    async def _receiver(self):
        try:
            while True:
                raw = uc.request_bytes("GET", f"{self.base}/events?ack={self.ack}&timeout="
                                       f"{EV_TIMEOUT}&medium={MEDIUM}", self.host,
                                       token=self.token)
                try:
                    fut = await self.evconn.request(raw)
                except (uc.HttpError, OSError):
                    self.evconn.close()
                    self.reconnects += 1
                    await asyncio.sleep(0.05)
                    continue
                t_sent = time.time()
                self.ready.set()
                try:
                    r = await fut
                except uc.HttpError:
                    self.evconn.close()
                    self.reconnects += 1
                    continue
                finally:
                    self.ready.clear()
                if r.status == 503:          # a child at UcwaMaxParkedPerChild
                    self.bounces += 1
                    self.evconn.close()
                    await asyncio.sleep(0.02)
                    continue
                if r.status != 200:
                    raise uc.HttpError(f"{self.name}: events {r.status} {r.body[:300]!r}")
                pkg = json.loads(r.body)
                links = pkg.get("_links", {})
                if "resync" in links or "resume" in links:
                    raise uc.HttpError(f"{self.name}: events lost: {r.body[:300]!r}")
                self.ack = uc.next_ack(pkg, self.base)
                got = 0
                for s in pkg.get("sender", []):
                    for ev in s.get("events", []):
                        rel = ev.get("link", {}).get("rel")
                        if rel in AV_RELS:
                            self.events.append((s.get("rel"), rel, ev.get("type"), ev,
                                                r.t_first))
                            got += 1
                if not pkg.get("sender") and r.t_done - t_sent < EV_TIMEOUT - 1:
                    self.bounces += 1        # not parked by this child: a new connection
                    self.evconn.close()
                    await asyncio.sleep(0.02)
                    continue
                if got:
                    self.changed.set()
        except asyncio.CancelledError:
            raise
        except Exception as e:          # reported by whoever waits for an event
            self.error = e
            self.changed.set()

    async def _until(self, found, timeout, what):
        """Waits until found() returns something (returned) or raises after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = found()
            if got is not None:
                return got
            if self.error:
                raise uc.HttpError(f"{self.name}: {self.error}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise uc.HttpError(f"{self.name}: {what} in {timeout}s; events "
                                   f"{[e[:3] for e in self.events]}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait(self, rel, typ, start, timeout=30):
        """The first event (rel, typ) at or after index start: (index, entry)."""
        def found():
            for i in range(start, len(self.events)):
                if self.events[i][1:3] == (rel, typ):
                    return i, self.events[i]
            return None
        return await self._until(found, timeout, f"no {rel} {typ}")

    async def until(self, n, timeout=30):
        """Until this party has n events."""
        return await self._until(lambda: True if len(self.events) >= n else None, timeout,
                                 f"fewer than {n} events")

    async def req(self, method, path, body=None, ctype="application/json", want=None):
        """The request's response and the time before it was first sent. A 503 with
        Retry-After (a pool's Front End whose outbox for the others is full: nothing was
        done) is sent again after it, as a client does, up to MAX_RETRIES times."""
        raw = uc.request_bytes(method, path, self.host, token=self.token, body=body,
                               ctype=ctype)
        t_first = None
        for again in range(MAX_RETRIES + 1):
            for attempt in range(3):
                try:
                    t0 = time.time()
                    r = await self.conn.fetch(raw)
                    break
                except (uc.HttpError, OSError):
                    self.conn.close()
                    if attempt == 2:
                        raise
            t_first = t_first or t0
            wait = r.headers.get("retry-after")
            if r.status != 503 or want == 503 or not wait or again == MAX_RETRIES:
                break
            self.retries += 1
            await asyncio.sleep(float(wait))
        t0 = t_first
        if want is not None and r.status != want:
            raise uc.HttpError(f"{self.name}: {method} {path[:120]}: {r.status} "
                               f"{r.body[:300]!r}")
        return r, t0


def resource_of(ev):
    emb = ev.get("_embedded")
    if emb:
        (res,) = emb.values()
        return res
    return None


async def fetch_resource(party, ev):
    """The event's resource: embedded, else GET its link (an event too big for a slot)."""
    res = resource_of(ev)
    if res is not None:
        return res, False
    r, _ = await party.req("GET", ev["link"]["href"], want=200)
    return r.json(), True


async def one_call(caller, callee, k, video, sequential):
    """One call, start to end; returns its timings (seconds since the epoch, kernel
    receive times for events). sequential: wait for both event requests to be parked
    before each POST that the other side's event answers."""
    offer, answer = sdp(f"offer-{k}", video), sdp(f"answer-{k}", video)
    c0, e0 = len(caller.events), len(callee.events)
    if sequential:
        await asyncio.wait_for(asyncio.gather(caller.ready.wait(), callee.ready.wait()), 30)
        await asyncio.sleep(0.002)
    to = "sip:" + callee.name
    ctx = f"ctx-{k}"
    if video:
        q = urllib.parse.urlencode({"to": to, "operationId": f"op-{k}", "sessionContext": ctx})
        r, t_post = await caller.req("POST", f"{caller.base}/communication/"
                                     f"audioVideoInvitations?{q}", offer, "application/sdp",
                                     want=201)
    else:
        body = json.dumps({"to": to, "operationId": f"op-{k}", "sessionContext": ctx,
                           "subject": f"bench call {k}", "_links": {"mediaOffer": {
                               "href": "data:application/sdp;base64,"
                                       + base64.b64encode(offer).decode()}}})
        r, t_post = await caller.req("POST", f"{caller.base}/communication/"
                                     "audioVideoInvitations", body, want=201)
    t_post_done = r.t_done
    _, ring = await callee.wait(INV, "started", e0)
    inv, ring_link = await fetch_resource(callee, ring[3])
    t_offer = time.time()
    got = from_data_uri(inv["_links"]["mediaOffer"]["href"])
    if got != offer:
        raise uc.HttpError(f"call {k}: the callee's offer differs ({len(got)} bytes, "
                           f"{len(offer)} sent)")
    if sequential:
        await asyncio.wait_for(asyncio.gather(caller.ready.wait(), callee.ready.wait()), 30)
        await asyncio.sleep(0.002)
    href = inv["_links"]["acceptWithAnswer"]["href"] + "?" + urllib.parse.urlencode(
        {"sessionContext": f"ctx-b-{k}"})
    _, t_ans = await callee.req("POST", href, answer, "application/sdp", want=204)
    _, neg = await caller.wait("audioVideoNegotiation", "updated", c0)
    res, neg_link = await fetch_resource(caller, neg[3])
    t_answer = time.time()
    got = from_data_uri(res["_links"]["mediaAnswer"]["href"])
    if got != answer:
        raise uc.HttpError(f"call {k}: the caller's answer differs")
    # connected on both sides: the caller hangs up
    await caller.until(c0 + 9)
    await callee.until(e0 + 9)
    av = caller.events[c0 + 7]
    if av[:3] != (CONV, "audioVideo", "updated"):
        raise uc.HttpError(f"call {k}: caller's events {[e[:3] for e in caller.events[c0:]]}")
    modality, _ = await fetch_resource(caller, av[3])
    if modality.get("state") != "Connected":
        raise uc.HttpError(f"call {k}: audioVideo {modality.get('state')}")
    await caller.req("POST", modality["_links"]["stopAudioVideo"]["href"], "{}", want=204)
    await caller.until(c0 + len(CALLER))
    await callee.until(e0 + len(CALLEE))
    t_end = max(caller.events[-1][4], callee.events[-1][4])
    # every event once, in the documented order (a late duplicate shows at the next call)
    for who, evs, want in ((caller, caller.events[c0:], CALLER),
                           (callee, callee.events[e0:], CALLEE)):
        if [e[:3] for e in evs] != want:
            raise uc.HttpError(f"call {k}: {who.name} saw {[e[:3] for e in evs]}")
    return {"ring": ring[4] - t_post, "offer": t_offer - t_post, "ring_link": ring_link,
            "answer": neg[4] - t_ans, "answer_hand": t_answer - t_ans, "neg_link": neg_link,
            "post": t_post_done - t_post, "setup": neg[4] - t_post, "t_post": t_post,
            "t_end": t_end, "video": video}


# --- the concurrent phase: worker processes ---------------------------------------------

def worker_main(pipe, rows, host, video_every):
    """Runs in a client process: rows of (k, caller row, callee row), a row being (name,
    base, token, ack, port of its Front End). Starts the parties, says "ready", waits for
    "go", runs every call at once, sends the results."""
    os.environ.pop("PYTHONASYNCIODEBUG", None)

    async def main():
        loop = asyncio.get_running_loop()
        parties = []
        for k, a, b in rows:
            pa = Party(a[0], a[1], a[2], a[4], host, a[3])
            pb = Party(b[0], b[1], b[2], b[4], host, b[3])
            parties.append((k, pa, pb))
        for _, pa, pb in parties:
            pa.start(loop)
            pb.start(loop)
        await asyncio.wait_for(asyncio.gather(*(p.ready.wait() for _, pa, pb in parties
                                                for p in (pa, pb))), 120)
        pipe.send(("ready", len(parties)))
        ev = asyncio.Event()
        loop.add_reader(pipe.fileno(), ev.set)
        await ev.wait()
        loop.remove_reader(pipe.fileno())
        pipe.recv()
        gc.disable()
        cpu0 = time.process_time()
        results = await asyncio.gather(*(one_call(pa, pb, k, k % video_every == 0, False)
                                         for k, pa, pb in parties), return_exceptions=True)
        cpu = time.process_time() - cpu0
        gc.enable()
        out, errors = [], []
        for r in results:
            if isinstance(r, BaseException):
                errors.append(f"{type(r).__name__}: {r}")
            else:
                out.append(r)
        bounces = sum(p.bounces for _, pa, pb in parties for p in (pa, pb))
        retries = sum(p.retries for _, pa, pb in parties for p in (pa, pb))
        for _, pa, pb in parties:
            pa.close()
            pb.close()
        return {"results": out, "errors": errors, "bounces": bounces, "cpu_s": cpu,
                "retries": retries}

    try:
        pipe.send(("done", asyncio.run(main())))
    except Exception as e:
        pipe.send(("error", f"{type(e).__name__}: {e}"))


# --- the runs: one Front End, two of a pool ----------------------------------------------

class Calls:
    """The call phases, on Front Ends set up by a subclass: users 1..N are the parked
    channels, then the sequential pairs, then the concurrent pairs (caller, callee);
    port_of(i) is the port of user i's Front End, self.host the Host header, pids() the
    Front Ends' parent processes, self.acks and self.bases each application's."""
    where = ""                # the run's name in the report

    def plan_users(self):
        a = self.a
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.n = a.n
        self.lurkers = list(range(1, a.n + 1))
        u = a.n
        self.seq_pairs = [(u + 2 * k + 1, u + 2 * k + 2) for k in range(a.pairs)]
        u += 2 * a.pairs
        self.conc_pairs = [(u + 2 * k + 1, u + 2 * k + 2) for k in range(a.concurrent)]
        u += 2 * a.concurrent
        self.n_users = u
        self.max_calls = a.warmup + a.samples + a.concurrent + 64

    def servers_for(self, channels):
        """Children of a Front End parking channels at 3/4 of their threads, 25% room
        and one spare (as bench_ucwa sizes one)."""
        return math.ceil(channels * 1.25 / (self.a.threads_per_child * 3 // 4)) + 1

    def calls_conf(self):
        return "\n".join([f"UcwaMaxCalls {self.max_calls}"]
                         + (["ExtendedStatus Off"] if self.a.extended_status == "off" else []))

    def parties(self):
        return [i for p in self.seq_pairs + self.conc_pairs for i in p]

    def party(self, i):
        return Party(user(i), self.bases[i], self.tokens[user(i)], self.port_of(i), self.host,
                     self.acks[i])

    def row(self, i):
        return (user(i), self.bases[i], self.tokens[user(i)], self.acks[i], self.port_of(i))

    def sequential(self):
        a = self.a

        async def main():
            loop = asyncio.get_running_loop()
            pairs = []
            for ci, ei in self.seq_pairs:
                pa, pb = self.party(ci), self.party(ei)
                pa.start(loop)
                pb.start(loop)
                pairs.append((pa, pb))
            out = []
            try:
                for k in range(a.warmup + a.samples):
                    pa, pb = pairs[k % len(pairs)]
                    r = await one_call(pa, pb, 100000 + k, k % 2 == 1, True)
                    if k >= a.warmup:
                        out.append(r)
            finally:
                bounces = sum(p.bounces for pr in pairs for p in pr)
                self.results["seq_retries"] = sum(p.retries for pr in pairs for p in pr)
                for pa, pb in pairs:
                    pa.close()
                    pb.close()
            return out, bounces

        t0 = time.time()
        gc.collect()
        gc.disable()
        try:
            out, bounces = asyncio.run(main())
        except (uc.HttpError, OSError, asyncio.TimeoutError) as e:
            raise BenchError(f"{self.where}: sequential calls: {type(e).__name__}: {e}")
        finally:
            gc.enable()
        self.results["seq"] = out
        self.results["seq_bounces"] = bounces
        self.results["seq_secs"] = time.time() - t0
        for video in (False, True):
            rs = [r for r in out if r["video"] == video]
            ring = sorted(r["ring"] * 1000 for r in rs)
            ans = sorted(r["answer"] * 1000 for r in rs)
            log(f"{self.where}: sequential {'video' if video else 'audio'} calls ({len(rs)}): "
                f"ring p50 {pct(ring, 50):.2f} p99 {pct(ring, 99):.2f} ms; answer p50 "
                f"{pct(ans, 50):.2f} p99 {pct(ans, 99):.2f} ms")

    def concurrent(self):
        a = self.a
        ctx = multiprocessing.get_context("fork")
        w = max(1, min(a.workers, len(self.conc_pairs)))
        parts = [[] for _ in range(w)]
        for k, (ci, ei) in enumerate(self.conc_pairs):
            parts[k % w].append((k, self.row(ci), self.row(ei)))
        procs, pipes = [], []
        for part in parts:
            x, y = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(y, part, self.host, a.video_every),
                            daemon=True)
            p.start()
            y.close()
            procs.append(p)
            pipes.append(x)

        def reply(pipe, want, timeout):
            if not pipe.poll(timeout):
                raise BenchError(f"a client process did not say {want} in {timeout}s")
            kind, val = pipe.recv()
            if kind != want:
                raise BenchError(f"a client process: {val}")
            return val
        pids = self.pids()
        try:
            for x in pipes:
                reply(x, "ready", 300)
            log(f"{self.where}: {len(self.conc_pairs)} caller/callee pairs parked in {w} client "
                f"processes; go")
            c0, m0 = [bu.cpu_ticks(p) for p in pids], time.monotonic()
            for x in pipes:
                x.send("go")
            res = [reply(x, "done", 600) for x in pipes]
            el = time.monotonic() - m0
            cpu = [100.0 * (bu.cpu_ticks(p) - c) / os.sysconf("SC_CLK_TCK") / el
                   for p, c in zip(pids, c0)]
        finally:
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.kill()
        results = [r for x in res for r in x["results"]]
        errors = [e for x in res for e in x["errors"]]
        self.results["conc"] = {"results": results, "errors": errors, "cpu": cpu,
                                "bounces": sum(x["bounces"] for x in res),
                                "retries": sum(x["retries"] for x in res),
                                "client_cpu_s": sum(x["cpu_s"] for x in res)}
        if results:
            first = min(r["t_post"] for r in results)
            last = max(r["t_end"] for r in results)
            self.results["conc"]["secs"] = last - first
            log(f"{self.where}: concurrent: {len(results)}/{len(self.conc_pairs)} calls "
                f"completed in {last - first:.2f}s ({len(results) / (last - first):.0f} "
                f"calls/s), {len(errors)} failed, {self.results['conc']['retries']} requests "
                f"sent again after a 503; server CPU {'/'.join(f'{c:.0f}' for c in cpu)}%")
        if errors:
            raise BenchError(f"{self.where}: {len(errors)} of {len(self.conc_pairs)} concurrent "
                             f"calls failed, e.g. {errors[:3]}")


class One(Calls):
    """One Front End holding every application."""
    where = "one Front End"

    def __init__(self, a):
        self.a = a
        self.tokens = {}
        self.results = {}
        self.warnings = []
        self.status = []

    def plan(self):
        a = self.a
        self.plan_users()
        self.servers = self.servers_for(a.n + 2 * a.pairs + 2 * a.concurrent)
        self.store_apps = self.n_users + 64

    def port_of(self, i):
        return self.port

    def pids(self):
        return [self.fe.proc.pid]

    def create_apps(self, idxs, modalities, tag):
        bases = self.client.create_apps([user(i) for i in idxs], modalities, tag)
        return dict(zip(idxs, bases))

    def setup(self):
        a = self.a
        self.client = bu.SetupClient(self.port, self.host, self.tokens, a.setup_concurrency,
                                     "bench_calls")
        self.client.get_tokens([user(i) for i in range(1, self.n_users + 1)], log)
        t0 = time.time()
        self.bases = self.create_apps(self.lurkers, ["Audio"], "ch")
        parties = self.parties()
        self.bases.update(self.create_apps(parties, ["Audio", "Video"], "call"))
        log(f"{len(self.bases)} applications created and available in {time.time() - t0:.1f}s "
            f"({self.n} lurkers with Audio, {len(parties)} call parties with Audio and Video)")
        time.sleep(MEDIUM + 0.5)
        t0 = time.time()
        every = self.lurkers + parties
        resps = self.client.call_all([("GET", f"{self.bases[i]}/events?ack=1&timeout="
                                       f"{PARK_TIMEOUT}&medium={MEDIUM}", user(i), None)
                                      for i in every], 200, "first events")
        self.acks = {i: uc.next_ack(r.json(), self.bases[i]) for i, r in zip(every, resps)}
        log(f"drained the first package of {len(every)} channels in {time.time() - t0:.1f}s")
        self.shards = bu.user_shards(self.port, self.host, self.lurkers, a.shard_size,
                                     self.bases, self.tokens, self.acks)

    def park(self):
        a = self.a
        t0 = time.time()
        self.shards.all("park", [(part, a.connect_concurrency)
                                 for part in self.shards.split(self.lurkers)])
        bu.wait_parked(self.ctl, self.shards, self.n, a.park_timeout)
        dt = time.time() - t0
        self.results["park_s"] = dt
        self.results["cpu_parked"] = [bu.cpu_percent(self.fe.proc.pid, a.hold)]
        log(f"{self.n} parked in {dt:.1f}s; server CPU {self.results['cpu_parked'][0]:.1f}% "
            f"over {a.hold}s")

    def go(self):
        a = self.a
        self.plan()
        self.tmp = Path(tempfile.mkdtemp(prefix="mobility-bench-calls-"))
        self.tmp.chmod(0o755)
        self.fe = None
        self.shards = None
        try:
            topo = mobility.Topology(offset=mobility.free_offset())
            state = mobility.make_state(self.tmp / "state", topo)
            mobility.add_generated_users(state, self.n_users)
            self.static = self.tmp / "static"
            self.static.mkdir()
            self.static.chmod(0o755)
            (self.static / "small.txt").write_bytes(b"x" * 256)
            (self.static / "small.txt").chmod(0o644)
            extra = bu.fe_config(self.static, self.store_apps, 0) + "\n" + self.calls_conf()
            self.fe = mobility.front_end(self.tmp / "fe", state, topo, extra=extra,
                                         mpm="event", servers=self.servers,
                                         threads=a.threads_per_child, log_level=a.log_level)
            log(f"starting the Front End: event MPM, {self.servers} x {a.threads_per_child} "
                f"threads, UcwaMaxApplications {self.store_apps}, UcwaMaxCalls {self.max_calls}")
            self.fe.start(timeout=120)
            self.port, self.host = topo.fe_http, topo.pool
            self.ctl = bu.Control(self.port, self.host)
            want = self.servers * a.threads_per_child
            deadline = time.time() + 180
            while bu.mem_snapshot(self.fe.proc.pid)["threads"] < want:
                if time.time() > deadline:
                    raise BenchError(f"the Front End does not run its {want} threads")
                time.sleep(0.5)
            self.setup()
            self.results["wrk_idle"] = bu.run_wrk(self.port, self.host, a, "nothing parked", log)
            self.park()
            self.sequential()
            self.concurrent()
            self.results["wrk_parked"] = bu.run_wrk(self.port, self.host, a,
                                                    f"{self.n} parked", log)
            self.status = [("store", self.ctl.status())]
            errors, self.warnings = bu.error_log_problems(self.fe)
            if errors:
                raise BenchError("the Front End logged errors:\n" + "\n".join(errors[:20]))
            return self
        finally:
            if self.shards:
                self.shards.close()
            if self.fe and self.fe.proc:
                self.fe.stop()
            if a.keep:
                print(f"bench_calls: kept {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


class Across(bench_pool.Pool, Calls):
    """Two Front Ends of a pool (bench_pool's, on a private PostgreSQL): the N channels
    half on each, every caller's application on FE1 and every callee's on FE2."""
    where = "across Front Ends"
    agent = "bench_calls"

    def __init__(self, a):
        super().__init__(a)
        self.warnings = []
        self.status = []

    def plan(self):
        a = self.a
        self.plan_users()
        # FE1: half the channels and the callers; FE2: the other half and the callees
        per_fe = a.n - a.n // 2 + a.pairs + a.concurrent
        self.servers = self.servers_for(per_fe)
        self.store_apps = per_fe + 64
        self.conf_more = self.calls_conf()
        self.callers = {c for c, _ in self.seq_pairs + self.conc_pairs}

    def port_of(self, i):
        return self.fes[0 if i in self.callers else 1].port

    def pids(self):
        return [fe.pid for fe in self.fes]

    def setup(self):
        fe1, fe2 = self.fes
        self.host = fe1.host
        self.spread_channels()
        t0 = time.time()
        parties = self.parties()
        on = [[i for i in parties if i in self.callers],
              [i for i in parties if i not in self.callers]]
        for fe, idxs in zip(self.fes, on):
            bases = self.client(fe).create_apps([user(i) for i in idxs], ["Audio", "Video"],
                                                "call")
            self.bases.update(zip(idxs, bases))
        log(f"{self.where}: {len(parties)} call parties with Audio and Video in "
            f"{time.time() - t0:.1f}s (callers on FE1, callees on FE2)")
        time.sleep(MEDIUM + 0.5)
        t0 = time.time()
        self.acks = {}
        for fe, idxs in zip(self.fes, on):
            self.drain_first(fe, fe.idxs + idxs)
        log(f"{self.where}: drained the first package of {len(self.acks)} channels in "
            f"{time.time() - t0:.1f}s")
        self.make_shards()

    def park(self):
        a = self.a
        dt = self.park_channels()
        self.results["park_s"] = dt
        self.results["cpu_parked"] = [bu.cpu_percent(fe.pid, a.hold) for fe in self.fes]
        log(f"{self.where}: {self.n} parked in {dt:.1f}s (half on each); server CPU "
            f"{'/'.join(f'{c:.1f}' for c in self.results['cpu_parked'])}% over {a.hold}s")

    def go(self):
        a = self.a
        self.plan()
        self.make_tmp()
        try:
            self.start_pool()
            self.setup()
            fe1 = self.fes[0]
            self.results["wrk_idle"] = bu.run_wrk(fe1.port, fe1.host, a, "FE1, nothing parked",
                                                  log)
            self.park()
            self.sequential()
            self.concurrent()
            self.results["wrk_parked"] = bu.run_wrk(fe1.port, fe1.host, a,
                                                    f"FE1, {self.n} parked in the pool", log)
            for fe in self.fes:
                self.status.append((f"{fe.name} store", fe.ctl.status()))
                self.check_log(fe)
            return self
        finally:
            self.stop_pool()


# --- the report ---------------------------------------------------------------------

def report(a, runs):
    """runs: One and/or Across, measured; their figures side by side."""
    r0 = runs[0]
    t = a.threads_per_child
    cap = t - 64 if t > 256 else t * 3 // 4      # the module's default (directives.md)
    print()
    print("Machine")
    print(f"  nproc              {len(os.sched_getaffinity(0))}")
    for run in runs:
        kind = ("" if isinstance(run, One) else
                f"two Front Ends of a pool (fe1, fe2; PostgreSQL {run.pg_version} on a Unix "
                f"socket, synchronous_commit {a.synchronous_commit}, max_connections "
                f"{run.pg_max_conns}), each: ")
        print(f"  {run.where:<19}{kind}event MPM, {run.servers} children x {t} threads "
              f"(sized for a cap of 3/4 of them), UcwaMaxParkedPerChild default ({cap}), "
              f"UcwaMaxApplications {run.store_apps}, UcwaMaxCalls {run.max_calls}")
    print(f"  both               UcwaEventSize default (4096), mod_status loaded, ExtendedStatus "
          f"{a.extended_status}; plain HTTP, internal site, LogLevel {a.log_level}")
    print(f"  source             {bu.sh('git', '-C', str(HERE.parent), 'describe', '--always', '--dirty')}")
    print()
    for run in runs:
        r = run.results
        where = ("" if isinstance(run, One) else
                 ", half on each Front End; callers' applications on FE1, callees' on FE2")
        print(f"Parked ({run.where}): {run.n} event channels, each its own user and "
              f"application (available with Audio, never called){where}, parked in "
              f"{r['park_s']:.1f}s; server CPU {'/'.join(f'{c:.1f}' for c in r['cpu_parked'])}"
              f"% of one CPU while they wait")
    print()
    n_seq = len(r0.results["seq"])
    print(f"Call setup, one call at a time ({n_seq} calls over {a.pairs} pairs, both event "
          f"requests parked before each POST), with {a.n} parked; ms")
    cols = "".join(f" | {run.where:^23}" for run in runs)
    sub = "".join(f" | {'p50':>7} {'p99':>7} {'max':>7}" for _ in runs)
    print(f"{'':<30} {'calls':>5} {'':<44}{cols}")
    head = f"{'offer':<30} {'':>5} {'what':<44}{sub}  target p99 < 20"
    print(head)
    print("-" * len(head))
    for video in (False, True):
        per = [[x for x in run.results["seq"] if x["video"] == video] for run in runs]
        if not per[0]:
            continue
        ol = len(sdp("offer-100000", video))
        label = (f"audio+video, {ol} B SDP body" if video
                 else f"audio, {ol} B (JSON data URI)")
        rows = [("ring: POST -> callee's invitation event", "ring", True),
                ("  + GET of the invitation if link-only", "offer", False),
                ("answer: acceptWithAnswer -> caller's event", "answer", True),
                ("  + GET of the negotiation if link-only", "answer_hand", False),
                ("POST audioVideoInvitations answered", "post", False),
                ("setup: POST -> caller's negotiation event", "setup", False)]
        for what, key, target in rows:
            line = f"{label:<30} {len(per[0]):>5} {what:<44}"
            met = []
            for rs in per:
                v = sorted(x[key] * 1000 for x in rs)
                line += f" | {pct(v, 50):>7.2f} {pct(v, 99):>7.2f} {v[-1]:>7.2f}"
                met.append("met" if pct(v, 99) < 20 else "MISSED")
            print(line + (f"  {'/'.join(met)}" if target else ""))
            label = ""
        links = "; ".join(f"{run.where}: invitation {sum(x['ring_link'] for x in rs)}/{len(rs)}"
                          f", negotiation {sum(x['neg_link'] for x in rs)}/{len(rs)}"
                          for run, rs in zip(runs, per))
        print(f"{'':<30} link-only events (body over the 4 KiB slot): {links}")
    print("  times: kernel receive time (SO_TIMESTAMPNS) of the event response - "
          "time.time() before the POST; 'in hand' = when the client holds the SDP. "
          "Hang-up between calls; every event checked (sequence, once, SDP byte for "
          "byte); event request bounces "
          + ", ".join(f"{run.where} {run.results['seq_bounces']}" for run in runs)
          + "; requests sent again after a 503 with Retry-After "
          + ", ".join(f"{run.where} {run.results['seq_retries']}" for run in runs))
    if len(runs) == 1:
        print("  across two Front Ends of a pool: with --pool (root, PostgreSQL)"
              if isinstance(r0, One) else "  one Front End: not run (--no-single)")
    print()
    print(f"Concurrent calls: {a.concurrent} calls between {a.concurrent} caller/callee pairs "
          f"of their own, started at once from {a.workers} client processes (1 in "
          f"{a.video_every} with video), with {a.n} parked")
    for run in runs:
        c = run.results["conc"]
        res = c["results"]
        secs = c.get("secs", float("nan"))
        setup = sorted(x["setup"] * 1000 for x in res)
        ring = sorted(x["ring"] * 1000 for x in res)
        ans = sorted(x["answer"] * 1000 for x in res)
        print(f"  {run.where}")
        print(f"    completed      {len(res)}/{a.concurrent} (each side's events exactly the "
              f"documented sequence, each once; offer and answer byte for byte)")
        print(f"    wall time      {secs:.2f} s from the first POST to the last "
              f"'conversation deleted': {len(res) / secs:.0f} calls/s (offer, ring, answer, "
              f"negotiation, hang-up; {(len(CALLER) + len(CALLEE))} events and 4-6 requests "
              f"each)")
        print(f"    per call, ms   setup (POST -> negotiation) p50 {pct(setup, 50):.0f} p99 "
              f"{pct(setup, 99):.0f} max {setup[-1]:.0f}; ring p50 {pct(ring, 50):.0f} p99 "
              f"{pct(ring, 99):.0f}; answer p50 {pct(ans, 50):.0f} p99 {pct(ans, 99):.0f}")
        print(f"    CPU            server {'/'.join(f'{x:.0f}' for x in c['cpu'])}% of one CPU "
              f"over the phase; the client processes {c['client_cpu_s']:.2f} CPU-seconds in "
              f"all ({len(os.sched_getaffinity(0))} CPUs shared); event request bounces "
              f"{c['bounces']}")
        print(f"    503s           {c['retries']} requests answered 503 ServiceUnavailable "
              f"with Retry-After (a Front End's outbox to the pool full, UCWA_POOL_OUTBOX: "
              f"nothing done), sent again after it as a client does; their calls' times "
              f"include the wait")
    print()
    print(f"Static file baseline (wrk -t{a.wrk_threads} -c{a.wrk_connections} -d{a.duration}s, "
          f"256 B, same server and port)")
    for run in runs:
        wi, wp = run.results["wrk_idle"], run.results["wrk_parked"]
        on = "" if isinstance(run, One) else " (on FE1)"
        print(f"  {run.where + on:<27} {wi['rps']:.0f} req/s p99 {wi['p99_us'] / 1000:.2f} ms "
              f"with nothing parked; {wp['rps']:.0f} req/s p99 {wp['p99_us'] / 1000:.2f} ms "
              f"with {a.n} parked (after the calls)")
    print()
    for run in runs:
        for name, st in run.status:
            print(f"{run.where}, {name} at the end: {json.dumps(st)}")
        if run.warnings:
            print(f"note ({run.where}): {len(run.warnings)} warning(s) in the Front End log, "
                  f"e.g.\n  " + "\n  ".join(run.warnings[:5]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="N=1000, 100 sequential calls, 200 concurrent, short wrk")
    ap.add_argument("--n", type=int, default=None,
                    help="parked channels (6660; --quick 1000); in a pool half on each")
    ap.add_argument("--pairs", type=int, default=8, help="pairs of the sequential calls (8)")
    ap.add_argument("--samples", type=int, default=None,
                    help="sequential calls measured, half audio, half video (400; --quick 100)")
    ap.add_argument("--warmup", type=int, default=16)
    ap.add_argument("--concurrent", type=int, default=None,
                    help="calls at once, each between its own pair (1000; --quick 200)")
    ap.add_argument("--video-every", type=int, default=2,
                    help="one concurrent call in this many has video (2)")
    ap.add_argument("--workers", type=int, default=2,
                    help="client processes of the concurrent calls (2)")
    ap.add_argument("--threads-per-child", type=int, default=1000)
    ap.add_argument("--extended-status", choices=("on", "off"), default="on",
                    help="mod_status's ExtendedStatus (on: its default with mod_status "
                         "loaded, as Debian ships it; every request then calls times(), "
                         "whose cost grows with the threads of the child)")
    ap.add_argument("--hold", type=float, default=None, help="CPU sample seconds (10; --quick 3)")
    ap.add_argument("--duration", type=int, default=None, help="seconds of wrk (10; --quick 3)")
    ap.add_argument("--pool", action="store_true",
                    help="also across two Front Ends of a pool (root: a private PostgreSQL, "
                         "as bench_pool.py): callers on FE1, callees on FE2")
    ap.add_argument("--no-single", action="store_true",
                    help="skip the one-Front-End run (with --pool)")
    bench_pool.add_database_args(ap)
    bu.add_client_args(ap)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    q = a.quick
    a.n = a.n if a.n is not None else (1000 if q else bu.SKYPE_USERS_PER_FE)
    a.samples = a.samples if a.samples is not None else (100 if q else 400)
    a.concurrent = a.concurrent if a.concurrent is not None else (200 if q else 1000)
    a.hold = a.hold if a.hold is not None else (3 if q else 10)
    a.duration = a.duration if a.duration is not None else (3 if q else 10)
    if a.pairs < 1 or a.samples < 1 or a.concurrent < 1 or a.n < 2:
        sys.exit("bench_calls: --pairs, --samples and --concurrent must be 1 at least, "
                 "--n 2")
    if a.no_single and not a.pool:
        sys.exit("bench_calls: --no-single leaves nothing to run without --pool")
    if a.pool:
        why = bench_pool.cannot_run()
        if why:
            sys.exit(f"bench_calls: --pool: {why}")
    if not shutil.which("wrk"):
        sys.exit("bench_calls: wrk is missing (apt-get install -y wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs = []
    try:
        if not a.no_single:
            runs.append(One(a).go())
        if a.pool:
            runs.append(Across(a).go())
    except BenchError as e:
        print(f"bench_calls: FAILED: {e}", file=sys.stderr)
        return 1
    report(a, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
