"""Calls between two applications anchored through rtpengine (UcwaSipAnchorAppCalls On,
issue 13): the SIP side, fixtures and users of test_sip_snr (alice has a work number, a
voice route to her mobile, baresip, behind gateway set 3), one Apache with the directive.

- bob's app calls alice: her app rings with an acceptWithPhoneAudio link; she answers on
  her mobile: the mobile rings showing bob, its answer connects bob's call through
  rtpengine (each hears the other's tone), alice's conversation goes on as phoneAudio
  (Connected), bob's hang-up ends the mobile's call and her conversation;
- answered on her app: bob and alice hear each other through rtpengine, as peers do;
- replaceWithPhoneAudio: alice moves the connected call to her mobile; bob's app gets a
  renegotiation (rtpengine's offer from the mobile's leg), answers it, and then hears
  the mobile (and the mobile bob); alice's audioVideo ends, her phoneAudio is Connected;
  bob's hang-up ends it all."""
import time

from test_sip_snr import (ALLOWED, APP_HZ, DOMAIN, MOBILE_HZ, NO_CVW,  # noqa: F401
                          RING_S, accept_on_phone, forwarding, logs, media, mobile,
                          peer, replace_on_phone, rtpengine_forgets, side, voice_state)
from ucwa_call import CallApp
from ucwa_client import FAST, start_fe, stop_fe

import pytest


@pytest.fixture(scope="module")
def fe(workdir, voice_state, side):
    extra = "\n".join([FAST, NO_CVW, f"UcwaCallRingTimeout {RING_S}",
                       "UcwaSipAnchorAppCalls On"] + side.ucwa_directives())
    f = start_fe(workdir, voice_state, "sip-anchor", extra=extra)
    f.db = voice_state / "directory.db"
    yield f
    stop_fe(f, ALLOWED)


def pcmu_only(sdp):
    """An offer cut down to PCMU (payload type 0): aiortc 1.4 keeps the codec of its
    first negotiation when a renegotiation changes it (a JSEP stack switches), so a call
    that moves to the mobile (PCMU) is made with PCMU from the start."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("m=audio"):
            line = " ".join(line.split()[:3] + ["0"])
        elif line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")) \
                and not line.split(":", 1)[1].startswith("0 "):
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def bob_calls_alice(fe, users, peer, codec=None):
    forwarding(fe)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    bob = CallApp.signed_in(users("bob@contoso.test"))
    a = peer()
    call = bob.call(f"sip:alice@{DOMAIN}", codec(a.offer()) if codec else a.offer())
    call.started()
    return alice, a, call, alice.ringing(timeout=10)


def connected_with(a, call, freq, other):
    """bob's call connects; bob hears freq and `other` (a callable: the other side's
    check) hears bob's APP_HZ."""
    a.accept(call.answered(timeout=15).decode())
    a.wait_connected(timeout=15)
    call.connected()
    t0 = time.monotonic()
    heard = a.heard(freq, since=t0)
    assert heard.ok, f"bob does not hear {freq} Hz: {heard}"
    heard = other(APP_HZ)
    assert heard.ok, f"the other side does not hear bob's {APP_HZ} Hz: {heard}"


def test_accept_with_phone_audio_of_app_call(fe, side, users, mobile, peer):
    alice, a, call, ring = bob_calls_alice(fe, users, peer)
    assert "acceptWithPhoneAudio" in ring.links, ring.links
    accept_on_phone(alice, ring)
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert "bob@" in incoming.get("peeruri", ""), incoming
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    connected_with(a, call, MOBILE_HZ, mobile.heard)
    done = alice.wait("audioVideoInvitation", "completed")
    assert done.get("status") == "Success", done.raw
    alice.wait("phoneAudio", "updated", where=lambda e: alice.state_of(e) == "Connected")
    conv = alice.get(ring.conversation)
    assert conv["activeModalities"] == ["PhoneAudio"], conv
    call.hang_up()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    alice.wait("conversation", "deleted", sender="communication")
    rtpengine_forgets(side)


def test_anchored_app_call_answered_on_app(fe, side, users, peer):
    alice, a, call, ring = bob_calls_alice(fe, users, peer)
    b = peer(MOBILE_HZ)
    ring.accept(b.answer(ring.sdp()))
    connected_with(a, call, MOBILE_HZ, lambda f: b.heard(f, since=time.monotonic()))
    assert len(side.rtp.calls()) == 2, side.rtp.calls()   # bob's half and alice's
    ring.hang_up()
    call.ended()
    rtpengine_forgets(side)


def test_replace_with_phone_audio_of_app_call(fe, side, users, mobile, peer):
    alice, a, call, ring = bob_calls_alice(fe, users, peer, codec=pcmu_only)
    b = peer(MOBILE_HZ + 200)
    ring.accept(b.answer(ring.sdp()))
    a.accept(call.answered(timeout=15).decode())
    a.wait_connected(timeout=15)
    call.connected()
    ring.connected()
    replace_on_phone(alice, ring)
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert "bob@" in incoming.get("peeruri", ""), incoming
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    theirs = call.renegotiated(timeout=10)      # bob's side re-anchored to the mobile
    theirs.answer(a.answer(theirs.offer.decode()))
    alice.wait("phoneAudio", "updated", where=lambda e: alice.state_of(e) == "Connected")
    assert alice.get(ring.conversation)["activeModalities"] == ["PhoneAudio"]
    t0 = time.monotonic()
    heard = a.heard(MOBILE_HZ, since=t0)
    assert heard.ok, f"bob does not hear the mobile's {MOBILE_HZ} Hz: {heard}"
    heard = mobile.heard(APP_HZ)
    assert heard.ok, f"the mobile does not hear bob's {APP_HZ} Hz: {heard}"
    call.hang_up()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    alice.wait("conversation", "deleted", sender="communication")
    rtpengine_forgets(side)
