"""Audio and video calls whose endpoints are Chromium's WebRTC (test/lib/chromium_call.py:
headless Debian chromium, fake camera, a sine tone per side), signalled through our UCWA
server by test/lib/ucwa_call.py as docs/extensions.md ("Audio and video calls") says: the
caller's offer reaches the callee byte for byte, each side hears the other's tone, H.264
frames are decoded on both sides, hold and resume by renegotiation stop and restart the
held side's audio, hang-up ends both; with relay candidates only the call goes through a
private coturn with the credentials of mediaRelayAccessToken. Also Chromium with aiortc
(test/lib/webrtc_media.py), in both directions.

One Front End and one Chromium per endpoint for the whole module; each test is a new call
on them (a few seconds). The first test needs no server: Chromium to Chromium with the SDP
swapped directly, so that a failure of the others points at the signalling, not the media
stack."""
import time

import pytest

import turn
from chromium_call import Browser, ChromiumPeer
from ucwa_call import CallApp, hold_exchange, place, relay_token
from ucwa_client import FAST, clean_log, start_fe, stop_fe
from webrtc_media import Peer, candidates, media_fixture

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
TONE = {ALICE: 660, BOB: 1020}      # Hz, far from each other's harmonics
SUSPEND_AFTER = 2
SUSPEND = f"UcwaCallSuspendAfter {SUSPEND_AFTER}"


@pytest.fixture(scope="module")
def coturn(workdir):
    t = turn.Coturn(workdir / "calls-chromium-turn").start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def fe(workdir, state, coturn):
    # a side without an event request for 2 s is Suspended (the network-move test waits
    # for it; the others ignore the event)
    f = start_fe(workdir, state, "calls-chromium",
                 extra="\n".join([FAST, SUSPEND, coturn.directives()]))
    yield f
    stop_fe(f)


@pytest.fixture(autouse=True)
def logs(fe, allowed_log):
    yield from clean_log(fe, allowed_log)


@pytest.fixture
def pair(users):
    """alice and bob, each with one application that declared Audio and Video."""
    return CallApp.signed_in(users(ALICE)), CallApp.signed_in(users(BOB))


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


def media_flows(caller_peer, callee_peer):
    """Each side hears the other's tone; H.264 frames are decoded on both."""
    for peer, tone in ((caller_peer, callee_peer.tone_hz), (callee_peer, caller_peer.tone_hz)):
        peer.wait_connected()
        heard = peer.heard(tone)
        assert heard.ok, f"{peer.name}: {heard}"
    for peer in (caller_peer, callee_peer):
        peer.wait_frames(10)
        assert peer.negotiated("video") == "video/H264", peer.name
        if isinstance(peer, ChromiumPeer):
            assert peer.video_codec() == "video/H264", peer.report()


def connect(caller, callee, a, b):
    """caller (media a) calls callee (media b), who answers: the callee gets the offer
    byte for byte (ucwa_call.place), the caller the answer. (OutgoingCall, IncomingCall)"""
    call, ring = place(caller, callee, a.offer())
    answer = b.answer(ring.sdp())
    ring.accept(answer)
    assert call.answered() == answer.encode()
    a.accept(answer)
    return call, ring


def hang_up(call, ring):
    """The caller stops the call: both sides see audioVideo Disconnected and the
    conversation deleted."""
    call.hang_up()
    call.ended()
    ring.ended()


def test_chromium_media_without_server(browsers):
    """The media stack alone: two Chromiums, SDP swapped directly."""
    a = ChromiumPeer(browsers(ALICE), tone=TONE[ALICE])
    b = ChromiumPeer(browsers(BOB), tone=TONE[BOB])
    a.accept(b.answer(a.offer()))
    media_flows(a, b)
    a.close()
    assert b.silent(), "bob still hears something after alice closed"
    b.close()


def ice_credentials(sdp):
    """The a=ice-ufrag and a=ice-pwd values of an SDP."""
    return sorted({line for line in sdp.splitlines()
                   if line.startswith(("a=ice-ufrag:", "a=ice-pwd:"))})


