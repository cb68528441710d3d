"""Real WebRTC media for the call tests, on aiortc (Debian's python3-aiortc, 1.4), and
independent of UCWA: a Peer is one endpoint with an audio track that plays a sine tone, an
optional synthetic video track forced to H.264, receivers that keep what arrives, and an
option to use only relay candidates on a TURN server.

The tests are synchronous (requests); aiortc is asyncio. A MediaLoop runs one event loop in
a thread, and every Peer method runs its coroutine there and waits for it, so a test reads
like the signalling it drives:

    loop = MediaLoop()
    a, b = Peer(loop, tone=1000, video=True), Peer(loop, tone=1500, video=True)
    b_answer = b.answer(a.offer())     # the SDP strings a signalling server relays
    a.accept(b_answer)
    assert a.heard(1500).ok and b.heard(1000).ok
    assert b.video_codec() == "video/H264" and b.wait_frames(10)

Run it by hand (no server: the two peers swap SDP directly) to check the stack works:
    /usr/bin/python3 test/lib/webrtc_media.py [--turn HOST:PORT:USER:PASSWORD]
"""
import asyncio
import fractions
import threading
import time
import warnings

import numpy as np
from aioice.ice import TransportPolicy
with warnings.catch_warnings():     # aiortc 1.4's G.711 imports audioop (deprecated in 3.11)
    warnings.simplefilter("ignore", DeprecationWarning)
    from aiortc import (MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection,
                        RTCRtpSender, RTCSessionDescription, VideoStreamTrack)
    from aiortc.codecs import HEADER_EXTENSIONS
from av import AudioFrame, VideoFrame

from tone import detect_tone

RATE = 48000            # what Opus runs at; the decoder hands out 48 kHz too
PTIME = 0.020           # 20 ms of audio per frame, as browsers send
WIDTH, HEIGHT = 320, 240

# aiortc 1.4 numbers audio's ssrc-audio-level and video's abs-send-time both 2, and a
# BUNDLE transport keeps one id map for both m= lines: the video side's wins, the first
# audio packet's 1-byte level is parsed as a 3-byte send time, and the receiving DTLS
# transport dies (struct.error). Give abs-send-time an id of its own, as browsers do.
for _ext in HEADER_EXTENSIONS["video"]:
    if _ext.uri.endswith("abs-send-time") and _ext.id == 2:
        _ext.id = 3


class MediaLoop:
    """An asyncio loop in a daemon thread; run() calls a coroutine there from sync code."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="aiortc")
        self.thread.start()

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def media_fixture(name="media"):
    """A pytest fixture (module scope) named name: one MediaLoop for a test module's
    peers, closed after its last test. A module takes it as
    `media = webrtc_media.media_fixture()`."""
    import pytest      # only the tests need it (the self-test below runs without)

    @pytest.fixture(scope="module", name=name)
    def media():
        loop = MediaLoop()
        yield loop
        loop.close()
    return media


class Pausable:
    """Sends nothing while paused (a peer on hold that was told not to send): recv()
    waits, so the RTP sender sends no packets, as a browser does for recvonly/inactive."""

    def _init_pause(self):
        self._running = asyncio.Event()
        self._running.set()

    def pause(self, paused):
        if paused:
            self._running.clear()
        else:
            self._running.set()

    async def _wait_running(self):
        if not self._running.is_set():
            await self._running.wait()
            self._restart_clock()


class ToneTrack(Pausable, MediaStreamTrack):
    """A sine tone of freq Hz, 48 kHz mono s16, in real time (20 ms frames)."""
    kind = "audio"

    def __init__(self, freq, amplitude=0.3):
        super().__init__()
        self.freq = freq
        self.amplitude = amplitude
        self.samples = int(RATE * PTIME)
        self.pts = 0
        self._start = None
        self._init_pause()

    def _restart_clock(self):
        self._start = time.monotonic() - self.pts / RATE

    async def recv(self):
        await self._wait_running()
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self.pts / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (self.pts + np.arange(self.samples)) / RATE
        pcm = (np.sin(2 * np.pi * self.freq * t) * self.amplitude * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        self.pts += self.samples
        return frame


class PatternTrack(Pausable, VideoStreamTrack):
    """Synthetic video, WIDTH x HEIGHT at 30 fps: a bright bar moving over a dark field."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self._init_pause()

    def _restart_clock(self):
        if hasattr(self, "_start"):     # VideoStreamTrack's clock
            self._start = time.time() - self._timestamp / 90000

    async def recv(self):
        await self._wait_running()
        pts, time_base = await self.next_timestamp()
        img = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
        x = (self.n * 8) % WIDTH
        img[:, x:x + 32] = (250, 200, 30)
        self.n += 1
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class AudioSink:
    """Reads a received audio track: keeps the first channel of every decoded frame, with
    the time it arrived."""

    def __init__(self, track):
        self.track = track
        self.frames = []        # (monotonic arrival time, int16 mono samples)
        self.rate = RATE
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        while True:
            try:
                frame = await self.track.recv()
            except Exception:   # MediaStreamError: the track ended
                return
            pcm = frame.to_ndarray()
            channels = len(frame.layout.channels)
            if frame.format.is_planar:
                mono = pcm[0]
            else:
                mono = pcm.reshape(-1, channels)[:, 0]
            self.rate = frame.sample_rate
            self.frames.append((time.monotonic(), mono.copy()))

    def since(self, t0):
        chunks = [f for t, f in self.frames if t >= t0]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


