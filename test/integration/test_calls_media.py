"""Calls between two real WebRTC stacks (aiortc, test/lib/webrtc_media.py) that sign in and
signal through our UCWA (test/lib/ucwa_call.py), as issue 12's "Tests with real media
stacks" asks: the callee gets the caller's SDP byte for byte in each of the three offer
forms, a tone sent by each side is found by FFT on the other (1000 Hz from the caller,
1500 Hz from the callee), H.264 frames are decoded both ways, hang-up ends both sides,
early media flow on a provisional answer, the callee's device that answers carries the
call while the other stops ringing, hold and resume by renegotiation stop and restart the
held side's audio, and with relay candidates only the call connects through a private
coturn with the credentials of mediaRelayAccessToken.

One Front End for the module; each call lasts a few seconds. Tests that need server parts
not built yet skip, saying which."""
import time

import pytest

import mobility
import turn
import ucwa_call
import webrtc_media
from ucwa_call import CallApp, hold_exchange, place
from ucwa_client import FAST, clean_log, start_fe, stop_fe
from webrtc_media import Peer, media_fixture

A_HZ, B_HZ = 1000, 1500


def knows_directive(module, name):
    """The built module registers directive `name` (its name is in the shared object)."""
    return name.encode() in mobility.module_path(module).read_bytes()


@pytest.fixture(scope="module")
def coturn(workdir):
    """A private coturn the Front End mints credentials for, when mod_ucwa has the TURN
    directives; else None."""
    if not knows_directive("ucwa", "UcwaTurnServer"):
        yield None
        return
    t = turn.Coturn(workdir / "calls-turn").start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def fe(workdir, state, coturn):
    extra = FAST
    if coturn:
        extra += (f"\nUcwaTurnServer {coturn.host} {coturn.port} {coturn.port}"
                  f"\nUcwaTurnSecretFile {coturn.secret_file()}")
    f = start_fe(workdir, state, "calls-media", extra=extra)
    yield f
    stop_fe(f)


@pytest.fixture(autouse=True)
def logs(fe, allowed_log):
    yield from clean_log(fe, allowed_log)


@pytest.fixture(scope="module")
def calls(fe):
    """Skips the module's call tests until the server has the call routes."""
    u = fe.user("alice@contoso.test")
    app = u.create()
    links = CallApp(app).communication()["_links"]
    app.delete()
    if "startAudioVideo" not in links:
        pytest.skip("the server has no startAudioVideo link yet (issue 12's call routes)")
    return links


media = media_fixture()


@pytest.fixture
def peers(media):
    """peer(**kw): a webrtc_media.Peer on the module's loop, closed when the test ends."""
    made = []

    def peer(tone, **kw):
        p = Peer(media, tone, **kw)
        made.append(p)
        return p
    yield peer
    for p in made:
        p.close()


@pytest.fixture
def pair(calls, users):
    """alice and bob, each with one application that declared Audio and Video."""
    return (CallApp.signed_in(users("alice@contoso.test")),
            CallApp.signed_in(users("bob@contoso.test")))


def connect(alice, bob, a, b, form="json"):
    """alice (peer a) calls bob (peer b) with the offer in `form`, bob answers: the offer
    and the answer cross the server byte for byte, both peers connect. A multipart offer
    has a second part (another variant, as Lync desktops send ICE v6 and v19 ones) and
    the answer names the part it took. Returns (alice's call, bob's)."""
    offer = a.offer().encode()
    kw, cid = {}, None
    if form == "multipart":
        cid = "webrtc@alice.test"
        # another variant, padded past an event slot (UcwaEventSize, 4 KiB): the callee's
        # event carries only the link, which ringing() follows
        pad = b"".join(b"a=x-padding:%d %s\r\n" % (i, b"x" * 1000) for i in range(4))
        variant = offer.replace(b"\r\ns=-\r\n", b"\r\ns=variant\r\n" + pad, 1)
        assert variant != offer
        kw["parts"] = [(cid, offer), ("variant@alice.test", variant)]
    call, ring = place(alice, bob, offer, form=form, **kw)
    answer = b.answer(ring.sdp())
    ring.accept(answer, processed_offer_id=cid)
    assert call.answered() == answer.encode(), "the caller's answer differs from the callee's"
    a.accept(call.answer.decode())
    a.wait_connected()
    b.wait_connected()
    return call, ring


