#!/usr/bin/python3
"""Devices that follow UCWA from sign-in, one every --ramp seconds, and what a full child costs their
messages: bounces counted, instant-message latency p50/p99/max beside a static file's.

bench_ucwa.py times messages between channels that are already parked; a real device
signs in, creates its application, makes itself available and polls, and when the child
that took its poll will not park it, it pays for that: a 503 costs it its Retry-After
(then a new connection), a poll sent on to another child (an empty package with
Connection: close) costs it a new TLS connection. Here N devices (one generated user
each, user00001@contoso.test ...) do exactly that against a private Front End, over
HTTPS on the internal site, each on two connections of its own (one for its event
channel, one for its requests):

  sign in     POST /WebTicket/oauthtoken, GET the user resource, POST applications,
              POST makeMeAvailable (Messaging); then the event channel: GET events,
              follow next at once after every package; after a 503 or 429 wait the
              Retry-After, on a new connection
  im          devices pair up (1 with 2, 3 with 4, ...); as soon as both of a pair have
              polled once, the first invites the second (the second accepts from its
              invitation event), then sends --messages messages, one every --interval
              seconds, each timed from just before its POST to the recipient's event
              response that carries it. Messages start while other devices still sign
              in and park: a bounced recipient delays them
  static      meanwhile a small static file is fetched on a kept-alive connection every
              20 ms: the server's latency with nothing of UCWA in the path

Sizing: --sizing demo is the demo as ./apxs-build.sh run starts it (2 children x 25
threads, the module's default cap; --threads makes its children bigger); --sizing devices is what DEMO_DEVICES=N gives
(mobility.sizing_for: conf.d/mpm-mobility.conf's profiles, ListenCoresBucketsRatio 1).

  python3 bench/bench_devices.py --devices 30 [--sizing demo|devices] [--messages 30]
"""
import argparse
import http.client
import json
import re
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "lib"))
import mobility  # noqa: E402

ROOT = "/Autodiscover/AutodiscoverService.svc/root"
TOKEN_RE = re.compile(r"imq(\d+)x(\d+)z")


def pct(vals, p):
    if not vals:
        return float("nan")
    s = sorted(vals)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


class Http:
    """One kept-alive HTTPS connection of a device; reopened after Connection: close."""

    def __init__(self, host, port, ctx, token=None):
        self.host, self.port, self.ctx, self.token = host, port, ctx, token
        self.conn = None
        self.opened = 0

    def request(self, method, path, body=None, ctype="application/json", timeout=60):
        """As browsers do, a request on a kept-alive connection that the server closed
        meanwhile (KeepAliveTimeout) is sent once more on a new one."""
        reused = self.conn is not None
        try:
            return self._request(method, path, body, ctype, timeout)
        except (ssl.SSLEOFError, http.client.RemoteDisconnected, ConnectionResetError,
                BrokenPipeError):
            if not reused:
                raise
            return self._request(method, path, body, ctype, timeout)

    def _request(self, method, path, body, ctype, timeout):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                    timeout=timeout)
            self.opened += 1
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            h["Content-Type"] = ctype
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        return r.status, r.headers, data

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