class VideoSink:
    """Reads a received video track: counts decoded frames and keeps their sizes."""

    def __init__(self, track):
        self.track = track
        self.times = []
        self.sizes = set()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        while True:
            try:
                frame = await self.track.recv()
            except Exception:
                return
            self.times.append(time.monotonic())
            self.sizes.add((frame.width, frame.height))


def ice_servers(url, username=None, credential=None):
    """RTCIceServer list for one STUN/TURN url (turn:host:port?transport=udp)."""
    return [RTCIceServer(urls=url, username=username, credential=credential)]


class Peer:
    """One WebRTC endpoint. tone: Hz of the sine it sends (None: no audio track). video:
    also send PatternTrack, with H.264 as the only codec offered. ice: RTCIceServer list.
    relay_only: gather relay candidates only (aioice's TransportPolicy.RELAY, which aiortc
    1.4 does not expose), so media can only go through the TURN server in ice."""

    def __init__(self, loop, tone=1000, video=False, ice=None, relay_only=False, name="peer"):
        if relay_only and not ice:
            raise ValueError("relay_only needs a TURN server in ice")
        self.loop = loop
        self.name = name
        self.tone_hz = tone
        self.video = video
        self.relay_only = relay_only
        self.audio_sinks = []
        self.video_sinks = []
        self.tracks = []
        self.pc = loop.run(self._make(ice))

    async def _make(self, ice):
        # ice=[] means no STUN at all (aiortc would otherwise add Google's STUN server)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice if ice is not None else []))

        @pc.on("track")
        def on_track(track):
            if track.kind == "audio":
                self.audio_sinks.append(AudioSink(track))
            else:
                self.video_sinks.append(VideoSink(track))
        return pc

    # --- negotiation -----------------------------------------------------------------

    def _add_tracks(self):
        """The caller's transceivers: sendrecv audio (and video, H.264 only)."""
        if self.tone_hz is not None:
            t = ToneTrack(self.tone_hz)
            self.tracks.append(t)
            self.pc.addTransceiver(t, direction="sendrecv")
        if self.video:
            t = PatternTrack()
            self.tracks.append(t)
            tr = self.pc.addTransceiver(t, direction="sendrecv")
            tr.setCodecPreferences(h264_only())

    def _answer_tracks(self):
        """The callee's: its tracks on the transceivers the offer made."""
        for tr in self.pc.getTransceivers():
            if tr.sender.track is not None:
                continue
            if tr.kind == "audio" and self.tone_hz is not None:
                t = ToneTrack(self.tone_hz)
            elif tr.kind == "video" and self.video:
                t = PatternTrack()
                tr.setCodecPreferences(h264_only())
            else:
                continue
            self.tracks.append(t)
            tr.sender.replaceTrack(t)
            tr.direction = "sendrecv"

    def _relay_policy(self):
        if not self.relay_only:
            return
        for tr in self.pc.getTransceivers():
            conn = tr.sender.transport.transport.iceGatherer._connection
            conn._transport_policy = TransportPolicy.RELAY

    def _apply_directions(self):
        """Pauses the tracks whose transceiver may not send now (hold), resumes others."""
        for tr in self.pc.getTransceivers():
            track = tr.sender.track
            if isinstance(track, Pausable):
                track.pause("send" not in (tr.currentDirection or "sendrecv"))

    def offer(self):
        """The first offer: adds the tracks, gathers candidates; returns the SDP."""
        async def go():
            self._add_tracks()
            self._relay_policy()
            await self.pc.setLocalDescription(await self.pc.createOffer())
            return self.pc.localDescription.sdp
        return self.loop.run(go())

    def answer(self, offer_sdp):
        """Takes an offer (first or a renegotiation) and returns the answer SDP."""
        async def go():
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            self._answer_tracks()
            self._relay_policy()
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self._apply_directions()
            return self.pc.localDescription.sdp
        return self.loop.run(go())

    def accept(self, answer_sdp):
        """Takes the answer to this peer's offer."""
        async def go():
            await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
            self._apply_directions()
        self.loop.run(go())

    def reoffer(self, direction):
        """A renegotiation offer with every transceiver in direction ("sendonly" to put
        the peer on hold, "sendrecv" to resume); returns the SDP."""
        async def go():
            for tr in self.pc.getTransceivers():
                tr.direction = direction
            await self.pc.setLocalDescription(await self.pc.createOffer())
            return self.pc.localDescription.sdp
        return self.loop.run(go())

    # --- what happened ---------------------------------------------------------------

    def wait_connected(self, timeout=10):
        async def go():
            while self.pc.connectionState != "connected":
                if self.pc.connectionState in ("failed", "closed"):
                    raise AssertionError(f"{self.name}: {self.pc.connectionState}")
                await asyncio.sleep(0.05)
        self.loop.run(asyncio.wait_for(go(), timeout), timeout + 1)

    def heard(self, freq, seconds=1.0, timeout=5.0, since=None):
        """Analyses `seconds` of audio received from now (or from monotonic time `since`:
        two peers can listen over the same second) for a tone of freq Hz."""
        t0 = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            # the decoder's rate: 48 kHz for Opus, 8 kHz for PCMU (a SIP phone's codec)
            rate = self.audio_sinks[0].rate if self.audio_sinks else RATE
            need = int(rate * seconds)
            samples = self._received_since(t0)
            if len(samples) >= need or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return detect_tone(samples[:need], freq, rate=rate)

    def _received_since(self, t0):
        async def go():
            if not self.audio_sinks:
                return np.zeros(0, np.int16)
            return self.audio_sinks[0].since(t0)
        return self.loop.run(go())

    def audio_frames_since(self, t0):
        """Decoded audio frames that arrived after monotonic time t0."""
        async def go():
            return sum(1 for s in self.audio_sinks for t, _ in s.frames if t >= t0)
        return self.loop.run(go())

    def wait_frames(self, n, timeout=10.0):
        """Waits until n decoded video frames arrived; returns their sizes."""
        deadline = time.monotonic() + timeout

        async def count():
            return sum(len(s.times) for s in self.video_sinks), \
                set().union(*[s.sizes for s in self.video_sinks])
        while True:
            got, sizes = self.loop.run(count())
            if got >= n:
                return sizes
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {got} of {n} video frames decoded")
            time.sleep(0.05)

    def negotiated(self, kind):
        """The codec this peer sends kind with, from the answer (its first payload type
        of that m= line): e.g. "video/H264"."""
        desc = self.pc.remoteDescription if self.pc.localDescription.type == "offer" \
            else self.pc.localDescription
        return negotiated_codec(desc.sdp, kind)

    def selected_pair(self):
        """(local, remote) candidate types of the nominated ICE pair of the first
        transport: ("host", "host") directly, ("relay", "relay") through TURN."""
        async def go():
            tr = self.pc.getTransceivers()[0]
            conn = tr.sender.transport.transport.iceGatherer._connection
            pair = conn._nominated.get(1)
            return (pair.local_candidate.type, pair.remote_candidate.type) if pair else None
        return self.loop.run(go())

    def local_candidate_types(self):
        return candidate_types(self.pc.localDescription.sdp)

    def stats(self):
        """{type: [stats]} of getStats()."""
        async def go():
            out = {}
            for s in (await self.pc.getStats()).values():
                out.setdefault(s.type, []).append(s)
            return out
        return self.loop.run(go())

    def packets_received(self):
        return sum(s.packetsReceived for s in self.stats().get("inbound-rtp", []))

    @property
    def state(self):
        return self.pc.connectionState

    def close(self):
        async def go():
            await self.pc.close()
        self.loop.run(go())