def tones_both_ways(a, b):
    """Each peer finds the other's tone in the same second of received audio."""
    t0 = time.monotonic()
    heard_by_b, heard_by_a = b.heard(A_HZ, since=t0), a.heard(B_HZ, since=t0)
    assert heard_by_b.ok, f"the callee does not hear {A_HZ} Hz: {heard_by_b}"
    assert heard_by_a.ok, f"the caller does not hear {B_HZ} Hz: {heard_by_a}"


def hang_up(call, ring, a, b):
    """The caller hangs up: both sides' audioVideo Disconnected, conversation deleted;
    each side then closes its media."""
    call.hang_up()
    call.ended()
    a.close()
    ring.ended()
    b.close()
    assert a.state == b.state == "closed"


def test_audio_video_call_carries_tones_and_h264_both_ways_until_hang_up(pair, peers):
    alice, bob = pair
    a, b = peers(A_HZ, video=True, name="alice"), peers(B_HZ, video=True, name="bob")
    call, ring = connect(alice, bob, a, b, form="json")
    tones_both_ways(a, b)
    assert a.negotiated("video") == b.negotiated("video") == "video/H264"
    size = {(webrtc_media.WIDTH, webrtc_media.HEIGHT)}
    assert b.wait_frames(15) == size and a.wait_frames(15) == size
    hang_up(call, ring, a, b)


@pytest.mark.parametrize("form", ["sdp", "multipart"])
def test_audio_call_with_the_offer_as_a_body(pair, peers, form):
    """The offer as an application/sdp body (small: embedded in the callee's event), and
    as a multipart/alternative one whose every part arrives byte for byte (place() checks
    it) under its Content-ID (large: the event carries the link, the callee GETs it)."""
    alice, bob = pair
    a, b = peers(A_HZ, name="alice"), peers(B_HZ, name="bob")
    call, ring = connect(alice, bob, a, b, form=form)
    if form == "multipart":
        assert [cid for cid, _ in ring.parts()] == ["webrtc@alice.test", "variant@alice.test"]
        assert ring.link_only, "a 6 KiB offer was embedded in an event"
        assert call.negotiation.get("msAcceptedContentId") == "webrtc@alice.test"
    else:
        assert not ring.link_only, "a 1 KiB offer did not fit an event"
    tones_both_ways(a, b)
    hang_up(call, ring, a, b)


def test_early_media_flows_while_the_call_still_rings(pair, peers):
    """bob sends his answer as a provisional one (sendProvisionalAnswer): alice applies it
    and the tones flow both ways while her invitation has not completed; bob's final
    answer is the same SDP, which she has already applied."""
    alice, bob = pair
    a, b = peers(A_HZ, name="alice"), peers(B_HZ, name="bob")
    call, ring = place(alice, bob, a.offer())
    answer = b.answer(ring.sdp())
    ring.accept(answer, provisional=True)
    early = call.provisional()
    assert early == answer.encode()
    a.accept(early.decode())
    a.wait_connected()
    tones_both_ways(a, b)
    assert call.completed() is None, "the invitation completed on a provisional answer"
    ring.accept(answer)
    assert call.answered() == early
    hang_up(call, ring, a, b)


def test_the_device_that_answers_gets_the_media_the_other_stops_ringing(pair, users, peers):
    """bob on a phone and a tablet: both ring with alice's offer byte for byte; the
    tablet answers and carries the call, the phone's invitation ends ConnectedElsewhere."""
    alice, phone = pair
    tablet = CallApp.signed_in(users("bob@contoso.test"))
    a, b = peers(A_HZ, name="alice"), peers(B_HZ, name="bob's tablet")
    call = alice.call("bob@contoso.test", a.offer())
    rings = phone.ringing(), tablet.ringing()
    assert rings[0].offer == rings[1].offer == call.offer
    answer = b.answer(rings[1].sdp())
    rings[1].accept(answer)
    assert phone.wait("audioVideoInvitation", "completed")["reason"]["subcode"] \
        == "ConnectedElsewhere"
    assert call.answered() == answer.encode()
    a.accept(answer)
    a.wait_connected()
    tones_both_ways(a, b)
    hang_up(call, rings[1], a, b)