class Device(threading.Thread):
    def __init__(self, bench, idx):
        super().__init__(daemon=True)
        self.b, self.idx = bench, idx
        self.user = mobility.GENERATED_USER.format(idx + 1)
        self.bounces = self.refused = self.sent_on = self.polls = 0
        self.error = None
        self.base = None
        self.ready = threading.Event()       # its first poll is out
        self.accepted = threading.Event()    # (recipient) it accepted the invitation
        self.conversation = None
        self.t_parked = None
        self.stop = False

    def run(self):
        try:
            self.sign_in()
            self.events()
        except Exception as e:  # noqa: BLE001 - reported in the summary
            self.error = f"{self.user}: {type(e).__name__}: {e}"
            self.ready.set()

    def sign_in(self):
        b = self.b
        t0 = time.monotonic()
        disc = Http(b.topo.lyncdiscoverinternal, b.topo.fe_https, b.ctx)
        st, _, data = disc.request("POST", "/WebTicket/oauthtoken",
                                   urlencode({"grant_type": "password", "username": self.user,
                                              "password": mobility.DEMO_PASSWORD}),
                                   ctype="application/x-www-form-urlencoded")
        assert st == 200, (st, data[:200])
        token = json.loads(data)["access_token"]
        disc.token = token
        st, _, data = disc.request("GET", ROOT + "/oauth/user")
        assert st == 200, (st, data[:200])
        apps = urlsplit(json.loads(data)["_links"]["applications"]["href"]).path
        disc.close()
        self.ctl = Http(b.topo.pool, b.topo.fe_https, b.ctx, token)
        self.ev = Http(b.topo.pool, b.topo.fe_https, b.ctx, token)
        st, _, data = self.ctl.request("POST", apps, {"userAgent": "bench_devices/1.0",
                                                      "endpointId": f"dev-{self.idx}",
                                                      "culture": "en-US"})
        assert st == 201, (st, data[:200])
        doc = json.loads(data)
        self.base = doc["_links"]["self"]["href"]
        self.href = doc["_links"]["events"]["href"]
        st, _, data = self.ctl.request("POST", self.base + "/me/makeMeAvailable",
                                       {"SupportedModalities": ["Messaging"]})
        assert st == 204, (st, data[:200])
        self.t_signed_in = time.monotonic() - t0

    def events(self):
        b = self.b
        while not self.stop:
            self.ready.set()
            t0 = time.monotonic()
            st, headers, data = self.ev.request("GET", self.href, timeout=b.args.timeout + 30)
            t1 = time.monotonic()
            self.polls += 1
            if st in (503, 429):
                if st == 503:
                    self.bounces += 1
                else:
                    self.refused += 1
                self.ev.close()
                time.sleep(int(headers.get("Retry-After") or 1))
                continue
            if st in (404, 410) and self.stop:
                return
            assert st == 200, (st, data[:200])
            pkg = json.loads(data)
            self.href = (pkg["_links"].get("next") or pkg["_links"]["resync"])["href"]
            if not pkg.get("sender") and t1 - t0 < b.args.timeout - 1:
                if (headers.get("Connection") or "").lower() == "close":
                    self.sent_on += 1
            if self.t_parked is None and t1 - t0 > 1:
                self.t_parked = t0 - b.t_start
            text = data.decode("utf-8", "replace")
            for k, seq in TOKEN_RE.findall(text):
                b.delivered(int(k), int(seq), t1)
            self.on_events(pkg)

    def on_events(self, pkg):
        for sender in pkg.get("sender", []):
            for ev in sender.get("events", []):
                inv = ev.get("_embedded", {}).get("messagingInvitation")
                if (inv and ev.get("type") == "started"
                        and inv.get("direction") != "Outgoing"
                        and "accept" in inv.get("_links", {})):
                    st, _, data = self.ctl.request("POST", inv["_links"]["accept"]["href"], {})
                    assert st == 204, (st, data[:200])
                    self.accepted.set()


