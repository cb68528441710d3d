"""Chromium's WebRTC as a media stack for the call tests: Browser is one headless Chromium
(Debian's `chromium`, fake camera and microphone, a private profile) showing
test/lib/chromium_call.html, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL on the browser's fds 3 and 4; no port
to find, no websocket library). ChromiumPeer is one call's endpoint on a Browser, with the
interface of webrtc_media.Peer (aiortc) so that the UCWA signalling of a test drives either:

    a, b = Browser("alice"), Browser("bob")          # one per endpoint, for a whole module
    pa, pb = ChromiumPeer(a, tone=660), ChromiumPeer(b, tone=1020)
    pa.accept(pb.answer(pa.offer()))                # the SDP strings the server relays
    assert pa.heard(1020).ok and pb.heard(660).ok
    assert pb.wait_frames(10) and pb.video_codec() == "video/H264"

The page sends a sine tone of the test's choosing as its audio (the other side can tell it
from its own) and the fake camera's video with H.264 first; it reports the strongest
frequency of what it receives (WebAudio AnalyserNode) and getStats' counters.

Run it by hand (no server: two browsers swap SDP directly) to check the stack works:
    /usr/bin/python3 test/lib/chromium_call.py
"""
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from browser import CHROMIUM, FLAGS

PAGE = Path(__file__).resolve().with_name("chromium_call.html")
# A call endpoint on its own: new headless mode, camera and microphone faked and granted,
# autoplay of the remote audio allowed, real host addresses in candidates (not mDNS names:
# the other endpoint is another browser process with no mDNS of its own).
CALL_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required",
              "--disable-features=WebRtcHideLocalIpsWithMdns", "--remote-debugging-pipe"]