def _sections(sdp):
    """An SDP's session part and its media sections, each a list of lines."""
    parts = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts.append([])
        parts[-1].append(line)
    return parts[0], parts[1:]


CREDENTIALS = ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:", "a=rtcp-mux")


def refused_for_aiortc(answer, offer):
    """aiortc 1.4 takes no refused media section (port 0) in an answer: it wants a codec
    in common, ICE credentials and a=rtcp-mux in every section, which JSEP does not ask
    of a refused one (a phone without video through rtpengine answers m=video 0 with only
    its a=mid). Each refused section of answer becomes the offer's section of the same
    place with port 0, its codecs and a=mid, the first accepted section's ICE, DTLS and
    rtcp-mux lines, and a=inactive; the rest of answer is kept. What the server relays
    is checked before; this only lets the test's aiortc take it."""
    head, ans = _sections(answer)
    _, off = _sections(offer)
    creds = next(([ln for ln in sec if ln.startswith(CREDENTIALS)] for sec in ans
                  if sec[0].split()[1] != "0"), [])
    out = list(head)
    for i, sec in enumerate(ans):
        if sec[0].split()[1] != "0" or i >= len(off):
            out += sec
            continue
        m = off[i][0].split()
        out.append(" ".join([m[0], "0"] + m[2:]))
        out += [ln for ln in off[i][1:] if ln.startswith(("a=mid:", "a=rtpmap:", "a=fmtp:"))]
        out += creds + ["a=inactive"]
    return "\r\n".join(out) + "\r\n"