class Bench:
    def __init__(self, args):
        self.args = args
        self.sent = {}           # (pair, seq) -> monotonic time before the POST
        self.lat = {}            # (pair, seq) -> ms
        self.lock = threading.Lock()
        self.static_ms = []
        self.done = threading.Event()

    def delivered(self, k, seq, t):
        with self.lock:
            if (k, seq) in self.sent and (k, seq) not in self.lat:
                self.lat[(k, seq)] = (t - self.sent[(k, seq)]) * 1000

    def pair(self, k, a, r):
        try:
            a.ready.wait(120)
            r.ready.wait(120)
            if a.error or r.error:
                return
            st, _, data = a.ctl.request("POST", a.base + "/communication/messagingInvitations",
                                        {"to": "sip:" + r.user, "subject": f"pair {k}",
                                         "operationId": f"bench-{k}"})
            assert st == 201, (st, data[:200])
            assert r.accepted.wait(60), f"pair {k}: the invitation was not accepted"
            conv = None
            for _ in range(100):
                st, _, data = a.ctl.request("GET", a.base + "/communication/conversations")
                convs = json.loads(data)["_links"].get("conversation", []) if st == 200 else []
                if convs:
                    conv = convs[0]["href"]
                    break
                time.sleep(0.05)
            assert conv, f"pair {k}: no conversation"
            for seq in range(1, self.args.messages + 1):
                with self.lock:
                    self.sent[(k, seq)] = time.monotonic()
                st, _, data = a.ctl.request("POST", conv + "/messaging/messages",
                                            f"imq{k}x{seq}z", ctype="text/plain")
                assert st == 201, (st, data[:200])
                time.sleep(self.args.interval)
        except Exception as e:  # noqa: BLE001 - reported in the summary
            a.error = a.error or f"pair {k}: {type(e).__name__}: {e}"

    def static(self):
        h = Http(self.topo.pool, self.topo.fe_https, self.ctx)
        while not self.done.is_set():
            t0 = time.monotonic()
            st, _, _ = h.request("GET", "/bench-static/f.txt")
            if st == 200:
                self.static_ms.append((time.monotonic() - t0) * 1000)
            time.sleep(0.02)

    def run(self):
        a = self.args
        work = Path(tempfile.mkdtemp(prefix="bench-devices-"))
        work.chmod(0o755)
        self.topo = topo = mobility.Topology(offset=mobility.free_offset(start=40000))
        hosts = topo.hosts()
        real = socket.getaddrinfo
        socket.getaddrinfo = lambda h, *x, **k: real(hosts.get(h.lower(), h)
                                                     if isinstance(h, str) else h, *x, **k)
        state = mobility.make_state(work / "state", topo)
        mobility.add_generated_users(state, a.devices)
        static = work / "static"
        static.mkdir()
        (static / "f.txt").write_text("x" * 1024)
        static.chmod(0o755)
        extra = [f'Alias /bench-static "{static}"', f'<Directory "{static}">',
                 "    Require all granted", "</Directory>"]
        if a.sizing == "devices":
            sz = mobility.sizing_for(a.devices)
            kw = {"servers": sz.servers, "threads": sz.threads}
            extra.append(sz.extra())
            sizing = (f"DEMO_DEVICES={a.devices}: {sz.servers} x {sz.threads} threads, "
                      f"UcwaMaxParkedPerChild {sz.cap}, ListenCoresBucketsRatio 1")
        else:
            kw = {"threads": a.threads}
            sizing = (f"the demo's: 2 x {a.threads} threads, UcwaMaxParkedPerChild default "
                      f"({a.threads * 3 // 4})")
        fe = mobility.front_end(work / "fe", state, topo, extra="\n".join(extra), **kw)
        self.ctx = ssl.create_default_context(cafile=str(state / "pki" / "ca.crt"))
        fe.start(timeout=120)
        try:
            return self.measure(fe, sizing)
        finally:
            self.done.set()
            fe.stop()
            if not a.keep:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print(f"kept: {work}")

    def measure(self, fe, sizing):
        a = self.args
        status_url = (self.topo.fe_addr, self.topo.fe_http)
        devices = [Device(self, i) for i in range(a.devices)]
        pairs = [threading.Thread(target=self.pair, args=(k, devices[2 * k], devices[2 * k + 1]),
                                  daemon=True) for k in range(a.devices // 2)]
        st_thread = threading.Thread(target=self.static, daemon=True)
        self.t_start = time.monotonic()
        for d in devices:
            d.start()
            time.sleep(a.ramp)
        st_thread.start()
        for p in pairs:
            p.start()
        for p in pairs:
            p.join(a.messages * a.interval + 180)
        # every message had its chance to arrive
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(self.lat) < len(self.sent):
            time.sleep(0.1)
        self.done.set()
        c = http.client.HTTPConnection(*status_url, timeout=10)
        c.request("GET", "/ucwa-status")
        status = json.loads(c.getresponse().read())
        for d in devices:
            d.stop = True
        errors = [d.error for d in devices if d.error]
        lat = list(self.lat.values())
        log = fe.log_text()
        print(f"\nbench_devices: {a.devices} devices, one signing in every {a.ramp} s; sizing "
              f"{sizing}")
        print(f"  parked at the end      {status['parked']} (per child "
              f"{status.get('parkedPerChild', '?')})")
        print(f"  bounces (503)          {sum(d.bounces for d in devices)} "
              f"({sum(1 for d in devices if d.bounces)} devices); UCWA00050 in the log: "
              f"{log.count('UCWA00050')}")
        print(f"  refused (429)          {sum(d.refused for d in devices)}")
        print(f"  sent on (empty 200 + close, new connection) "
              f"{sum(d.sent_on for d in devices)}")
        parked = [d.t_parked for d in devices if d.t_parked is not None]
        if parked:
            print(f"  start to first parked poll: p50 {pct(parked, 50):.2f} s, "
                  f"max {max(parked):.2f} s")
        print(f"  IM  {len(lat)}/{len(self.sent)} delivered: p50 {pct(lat, 50):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms, max {max(lat) if lat else float('nan'):.1f} ms"
              + (f", mean {statistics.mean(lat):.1f} ms" if lat else ""))
        s = self.static_ms
        print(f"  static file ({len(s)} GETs, same server, meanwhile): p50 {pct(s, 50):.1f} ms, "
              f"p99 {pct(s, 99):.1f} ms, max {max(s) if s else float('nan'):.1f} ms")
        for e in errors[:5]:
            print(f"  error: {e}")
        return 1 if errors or len(lat) < len(self.sent) else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=30)
    p.add_argument("--sizing", choices=("demo", "devices"), default="demo")
    p.add_argument("--threads", type=int, default=25,
                   help="--sizing demo: ThreadsPerChild of its 2 children (default 25, the "
                        "demo's; larger runs the demo's shape bigger)")
    p.add_argument("--messages", type=int, default=30, help="per pair (default 30)")
    p.add_argument("--interval", type=float, default=0.2,
                   help="seconds between a pair's messages (default 0.2)")
    p.add_argument("--timeout", type=int, default=180,
                   help="the event requests' timeout, the server's default (180)")
    p.add_argument("--ramp", type=float, default=0.05,
                   help="seconds between two devices' sign-ins (default 0.05)")
    p.add_argument("--keep", action="store_true", help="keep the instance's directory")
    a = p.parse_args()
    if a.devices < 2:
        p.error("--devices: at least 2")
    return Bench(a).run()


if __name__ == "__main__":
    sys.exit(main())
