"""Audio and video calls whose endpoints are Chromium's WebRTC (test/lib/chromium_call.py:
headless Debian chromium, fake camera, a sine tone per side), signalled through our UCWA
server as docs/extensions.md ("Audio and video calls") says: the caller's offer reaches the
callee byte for byte, each side hears the other's tone, H.264 frames are decoded on both
sides, hang-up ends both. Also Chromium with aiortc (test/lib/webrtc_media.py), in both
directions.

One Front End and one Chromium per endpoint for the whole module; each test is a new call
on them (a few seconds). The first test needs no server: Chromium to Chromium with the SDP
swapped directly, so that a failure of the others points at the signalling, not the media
stack."""
import base64
import time
import uuid

import pytest

from chromium_call import Browser, ChromiumPeer
from ucwa_client import FAST, events_of, start_fe, stop_fe

AV = {"SupportedModalities": ["Messaging", "Audio", "Video"]}
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
TONE = {ALICE: 660, BOB: 1020}      # Hz, far from each other's harmonics


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "calls-chromium", extra=FAST)
    yield f
    stop_fe(f)


@pytest.fixture(scope="module")
def browsers():
    """One headless Chromium per user, for the module."""
    made = {}

    def get(name):
        if name not in made:
            made[name] = Browser(name.split("@")[0])
        return made[name]
    yield get
    for b in made.values():
        b.quit()


def sdp_link(sdp):
    return "data:application/sdp;base64," + base64.b64encode(sdp.encode()).decode()


def sdp_of(href):
    head, data = href.split(",", 1)
    assert head == "data:application/sdp;base64", head
    return base64.b64decode(data).decode()


class Side:
    """One user's application that declared Audio and Video, and its event channel:
    event() returns the next event of a rel and type, keeping the others for later."""

    def __init__(self, user):
        self.user = user
        self.app = user.create()
        self.app.available(AV)
        self.pending = []

    def event(self, rel, type_, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            for i, (sender, t, r, ev) in enumerate(self.pending):
                if r == rel and t == type_:
                    del self.pending[i]
                    return ev
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user.name}: no {rel} {type_} in "
                                     f"{[(s, t, r) for s, t, r, _ in self.pending]}")
            self.pending += events_of(self.app.poll("timeout=1"))

    def resource(self, ev):
        """The event's embedded resource, or (an event too big for its slot carries the
        link only) the resource its link names."""
        if ev.get("_embedded"):
            (res,) = ev["_embedded"].values()
            return res
        r = self.user.request("GET", ev["link"]["href"])
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, href, **kw):
        return self.user.request("POST", href, **kw)

    def follow(self, res, rel):
        r = self.user.request("GET", res["_links"][rel]["href"])
        assert r.status_code == 200, r.text
        return r.json()


def calls_or_skip(side):
    links = side.app.get("/communication").json()["_links"]
    if "startAudioVideo" not in links:
        pytest.skip("this build has no startAudioVideo: the call routes of issue 12 are "
                    "not in it yet")
    return links["startAudioVideo"]["href"]


def call(caller, callee, caller_peer, callee_peer):
    """caller calls callee, callee answers: the callee gets the offer byte for byte, the
    caller the answer. Returns the caller's invitation."""
    start = calls_or_skip(caller)
    offer = caller_peer.offer()
    context = str(uuid.uuid4())
    r = caller.post(start, json={"to": "sip:" + callee.user.name,
                                 "operationId": str(uuid.uuid4()), "sessionContext": context,
                                 "_links": {"mediaOffer": {"href": sdp_link(offer)}}})
    assert r.status_code == 201, r.text
    out = caller.resource(caller.event("audioVideoInvitation", "started"))
    assert out["direction"] == "Outgoing", out

    inv = callee.resource(callee.event("audioVideoInvitation", "started"))
    assert inv["direction"] == "Incoming", inv
    received = sdp_of(inv["_links"]["mediaOffer"]["href"])
    assert received.encode() == offer.encode(), "the callee's offer is not the caller's"
    answer = callee_peer.answer(received)
    r = callee.post(inv["_links"]["acceptWithAnswer"]["href"],
                    params={"sessionContext": context}, data=answer.encode(),
                    headers={"Content-Type": "application/sdp"})
    assert r.status_code == 204, r.text

    neg = caller.resource(caller.event("audioVideoNegotiation", "updated"))
    assert sdp_of(neg["_links"]["mediaAnswer"]["href"]).encode() == answer.encode()
    caller_peer.accept(answer)
    done = caller.resource(caller.event("audioVideoInvitation", "completed"))
    assert done["status"] == "Success", done
    assert callee.resource(callee.event("audioVideoInvitation", "completed"))["status"] \
        == "Success"
    return out


