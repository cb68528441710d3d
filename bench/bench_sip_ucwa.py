"""bench_sip.py's ucwa phase: calls from UCWA applications through ucwa-sipd, Kamailio
and rtpengine to a SIPp gateway (see bench_sip.py's docstring). run(args) -> ok."""
import concurrent.futures as cf
import os
import re
import selectors
import shutil
import socket
import sqlite3
import statistics
import struct
import tempfile
import time
from pathlib import Path

import kamailio
import mobility
from sip_side import SipSide
from ucwa_call import CallApp
from ucwa_client import FAST, start_fe, state_with_tags, stop_fe

VOICE_SQL = r"""
INSERT INTO ucwa_dial_plans (identity) VALUES ('Global');
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Local', 1, '^\+1555\d{7}$', 'Local', '1', NULL);
"""
USER = "user{:05d}@contoso.test"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(name, ms):
    if not ms:
        return f"  {name:40} no samples"
    return (f"  {name:40} p50 {statistics.median(ms):7.1f} ms  p95 {pct(ms, 95):7.1f} ms  "
            f"p99 {pct(ms, 99):7.1f} ms  max {max(ms):7.1f} ms  ({len(ms)} calls)")


def offer(port, n):
    return (f"v=0\r\no=- {n} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def media_address(sdp):
    c = re.search(r"^c=IN IP4 (\S+)", sdp, re.M).group(1)
    port = int(re.search(r"^m=audio (\d+)", sdp, re.M).group(1))
    return c, port


class Leg:
    """The app side of one call's media: a UDP socket, PCMU every 20 ms to rtpengine."""

    def __init__(self, n):
        self.n = n
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.peer = None
        self.sent = self.got = self.seq = 0

    def packet(self):
        self.seq += 1
        return struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.seq * 160,
                           0x1000 + self.n) + b"\xff" * 160


def pump_media(legs, seconds):
    """Every leg sends 50 packets a second (each at its own offset in the 20 ms) for
    `seconds`; what comes back is counted until a second after the last send."""
    sel = selectors.DefaultSelector()
    for leg in legs:
        sel.register(leg.sock, selectors.EVENT_READ, leg)
    start = time.monotonic()
    end = start + seconds
    due = [(start + 0.02 * i / len(legs), leg) for i, leg in enumerate(legs)]
    while True:
        now = time.monotonic()
        if now > end + 1.0:
            break
        for i, (t, leg) in enumerate(due):
            if t <= now and t < end:
                leg.sock.sendto(leg.packet(), leg.peer)
                leg.sent += 1
                due[i] = (t + 0.02, leg)
        nxt = min((t for t, _ in due if t < end), default=end + 1.0)
        for key, _ in sel.select(max(0.0, min(0.005, nxt - time.monotonic()))):
            try:
                while True:
                    key.fileobj.recv(2048)
                    key.data.got += 1
            except BlockingIOError:
                pass
    sel.close()


def prepare(root, n):
    """The demo state with n generated users and a voice policy routing +1555xxxxxxx to
    gateway set 1 (the tables come from a first start of the module)."""
    topo = mobility.Topology(offset=mobility.free_offset(start=30000))
    base = mobility.make_state(root / "state", topo)
    st = state_with_tags(root, base, "state-sip", {USER.format(i): None for i in range(1, n + 1)})
    stop_fe(start_fe(root, st, "sip-fe-0"))
    con = sqlite3.connect(st / "directory.db")
    con.executescript(VOICE_SQL)
    con.commit()
    con.close()
    return st


def resolve_demo_names():
    hosts = mobility.Topology().hosts()
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kw):
        if isinstance(host, str) and host.lower() in hosts:
            host = hosts[host.lower()]
        return real(host, *args, **kw)
    socket.getaddrinfo = getaddrinfo