class CdpError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with chromium_call.html loaded. js(name, *args) calls one of
    the page's functions and returns its (awaited) JSON value. Quit it at the end."""

    def __init__(self, name="chromium"):
        self.name = name
        self.profile = Path(tempfile.mkdtemp(prefix="mobility-webrtc-"))
        self.console = []          # the page's console lines and uncaught exceptions
        self._id = 0
        self._buf = b""
        to_browser, self._w = os.pipe()
        self._r, from_browser = os.pipe()

        def fds():
            # the browser reads commands on fd 3 and writes answers on fd 4; dup2 leaves
            # both inheritable (every other fd of ours is close-on-exec, the copies too)
            a = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
            b = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
        flags = [("--headless=new" if f == "--headless" else f) for f in FLAGS]
        self.log = self.profile / "chromium.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [CHROMIUM, *flags, *CALL_FLAGS, f"--user-data-dir={self.profile}",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                preexec_fn=fds)
        os.close(to_browser)
        os.close(from_browser)
        try:
            page = next(t for t in self.send("Target.getTargets")["targetInfos"]
                        if t["type"] == "page")
            self.session = self.send("Target.attachToTarget", targetId=page["targetId"],
                                     flatten=True)["sessionId"]
            self.send("Runtime.enable", session=True)
            self.send("Page.enable", session=True)
            self.send("Page.navigate", session=True, url=PAGE.as_uri())
            self._wait_event("Page.loadEventFired")
        except BaseException:
            self.quit()
            raise

    # --- the DevTools protocol -----------------------------------------------------------

    def _read(self, deadline):
        """The next message from the browser."""
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError(f"{self.name}: no answer from Chromium\n" + self.tail())
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise CdpError(f"{self.name}: Chromium went away\n" + self.tail())
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(msg)
        if msg.get("method") == "Runtime.consoleAPICalled":
            p = msg["params"]
            self.console.append(p["type"] + ": " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif msg.get("method") == "Runtime.exceptionThrown":
            self.console.append("exception: " + json.dumps(msg["params"]["exceptionDetails"]))
        return msg

    def _wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while self._read(deadline).get("method") != method:
            pass

    def send(self, method, session=False, timeout=30, **params):
        """One command; its result (raises CdpError on a protocol error)."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise CdpError(f"{self.name}: {method}: {reply['error']}")
                return reply["result"]

    def js(self, fn, *args, timeout=30):
        """The page's fn(*args), awaited; its value (raises CdpError on a JS exception)."""
        expr = f"{fn}({', '.join(json.dumps(a) for a in args)})"
        r = self.send("Runtime.evaluate", session=True, timeout=timeout, expression=expr,
                      awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError(f"{self.name}: {expr[:80]}: "
                           + d.get("exception", {}).get("description", d.get("text", "")))
        return r["result"].get("value")

    def tail(self, n=20):
        try:
            lines = self.log.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            lines = []
        return "\n".join(self.console[-n:] + lines)

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=5)
            except (CdpError, TimeoutError, OSError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


class Tone:
    """What the receiving page found: the strongest frequency of the remote audio and how
    far (dB) it stands above the strongest bin away from it."""

    def __init__(self, freq, found, tolerance, margin_db, floor_db=-70.0):
        self.peak_hz = found["hz"]
        self.margin_db = found["marginDb"]
        self.level_db = found["db"] if found["db"] is not None else float("-inf")
        self.ok = (abs(self.peak_hz - freq) <= max(tolerance, 2 * found["binHz"])
                   and self.margin_db >= margin_db and self.level_db >= floor_db)

    def __str__(self):
        return (f"peak {self.peak_hz:.1f} Hz at {self.level_db:.1f} dBFS, "
                f"{self.margin_db:.1f} dB above the rest")

    __repr__ = __str__


class ChromiumPeer:
    """One call's WebRTC endpoint in a Browser (which it resets: one call at a time per
    Browser). tone: Hz of the sine it sends as audio; video: also send the fake camera
    (H.264 first); ice: RTCIceServer dicts ({"urls", "username", "credential"});
    relay_only: iceTransportPolicy "relay"."""

    def __init__(self, browser, tone=1000, video=True, ice=None, relay_only=False,
                 name=None):
        self.browser = browser
        self.name = name or browser.name
        self.tone_hz = tone
        browser.js("start", {"tone": tone, "video": video, "iceServers": ice or [],
                             "relayOnly": relay_only})

    # --- negotiation (every SDP once ICE gathering is over: UCWA has no trickle ICE) -----

    def offer(self):
        return self.browser.js("makeOffer")

    def answer(self, offer_sdp):
        """Takes an offer (first or a renegotiation) and returns the answer SDP."""
        return self.browser.js("makeAnswer", offer_sdp)

    def accept(self, answer_sdp):
        self.browser.js("applyAnswer", answer_sdp)

    def reoffer(self, direction, ice_restart=False):
        """A renegotiation offer with every transceiver in direction ("sendonly" puts the
        peer on hold, "sendrecv" resumes); ice_restart: with new ICE credentials."""
        return self.browser.js("reoffer", direction, ice_restart)

    # --- what happened ---------------------------------------------------------------

    def report(self):
        """The page's report(): signaling/ice/connection states, tone, inbound audio and
        video stats (frames, codec), the nominated candidate pair's types."""
        return self.browser.js("report")

    def wait_connected(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            rep = self.report()
            if rep["connection"] == "connected":
                return rep
            if rep["connection"] in ("failed", "closed") or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {rep}\n{self.browser.tail()}")
            time.sleep(0.05)

    def heard(self, freq, timeout=5.0, tolerance=10.0, margin_db=20.0):
        """Waits (up to timeout) for the remote audio's strongest frequency to be freq and
        margin_db above the rest; the last Tone either way."""
        deadline = time.monotonic() + timeout
        while True:
            t = Tone(freq, self.browser.js("tone"), tolerance, margin_db)
            if t.ok or time.monotonic() > deadline:
                return t
            time.sleep(0.1)

    def silent(self, timeout=3.0, floor_db=-70.0):
        """Waits (up to timeout) until the remote audio is below floor_db in every bin
        (the other side stopped sending: hold, hang-up; the receiver's concealment fades
        out within about 0.2 s); whether it did."""
        deadline = time.monotonic() + timeout
        while True:
            db = self.browser.js("tone")["db"]
            if db is None or db < floor_db:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def wait_frames(self, n, timeout=10.0):
        """Waits until n video frames were decoded; returns the video stats."""
        deadline = time.monotonic() + timeout
        while True:
            video = self.report()["video"] or {}
            if video.get("frames", 0) >= n:
                return video
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {video.get('frames', 0)} of {n} video "
                                     f"frames decoded\n{self.browser.tail()}")
            time.sleep(0.1)

    def video_codec(self):
        """The mimeType of the video codec received, e.g. "video/H264"."""
        return (self.report()["video"] or {}).get("codec")

    def negotiated(self, kind):
        """The codec this peer sends kind with (getStats' outbound-rtp), e.g. "video/H264"."""
        return self.report()["sent"].get(kind)

    def selected_pair(self):
        """(local, remote) candidate types of the transport's selected pair, e.g. ("host",
        "host")."""
        c = self.report()["candidate"]
        return (c["local"], c["remote"]) if c else None

    @property
    def state(self):
        return self.report()["connection"]

    def close(self):
        self.browser.js("hangUp")


def self_test():
    """Two browsers, SDP swapped directly: tones both ways, H.264 frames, hold/resume."""
    t0 = time.monotonic()
    a, b = Browser("a"), Browser("b")
    try:
        print(f"two browsers in {time.monotonic() - t0:.2f} s")
        pa, pb = ChromiumPeer(a, tone=660), ChromiumPeer(b, tone=1020)
        offer = pa.offer()
        answer = pb.answer(offer)
        pa.accept(answer)
        print(f"offer {len(offer)} bytes, answer {len(answer)} bytes")
        pa.wait_connected()
        for p, f in ((pa, 1020), (pb, 660)):
            t = p.heard(f)
            v = p.wait_frames(10)
            print(f"{p.name}: {t}, {v['frames']} frames {v['codec']} {v['width']} wide, "
                  f"pair {p.selected_pair()}")
            assert t.ok and v["codec"] == "video/H264", (t, v)
        pa.accept(pb.answer(pa.reoffer("sendonly")))
        assert pa.silent() and pb.heard(660).ok
        print(f"hold: b still hears a, a hears {pa.heard(1020, timeout=0)}")
        pa.accept(pb.answer(pa.reoffer("sendrecv")))
        assert pa.heard(1020).ok
        print(f"resumed; all in {time.monotonic() - t0:.2f} s")
    finally:
        a.quit()
        b.quit()


if __name__ == "__main__":
    self_test()