def media_flows(caller_peer, callee_peer, caller_tone, callee_tone):
    """Each side hears the other's tone; H.264 frames are decoded on both."""
    for peer, tone in ((caller_peer, callee_tone), (callee_peer, caller_tone)):
        peer.wait_connected()
        heard = peer.heard(tone)
        assert heard.ok, f"{peer.name}: {heard}"
    for peer in (caller_peer, callee_peer):
        peer.wait_frames(10)
        assert peer.negotiated("video") == "video/H264", peer.name
        if isinstance(peer, ChromiumPeer):
            assert peer.video_codec() == "video/H264", peer.report()


def hang_up(caller, callee, invitation):
    """The caller stops the call: both sides see audioVideo Disconnected and the
    conversation deleted."""
    conv = caller.follow(invitation, "conversation")
    av = caller.follow(conv, "audioVideo")
    r = caller.post(av["_links"]["stopAudioVideo"]["href"])
    assert r.status_code == 204, r.text
    for side in (caller, callee):
        while side.resource(side.event("audioVideo", "updated"))["state"] != "Disconnected":
            pass
        side.event("conversation", "deleted")


def test_chromium_media_without_server(browsers):
    """The media stack alone: two Chromiums, SDP swapped directly."""
    a = ChromiumPeer(browsers(ALICE), tone=TONE[ALICE])
    b = ChromiumPeer(browsers(BOB), tone=TONE[BOB])
    a.accept(b.answer(a.offer()))
    media_flows(a, b, TONE[ALICE], TONE[BOB])
    a.close()
    assert b.silent(), "bob still hears something after alice closed"
    b.close()


def test_chromium_calls_chromium(users, browsers):
    alice, bob = Side(users(ALICE)), Side(users(BOB))
    calls_or_skip(alice)
    a = ChromiumPeer(browsers(ALICE), tone=TONE[ALICE])
    b = ChromiumPeer(browsers(BOB), tone=TONE[BOB])
    inv = call(alice, bob, a, b)
    media_flows(a, b, TONE[ALICE], TONE[BOB])
    hang_up(alice, bob, inv)
    a.close()
    assert b.silent()
    b.close()


@pytest.fixture(scope="module")
def media_loop():
    """aiortc's asyncio loop (webrtc_media.MediaLoop), for the module."""
    wm = pytest.importorskip("webrtc_media", reason="test/lib/webrtc_media.py (aiortc) "
                             "is not in this tree")
    loop = wm.MediaLoop()
    yield loop
    loop.close()


@pytest.mark.parametrize("chromium_calls", [True, False],
                         ids=["chromium-calls-aiortc", "aiortc-calls-chromium"])
def test_chromium_and_aiortc(users, browsers, media_loop, chromium_calls):
    from webrtc_media import Peer

    alice, bob = Side(users(ALICE)), Side(users(BOB))
    calls_or_skip(alice)
    chromium = ChromiumPeer(browsers(ALICE if chromium_calls else BOB),
                            tone=TONE[ALICE if chromium_calls else BOB])
    aiortc = Peer(media_loop, tone=TONE[BOB if chromium_calls else ALICE], video=True,
                  name="aiortc")
    a, b = (chromium, aiortc) if chromium_calls else (aiortc, chromium)
    try:
        inv = call(alice, bob, a, b)
        media_flows(a, b, TONE[ALICE], TONE[BOB])
        hang_up(alice, bob, inv)
    finally:
        aiortc.close()
    assert chromium.silent(), "Chromium still hears aiortc after the hang-up"
    chromium.close()