def run(a):
    n = a.users or (20 if a.quick else 100)
    pdd_calls = a.pdd if not a.quick else min(a.pdd, 20)
    resolve_demo_names()
    root = Path(tempfile.mkdtemp(prefix="bench-sip-ucwa-"))
    root.chmod(0o755)
    ok = True
    side = fe = None
    try:
        st = prepare(root, n)
        offset = kamailio.free_sip_offset(list(SipSide.BASES) + [5088, 5089]
                                          + list(range(30200, 31200, 100)), start=20000)
        # gateway set 1: SipSide's SIPp gateway, which rings 500 ms, answers, echoes the
        # media and waits for the BYE
        side = SipSide(root / "side", host="127.0.0.1", offset=offset, ucwa=["127.0.0.1"])
        lo = side.rtp.rtp_ports[0]
        side.rtp.rtp_ports = (lo, lo + max(200, 8 * n + 100))   # 4 ports a leg, 2 legs a call
        side.start()
        gw = side.gw
        extra = "\n".join([FAST, "UcwaMaxCalls 2000", "UcwaSip On",
                           "UcwaSipListenAddress 127.0.0.1",
                           f"UcwaSipExternalListeningPort {5088 + offset}",
                           f"UcwaSipPrimaryListeningPort {5089 + offset}",
                           f"UcwaSipProxy {side.kam.host}:{side.kam.port}",
                           f"UcwaRtpengine {side.rtp.host}:{side.rtp.ng_port}"])
        fe = start_fe(root, st, "sip-fe", extra=extra, servers=2, threads=200)
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(16) as ex:
            apps = list(ex.map(lambda i: CallApp.signed_in(fe.user(USER.format(i))),
                               range(1, n + 1)))
        print(f"UCWA -> SIP: {n} applications signed in ({time.monotonic() - t0:.1f} s), "
              f"Kamailio {side.kam.port}, rtpengine NG {side.rtp.ng_port}")
        number = iter(range(1000000, 9999999))

        def one_call(app, idle):
            """A call to a new number: (post-dial delay, answer -> Connected) in ms."""
            num = f"+1555{next(number)}"
            leg = Leg(0)
            if idle:
                time.sleep(1.2)
            sent = time.time()
            call = app.call(f"tel:{num}", offer(leg.port, 0))
            call.answered(timeout=15)
            call.connected(timeout=15)
            connected = time.time()
            call.hang_up()
            call.ended()
            leg.sock.close()
            inv = [m for m in gw.messages() if m.method == "INVITE" and m.user == num]
            ok200 = [m for m in gw.messages(received=False)
                     if m.status == 200 and m.cseq_method == "INVITE"
                     and inv and m.header("Call-ID") == inv[0].header("Call-ID")]
            if not inv or not ok200:
                return None
            return 1000 * (inv[0].time - sent), 1000 * (connected - ok200[0].time)

        for idle in (False, True):
            got = [one_call(apps[i % n], idle) for i in range(pdd_calls)]
            done = [g for g in got if g]
            ok &= len(done) == pdd_calls
            what = "each after an idle 1.2 s" if idle else "back to back"
            print(f"post-dial delay, {what}: {len(done)}/{pdd_calls} calls")
            print(line("POST -> INVITE at the gateway", [g[0] for g in done]))
            print(line("gateway's 200 -> app's Connected", [g[1] for g in done]))

        # n calls at once, with media
        legs = [Leg(i) for i in range(n)]

        def start(i):
            call = apps[i].call(f"tel:+1555{2000000 + i}", offer(legs[i].port, i))
            try:
                answer = call.answered(timeout=30).decode()
            except AssertionError:
                done = [e for e in apps[i].queue + apps[i].seen
                        if e.rel == "audioVideoInvitation" and e.type == "completed"]
                failures.append(done[-1].get("reason") if done else "no answer")
                return None
            legs[i].peer = media_address(answer)
            call.connected(timeout=30)
            return call
        failures = []
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(n) as ex:
            calls = list(ex.map(start, range(n)))
        setup = time.monotonic() - t0
        legs = [leg for leg, c in zip(legs, calls) if c]
        calls = [c for c in calls if c]
        ids = side.rtp.command({"command": "list", "limit": 10 * n}).get("calls", [])
        print(f"concurrent: {len(calls)}/{n} calls up in {setup:.1f} s; rtpengine holds "
              f"{len(ids)}" + (f"; failed: {failures}" if failures else ""))
        ok &= not failures
        before = {c: side.rtp.query(c) for c in ids}
        pump_media(legs, a.seconds)
        after = {c: side.rtp.query(c) for c in ids}
        sent = sum(leg.sent for leg in legs)
        got = sum(leg.got for leg in legs)
        lossy = [leg.n for leg in legs if leg.got < leg.sent]
        per_leg = []
        for c in ids:
            for tag, counters in after[c].items():
                per_leg.append(counters["packets"] - before[c].get(tag, {}).get("packets", 0))
        print(f"  app side: {sent} packets sent, {got} echoed back "
              f"({sent - got} lost; calls with a loss: {len(lossy)})")
        print(f"  rtpengine: {len(per_leg)} legs ({len(ids)} calls x 2), packets received "
              f"per leg over the run: min {min(per_leg, default=0)}, "
              f"max {max(per_leg, default=0)} (each call's app leg and gateway leg "
              f"carry the same stream: {int(a.seconds * 50)} expected)")
        # the app's packets reach rtpengine on the app leg, their echo on the gateway leg
        print(f"  rtpengine: {sum(per_leg)} packets in on both legs, 2 x {sent} sent: "
              + ("no loss" if sum(per_leg) == 2 * sent else f"{2 * sent - sum(per_leg)} lost"))
        ok &= len(ids) == n and len(per_leg) == 2 * n and sum(per_leg) == 2 * sent == 2 * got
        with cf.ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda c: (c.hang_up(), c.ended()), calls))
        for leg in legs:
            leg.sock.close()
    finally:
        if fe:
            fe.apache.stop()
        if side:
            side.stop()
        if not os.environ.get("KEEP_TEST_STATE"):
            shutil.rmtree(root, ignore_errors=True)
    return ok