def test_hold_and_resume_by_renegotiation(pair, peers):
    """bob puts alice on hold (a=sendonly: he keeps sending, she stops) and resumes."""
    alice, bob = pair
    a, b = peers(A_HZ, name="alice"), peers(B_HZ, name="bob")
    call, ring = connect(alice, bob, a, b)
    tones_both_ways(a, b)

    hold_exchange(ring, b, call, a, "sendonly")
    assert "a=sendonly" in b.pc.localDescription.sdp
    assert "a=recvonly" in a.pc.localDescription.sdp
    time.sleep(0.5)                  # what was in flight arrives
    t0 = time.monotonic()
    heard_by_a = a.heard(B_HZ)       # bob's side still plays to alice for a second
    assert heard_by_a.ok, heard_by_a
    assert b.audio_frames_since(t0) == 0, "alice still sends while on hold"

    hold_exchange(ring, b, call, a, "sendrecv")
    tones_both_ways(a, b)
    hang_up(call, ring, a, b)


def test_declined_call_fails_for_the_caller(pair, peers):
    alice, bob = pair
    a = peers(A_HZ, name="alice")
    call, ring = place(alice, bob, a.offer(), form="sdp")
    ring.decline()
    reason = call.failed()
    assert (reason.get("code"), reason.get("subcode")) == ("RemoteFailure", "Declined"), reason


def relay_servers(app):
    """RTCIceServers from the application's mediaRelayAccessToken (its first relay's UDP
    port)."""
    relay = ucwa_call.relay_token(app)
    if relay is None:
        pytest.skip("no mediaRelayAccessToken link yet (helper h18's resource)")
    return webrtc_media.ice_servers(*relay)


def test_relay_only_call_goes_through_coturn(pair, peers, coturn):
    """Both peers gather relay candidates only (no direct path can be tried), with the
    credentials each got from mediaRelayAccessToken: the call connects through coturn."""
    if coturn is None:
        pytest.skip("mod_ucwa has no UcwaTurnServer directive yet (helper h18)")
    alice, bob = pair
    a = peers(A_HZ, ice=relay_servers(alice), relay_only=True, name="alice")
    b = peers(B_HZ, ice=relay_servers(bob), relay_only=True, name="bob")
    call, ring = connect(alice, bob, a, b)
    for sdp in (call.offer, call.answer):
        cands = webrtc_media.candidates(sdp.decode())
        # relay addresses only, all on our coturn: nothing else to try
        assert cands and {(t, addr) for t, addr, _ in cands} == {("relay", coturn.host)}, cands
    assert a.selected_pair() == b.selected_pair() == ("relay", "relay")
    tones_both_ways(a, b)
    hang_up(call, ring, a, b)


def test_the_byte_for_byte_check_sees_a_changed_part():
    """ucwa_call's own check: split_multipart keeps each part's exact bytes (a changed
    byte in one part is seen), so place()'s comparison means what it says."""
    sdp = b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    ctype, body = ucwa_call.multipart([("a@x", sdp), ("b@x", sdp + b"a=x\r\n")])
    parts = ucwa_call.split_multipart(ctype, body)
    assert [c for _, c in parts] == [sdp, sdp + b"a=x\r\n"]
    assert [h["content-id"] for h, _ in parts] == ["<a@x>", "<b@x>"]
    uri = ucwa_call.data_uri(body, "multipart/alternative;boundary=x")
    assert ucwa_call.parse_data_uri(uri) == ("multipart/alternative;boundary=x", body)
    # percent-coded data (no base64): '+' is a '+', %2B too
    assert ucwa_call.parse_data_uri("data:application/sdp,a=ice-pwd:x+y%2Bz%0D%0A") == (
        "application/sdp", b"a=ice-pwd:x+y+z\r\n")
    # a boundary with a blank, percent-coded in the data URI
    ctype, body = ucwa_call.multipart([("a@x", sdp)], boundary="b c")
    assert ucwa_call.split_multipart("multipart/alternative;boundary=b%20c", body)[0][1] == sdp