def h264_only():
    """H.264 (and its RTX) of aiortc's capabilities, for setCodecPreferences."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in codecs if c.mimeType == "video/H264"]
    pts = {c.parameters.get("apt") for c in codecs if c.mimeType == "video/rtx"}
    rtx = [c for c in codecs if c.mimeType == "video/rtx"] if pts else []
    return h264 + rtx[:1]


def negotiated_codec(sdp, kind):
    """The mime type of the first payload type of the first m=<kind> line of an SDP."""
    lines = sdp.splitlines()
    pt = None
    for line in lines:
        if line.startswith("m="):
            if pt is not None:
                break
            if line.startswith(f"m={kind} "):
                pt = line.split()[3]
        elif pt is not None and line.startswith(f"a=rtpmap:{pt} "):
            return f"{kind}/" + line.split(" ", 1)[1].split("/")[0]
    return None


def candidates(sdp):
    """[(type, address, port)] of an SDP's a=candidate lines (type host, srflx, relay)."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            out.append((f[f.index("typ") + 1], f[4], int(f[5])))
    return out


def candidate_types(sdp):
    """The set of candidate types (host, srflx, relay) in an SDP's a=candidate lines."""
    return {t for t, _, _ in candidates(sdp)}


def self_test(turn=None):
    """Two peers, SDP swapped directly: tones both ways, H.264 frames, hold/resume; with
    turn=(host, port, user, password), the same with relay candidates only."""
    loop = MediaLoop()
    ice = None
    if turn:
        host, port, user, password = turn
        ice = ice_servers(f"turn:{host}:{port}?transport=udp", user, password)
    a = Peer(loop, 1000, video=True, ice=ice, relay_only=bool(turn), name="a")
    b = Peer(loop, 1500, video=True, ice=ice, relay_only=bool(turn), name="b")
    t0 = time.monotonic()
    offer = a.offer()
    answer = b.answer(offer)
    a.accept(answer)
    a.wait_connected()
    b.wait_connected()
    print(f"offer {len(offer)} bytes, answer {len(answer)} bytes, connected in "
          f"{time.monotonic() - t0:.2f} s; candidates {a.local_candidate_types()}, "
          f"pair {a.selected_pair()}")
    ta, tb = a.heard(1500), b.heard(1000)
    print(f"a hears {ta}\nb hears {tb}")
    print("a sends", a.negotiated("video"), a.negotiated("audio"),
          "b decoded", b.wait_frames(20), "a decoded", a.wait_frames(20))
    b.accept(a.answer(b.reoffer("sendonly")))        # b holds a
    time.sleep(0.5)
    t1 = time.monotonic()
    time.sleep(1.0)
    print(f"on hold: b got {b.audio_frames_since(t1)} audio frames from a in 1 s; "
          f"a hears {a.heard(1500)}")
    b.accept(a.answer(b.reoffer("sendrecv")))
    print(f"resumed: b hears {b.heard(1000)}")
    a.close()
    b.close()
    loop.close()


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--turn", help="HOST:PORT:USER:PASSWORD: relay candidates only")
    args = p.parse_args()
    self_test(tuple(args.turn.split(":")) if args.turn else None)