def test_chromium_calls_chromium(pair, browsers):
    """A call, hold and resume by renegotiation (the held side stops sending), an ICE
    restart by renegotiation, hang-up."""
    alice, bob = pair
    a = ChromiumPeer(browsers(ALICE), tone=TONE[ALICE])
    b = ChromiumPeer(browsers(BOB), tone=TONE[BOB])
    call, ring = connect(alice, bob, a, b)
    media_flows(a, b)

    hold_exchange(call, a, ring, b, "sendonly")
    assert a.silent(), "alice put bob on hold and still hears him"
    assert b.heard(TONE[ALICE]).ok, "bob no longer hears alice, who holds him"
    hold_exchange(call, a, ring, b, "sendrecv")
    assert a.heard(TONE[BOB]).ok, "alice does not hear bob after resuming"

    # bob's phone moved from Wi-Fi to cellular: an ICE restart by renegotiation, new
    # credentials both ways, and the call goes on
    offer, answer = hold_exchange(ring, b, call, a, "sendrecv", ice_restart=True)
    assert ice_credentials(offer) != ice_credentials(call.answer.decode())
    assert ice_credentials(answer) != ice_credentials(call.offer.decode())
    assert candidates(offer) and candidates(answer), "no trickle ICE: candidates in the SDP"
    media_flows(a, b)

    hang_up(call, ring)
    a.close()
    assert b.silent(), "bob still hears alice after the hang-up"
    b.close()


def relay_ice(app):
    """The RTCIceServers (W3C dictionaries) of the application's mediaRelayAccessToken."""
    url, user, password = relay_token(app)
    return [{"urls": url, "username": user, "credential": password}]


def test_chromium_relay_only_through_coturn(pair, browsers, coturn):
    """Both Chromiums gather relay candidates only, with the credentials each got from
    mediaRelayAccessToken: the call connects through coturn (Chromium's own TURN client
    accepts the server's REST credentials)."""
    alice, bob = pair
    a = ChromiumPeer(browsers(ALICE), tone=TONE[ALICE], ice=relay_ice(alice),
                     relay_only=True)
    b = ChromiumPeer(browsers(BOB), tone=TONE[BOB], ice=relay_ice(bob), relay_only=True)
    call, ring = connect(alice, bob, a, b)
    for sdp in (call.offer, call.answer):
        cands = candidates(sdp.decode())
        assert cands and {(t, addr) for t, addr, _ in cands} == {("relay", coturn.host)}, cands
    media_flows(a, b)
    assert a.selected_pair() == b.selected_pair() == ("relay", "relay")
    hang_up(call, ring)
    a.close()
    b.close()


def test_network_move_suspends_then_resumes_with_an_ice_restart(pair, browsers):
    """bob's phone moves from Wi-Fi to cellular: his event channel goes quiet, so his side
    of the call is Suspended while alice keeps polling; he comes back with an ICE-restart
    offer (new credentials and candidates) posted to resumeAudioVideo, alice answers it
    as a renegotiation, his side is Established again and the call goes on."""
    alice, bob = pair
    a = ChromiumPeer(browsers(ALICE), tone=TONE[ALICE])
    b = ChromiumPeer(browsers(BOB), tone=TONE[BOB])
    call, ring = connect(alice, bob, a, b)
    media_flows(a, b)

    deadline = time.monotonic() + SUSPEND_AFTER + 1
    while time.monotonic() < deadline:
        alice.pump()
    ring.suspended()
    assert ring.session()["state"] == "Suspended"
    assert call.session()["state"] == "Established"

    offer, answer = hold_exchange(ring, b, call, a, "sendrecv", via="resumeAudioVideo",
                                  ice_restart=True)
    assert ice_credentials(offer) != ice_credentials(call.answer.decode())
    assert ice_credentials(answer) != ice_credentials(call.offer.decode())
    assert candidates(offer) and candidates(answer)
    assert ring.session()["state"] == "Established"
    media_flows(a, b)
    hang_up(call, ring)
    a.close()
    b.close()


media_loop = media_fixture("media_loop")   # aiortc's asyncio loop, for the module


@pytest.mark.parametrize("chromium_calls", [True, False],
                         ids=["chromium-calls-aiortc", "aiortc-calls-chromium"])
def test_chromium_and_aiortc(pair, browsers, media_loop, chromium_calls):
    alice, bob = pair
    chromium = ChromiumPeer(browsers(ALICE if chromium_calls else BOB),
                            tone=TONE[ALICE if chromium_calls else BOB])
    aiortc = Peer(media_loop, tone=TONE[BOB if chromium_calls else ALICE], video=True,
                  name="aiortc")
    a, b = (chromium, aiortc) if chromium_calls else (aiortc, chromium)
    try:
        call, ring = connect(alice, bob, a, b)
        media_flows(a, b)
        hang_up(call, ring)
    finally:
        aiortc.close()
    assert chromium.silent(), "Chromium still hears aiortc after the hang-up"
    chromium.close()
