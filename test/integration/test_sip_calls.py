"""Calls between a UCWA application and a SIP phone, both ways, through ucwa-sipd (issue
13): one Apache with UcwaSip On beside a SIP side (sip_side.SipSide: Kamailio, rtpengine)
for the module, the aiortc UCWA client (ucwa_call, webrtc_media) and baresip phones
registered on Kamailio.

- alice's app calls dave's phone: dave rings, answers; the app gets the same events as a
  call between two apps (started, answer, completed Success, Connected); a tone is heard
  at each end; rtpengine has packets on both legs; dave's SDP is plain RTP/AVP (no ICE,
  no crypto) while the app's is ICE with DTLS; the app hangs up (dave's call closes);
  another call, and dave hangs up (the app's audioVideo Disconnected).
- dave's phone calls alice: every Audio app of alice rings, one answers, tone both ways,
  hang-up from the phone and from the app; dave cancels while it rings: Missed.
- dave busy (declines): the app's invitation fails Declined; a SIP address with no phone
  behind it (Kamailio answers 480): Unreachable.
- numbers: alice's voice policy (SQL rows) routes +1555xxxx to gateway set 1 (the SIPp
  gateway); `tel:0100` is normalised by the dial plan, the gateway gets
  sip:+15550100@gw;user=phone with P-Asserted-Identity alice's SIP URI, answers and echoes
  the app's tone; a number no route allows is refused 403 NotAllowed and the gateway sees
  nothing.
- renegotiations: the phone holds and resumes (baresip's hold: re-INVITEs), the app
  answers each as a renegotiation (or dismisses it: 488); the app holds and resumes the
  phone (re-INVITEs to it), in calls either side placed; tones both ways afterwards; a
  SIPp phone changes its codec (PCMA only) and crosses the app's renegotiation (glare:
  the caller's goes first); a SIPp gateway does the same in a call the app placed: the
  app's goes first, sent again after the 491 pause.
- the app's provisional answer to the phone's call: 183 Session Progress to the phone.
- video: a video phone (SIPp, echoing) calls the app, the app's video and tone come back
  through rtpengine; the app calls baresip (no video) with video: refused, audio works."""
import json
import os
import re
import signal
import socket
import time

import pytest

import conftest
import kamailio
import mobility
import sip_fixtures
import sipp
from sip_side import GATEWAY, SipSide, sipd_status
from ucwa_call import CallApp
from ucwa_client import FAST, start_fe, stop_fe
from webrtc_media import Peer, media_fixture, refused_for_aiortc

APP_HZ, PHONE_HZ = 1000, 1500
DOMAIN = "contoso.test"
ALLOWED = list(conftest.ALLOWED_LOG) + [
    re.compile(r"UCWA0070[0-9]"), re.compile(r"UCWA0071[0-9]"), re.compile(r"UCWA0072[0-9]"),
    re.compile(r"UCWA00642"),   # ucwa-sipd died, restarted (the restart tests)
    re.compile(r"UCWA0086[0-9]"),   # dialogs taken back after a restart, Kamailio down
    re.compile(r"UCWA00655"),   # rtpengine did not answer (the rtpengine-down test)
]


EARLY_GW, EARLY_ECHO = 5076, 5077    # (+ offset) gateway set 2, early media (SIPp takes +2 too)
PHONE_UAC, PHONE_MEDIA = 5080, 5081  # (+ offset) a SIPp phone calling (phone_reneg.xml)
RENEG_GW = 5084                      # (+ offset) gateway set 3, glare (gateway_reneg.xml)
NOANSWER_GW, NOANSWER_ECHO = 5092, 5093   # gateway set 4: 100, 180, then nothing
SILENT_GW = 5096                           # gateway set 5: answers nothing at all
RING_S = 8                                 # UcwaCallRingTimeout here


@pytest.fixture(scope="module")
def side(workdir):
    offset = kamailio.free_sip_offset(list(SipSide.BASES) + [5088, 5089, 5090, 5091,
                                                             EARLY_GW, EARLY_ECHO,
                                                             EARLY_ECHO + 1, EARLY_ECHO + 2,
                                                             PHONE_UAC, PHONE_MEDIA,
                                                             PHONE_MEDIA + 1, PHONE_MEDIA + 2,
                                                             RENEG_GW,
                                                             NOANSWER_GW, NOANSWER_ECHO,
                                                             NOANSWER_ECHO + 1,
                                                             NOANSWER_ECHO + 2, SILENT_GW])
    early = sipp.Sipp(workdir / "sip-calls" / "gateway-early", "gateway_early", addr=GATEWAY,
                      port=EARLY_GW + offset, duration_ms=1500, echo_port=EARLY_ECHO + offset)
    noanswer = sipp.Sipp(workdir / "sip-calls" / "gateway-noanswer", "gateway_noanswer",
                         addr=GATEWAY, port=NOANSWER_GW + offset,
                         echo_port=NOANSWER_ECHO + offset)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # reads, never answers
    silent.bind((GATEWAY, SILENT_GW + offset))
    s = SipSide(workdir / "sip-calls", host="127.0.0.1", domain=DOMAIN, offset=offset,
                ucwa=["127.0.0.1"], gateways={2: [f"sip:{GATEWAY}:{early.port}"],
                                              3: [f"sip:{GATEWAY}:{RENEG_GW + offset}"],
                                              4: [f"sip:{GATEWAY}:{noanswer.port}"],
                                              5: [f"sip:{GATEWAY}:{SILENT_GW + offset}"]})
    early.start()
    noanswer.start()
    try:
        s.start()
    except Exception:
        early.stop()
        noanswer.stop()
        silent.close()
        raise
    s.early, s.noanswer, s.silent = early, noanswer, silent
    yield s
    s.stop()
    early.stop()
    noanswer.stop()
    silent.close()


# route 1 goes to dispatcher set 1, the SIP side's SIPp gateway (extensions.md §21)
VOICE_SQL = r"""
INSERT INTO ucwa_dial_plans (identity) VALUES ('Global');
INSERT INTO ucwa_dial_plan_rules VALUES ('Global', 'Four digits', 1, '^(\d{4})$', '+1555$1');
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Local', 1, '^\+1555\d{4}$', 'Local', '1', NULL);
INSERT INTO ucwa_voice_routes VALUES ('Early', 2, '^\+1556\d{4}$', 'Local', 'gw-name;2', NULL);
INSERT INTO ucwa_voice_routes VALUES ('Glare', 3, '^\+1557\d{4}$', 'Local', 'gw-name;3', NULL);
INSERT INTO ucwa_voice_routes VALUES ('Rings', 4, '^\+1558\d{4}$', 'Local', '4', NULL);
INSERT INTO ucwa_voice_routes VALUES ('Silent', 5, '^\+1559\d{4}$', 'Local', '5', NULL);
"""


@pytest.fixture(scope="module")
def voice_state(workdir, state):
    """The demo state with a voice policy."""
    return sip_fixtures.voice_state(workdir, state, "sip-calls", VOICE_SQL)


@pytest.fixture(scope="module")
def fe(workdir, voice_state, side):
    state = voice_state
    extra = "\n".join([FAST, f"UcwaCallRingTimeout {RING_S}"] + side.ucwa_directives())
    f = start_fe(workdir, state, "sip-calls", extra=extra)
    yield f
    stop_fe(f, ALLOWED)


logs = sip_fixtures.logs_fixture(ALLOWED)
dave = sip_fixtures.phone_fixture("dave", 1, PHONE_HZ)


media = media_fixture()


peer = sip_fixtures.peer_fixture(APP_HZ)


def hear_each_other(app_peer, phone, when=""):
    """The app's peer hears the phone's tone, and the phone the app's (the same second)."""
    heard = app_peer.heard(PHONE_HZ, since=time.monotonic())
    assert heard.ok, f"{when}the app does not hear the phone's {PHONE_HZ} Hz: {heard}"
    heard = phone.heard(APP_HZ)
    assert heard.ok, f"{when}the phone does not hear the app's {APP_HZ} Hz: {heard}"


def legs_with_packets(side, call_id):
    legs = side.rtp.query(call_id)
    return {tag: leg["packets"] for tag, leg in legs.items()}


def call_dave(alice, a, dave):
    """alice's app (peer a) calls dave's phone, dave answers: connected both ways."""
    call = alice.call(f"sip:dave@{DOMAIN}", a.offer())
    call.started()
    dave.wait_event("CALL_INCOMING")
    dave.accept()
    answer = call.answered(timeout=15)
    a.accept(answer.decode())
    a.wait_connected(timeout=15)
    dave.wait_event("CALL_ESTABLISHED")
    call.connected()
    return call, answer.decode()


def test_app_calls_phone_tones_and_hangups(users, side, dave, peer):
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call, answer = call_dave(alice, a, dave)
    # the app's side: ICE and DTLS, as its own offer; the phone's: plain RTP/AVP
    assert "a=ice-ufrag" in answer and "a=fingerprint" in answer, answer
    assert "UDP/TLS/RTP/SAVPF" in answer, answer
    t0 = time.monotonic()
    heard_app = a.heard(PHONE_HZ, since=t0)
    heard = dave.heard(APP_HZ)
    assert heard.ok, f"the phone does not hear the app's {APP_HZ} Hz: {heard}"
    assert heard_app.ok, f"the app does not hear the phone's {PHONE_HZ} Hz: {heard_app}"
    call_ids = side.rtp.calls()
    assert len(call_ids) == 1, call_ids
    packets = legs_with_packets(side, call_ids[0])
    assert len(packets) == 2 and all(n > 0 for n in packets.values()), packets
    # the app hangs up: the phone's call closes, rtpengine forgets the call
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED")
    deadline = time.time() + 5
    while side.rtp.calls() and time.time() < deadline:
        time.sleep(0.1)
    assert side.rtp.calls() == []
    a.close()
    # again, and the phone hangs up
    b = peer()
    call, _ = call_dave(alice, b, dave)
    dave.hangup()
    dave.wait_event("CALL_CLOSED")
    call.ended()


def test_phone_sdp_is_plain_rtp(users, side, dave, peer):
    """What baresip was offered has no ICE and no crypto: rtpengine turned the app's
    ICE/DTLS into plain RTP/AVP for the SIP side (read from rtpengine's view of the
    call: the phone's leg's protocol)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call, _ = call_dave(alice, a, dave)
    call_id = side.rtp.calls()[0]
    q = side.rtp.command({"command": "query", "call-id": call_id})
    protos = sorted({m.get("protocol") for leg in q.get("tags", {}).values()
                     for m in leg.get("medias", [])})
    assert protos == ["RTP/AVP", "UDP/TLS/RTP/SAVPF"], protos
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED")


def test_phone_declines(users, dave, peer):
    alice = CallApp.signed_in(users("alice@contoso.test"))
    call = alice.call(f"sip:dave@{DOMAIN}", peer().offer())
    call.started()
    dave.wait_event("CALL_INCOMING")
    dave.hangup()           # rejects the incoming call (486 Busy Here)
    ev = call.failed(timeout=10)
    assert ev.get("subcode") == "Declined", ev


def test_no_phone_is_unreachable(users, peer):
    """erin has neither an app nor a phone: Kamailio sends the INVITE back to ucwa-sipd,
    which has nobody to ring (480): the caller's invitation fails Unreachable."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    call = alice.call(f"sip:erin@{DOMAIN}", peer().offer())
    call.started()
    ev = call.failed(timeout=10)
    assert ev.get("subcode") == "Unreachable", ev


def test_phone_calls_app(users, side, dave, peer):
    alice = CallApp.signed_in(users("alice@contoso.test"))
    alice2 = CallApp.signed_in(users("alice@contoso.test"))
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    ring2 = alice2.ringing(timeout=10)
    offer = ring.sdp()
    # rtpengine made the phone's plain RTP/AVP offer one a WebRTC stack takes
    assert "UDP/TLS/RTP/SAVPF" in offer and "a=ice-ufrag" in offer, offer
    assert "a=fingerprint" in offer, offer
    a = peer()
    ring.accept(a.answer(offer))
    # the other application stops ringing: answered elsewhere
    assert ring2.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    a.wait_connected(timeout=15)
    hear_each_other(a, dave)
    packets = legs_with_packets(side, side.rtp.calls()[0])
    assert len(packets) == 2 and all(n > 0 for n in packets.values()), packets
    dave.hangup()
    ring.ended()
    dave.wait_event("CALL_CLOSED")
    # and from the app
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    alice2.ringing(timeout=10)
    b = peer()
    ring.accept(b.answer(ring.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    ring.hang_up()
    ring.ended()
    dave.wait_event("CALL_CLOSED")


def test_app_declines_phone(users, dave):
    """The app declines a call from the phone: the phone gets 603 (its call closes), the
    other applications of the user stop ringing."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    alice2 = CallApp.signed_in(users("alice@contoso.test"))
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    alice2.ringing(timeout=10)
    ring.decline()
    closed = dave.wait_event("CALL_CLOSED", timeout=10)
    assert "603" in json.dumps(closed) or "Decline" in json.dumps(closed), closed
    assert alice2.wait("audioVideoInvitation", "completed", timeout=10).get("status") \
        == "Failure"


def test_phone_calls_nobody(dave):
    """A phone calls a user with neither a phone nor an application: Kamailio sends it to
    ucwa-sipd, which has nobody to ring (480)."""
    dave.dial(f"sip:erin@{DOMAIN}")
    closed = dave.wait_event("CALL_CLOSED", timeout=10)
    assert "480" in json.dumps(closed) or "Unavailable" in json.dumps(closed), closed


def test_phone_cancels_missed(users, dave):
    alice = CallApp.signed_in(users("alice@contoso.test"))
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    dave.hangup()           # CANCEL
    assert ring.missed(timeout=10).get("subcode") == "Missed"
    # a Missed AudioLog from the phone, as for a call from an app (recorded within a
    # second: the watchdog's collection)
    deadline, missed_logs = time.time() + 5, []
    while not missed_logs and time.time() < deadline:
        body = alice.app.get("/communication/conversationLogs").json()
        logs = [alice.app.get(link["href"][len(alice.app.self):]).json()
                for link in body["_links"].get("conversationLog", [])]
        missed_logs = [x for x in logs if x["status"] == "Missed"]
        time.sleep(0.2)
    assert [(x["type"], x["direction"]) for x in missed_logs] == [("AudioLog", "Incoming")]
    missed = alice.app.get("/communication/missedItems").json()
    assert missed["missedConversationsCount"] >= 1, missed


def test_number_through_the_gateway(users, side, peer):
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    before = len(side.gw.requests("INVITE"))
    call = alice.call("tel:0100", a.offer())
    call.started()
    invite = side.gw.wait_request("INVITE", count=before + 1)
    assert invite.ruri.startswith("sip:+15550100@") and "user=phone" in invite.ruri, invite.ruri
    assert invite.header("P-Asserted-Identity") == "<sip:alice@contoso.test>", invite.text
    assert invite.header("P-Ucwa-Gateway-Set") is None     # Kamailio took it off
    assert "a=ice" not in invite.body and "RTP/AVP" in invite.body, invite.body
    answer = call.answered(timeout=15)
    a.accept(answer.decode())
    a.wait_connected(timeout=15)
    # the gateway echoes what it gets: the app hears its own tone back
    heard = a.heard(APP_HZ, since=time.monotonic())
    assert heard.ok, f"the app does not hear its tone echoed by the gateway: {heard}"
    byes = len(side.gw.requests("BYE"))
    call.hang_up()
    call.ended()
    side.gw.wait_request("BYE", count=byes + 1)


def test_number_without_route_is_refused(users, side, peer):
    alice = CallApp.signed_in(users("alice@contoso.test"))
    before = len(side.gw.requests())
    r = alice.call("tel:+4930123456", peer().offer(), expect=403)
    assert r.json().get("subcode") == "NotAllowed", r.text
    r = alice.call("tel:not-a-number", peer().offer(), expect=400)
    assert r.json().get("subcode") == "NormalizationFailed", r.text
    time.sleep(0.5)
    assert len(side.gw.requests()) == before     # nothing reached the gateway


def kill_sipd(fe):
    """kill -9 of ucwa-sipd; returns once Apache started another one that answers."""
    pid = sipd_status(fe)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            if sipd_status(fe)["pid"] != pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("ucwa-sipd did not come back")


def packets_grow(side, call_id, seconds=1.0):
    """rtpengine's packets from each leg of call_id over `seconds`."""
    first = legs_with_packets(side, call_id)
    time.sleep(seconds)
    last = legs_with_packets(side, call_id)
    return {t: last[t] - first.get(t, 0) for t in last}


def no_end(call, seconds=1.5):
    """The call's conversation did not end (nothing but its audioVideo updates)."""
    ends = [e for e in call.app.drain(quiet=seconds)
            if e.rel == "conversation" and e.type == "deleted"
            and call.conversation.endswith(e.href.rsplit("/", 1)[-1])]
    return not ends


def test_sipd_restart_keeps_established_calls(fe, users, side, dave, peer):
    """ucwa-sipd killed (-9) mid-call: Apache starts it again, and the established call
    goes on (its media never went through ucwa-sipd: rtpengine's counters grow on both
    legs, each side still hears the other); the new process took the dialog back, so a
    hang-up from either side ends both: the app's hang-up sends the phone a BYE, the
    phone's BYE ends the app's call."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call, _ = call_dave(alice, a, dave)
    call_id = side.rtp.calls()[0]
    kill_sipd(fe)
    assert no_end(call), alice.seen[-10:]
    grew = packets_grow(side, call_id)
    assert len(grew) == 2 and all(n > 20 for n in grew.values()), grew
    hear_each_other(a, dave, "after the restart ")
    # the app hangs up: the new process sends the BYE, rtpengine forgets the call
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED", timeout=10)
    deadline = time.time() + 5
    while side.rtp.calls() and time.time() < deadline:
        time.sleep(0.1)
    assert side.rtp.calls() == []
    a.close()
    # again, a call from the phone this time, and the phone hangs up after the restart
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    b = peer()
    ring.accept(b.answer(ring.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    b.wait_connected(timeout=15)
    kill_sipd(fe)
    assert no_end(ring), alice.seen[-10:]
    heard = b.heard(PHONE_HZ, since=time.monotonic())
    assert heard.ok, f"after the restart the app does not hear the phone: {heard}"
    dave.hangup()
    dave.wait_event("CALL_CLOSED")
    ring.ended()
    deadline = time.time() + 5
    while side.rtp.calls() and time.time() < deadline:
        time.sleep(0.1)
    assert side.rtp.calls() == []


def test_sipd_restart_ends_ringing_calls(fe, users, side, dave, peer):
    """A call still ringing when ucwa-sipd dies ends on the app's side (as with a Front
    End gone), the new process has rtpengine forget its session (it would stay until
    rtpengine's own timeout), and the phone stops ringing (the new process CANCELs the
    INVITE it finds in the dialog record)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    call = alice.call(f"sip:dave@{DOMAIN}", peer().offer())
    call.started()
    dave.wait_event("CALL_INCOMING")
    assert len(side.rtp.calls()) == 1
    kill_sipd(fe)
    call.failed(timeout=10)
    deadline = time.time() + 5
    while side.rtp.calls() and time.time() < deadline:
        time.sleep(0.1)
    assert side.rtp.calls() == []
    dave.wait_event("CALL_CLOSED", timeout=5)


def test_invite_not_from_the_proxy_is_refused(fe, side, users):
    """Only Kamailio (UcwaSipProxy) rings the users: an INVITE sent straight to
    ucwa-sipd's port from another address (past Kamailio's trust rules) gets 403, and
    alice's application does not ring."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    port = 5089 + side.offset
    body = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
            b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    msg = (f"INVITE sip:alice@{DOMAIN} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.2:5999;branch=z9hG4bKforged1;rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:mallory@{DOMAIN}>;tag=forged\r\n"
           f"To: <sip:alice@{DOMAIN}>\r\nCall-ID: forged-1@127.0.0.2\r\nCSeq: 1 INVITE\r\n"
           f"Contact: <sip:mallory@127.0.0.2:5999>\r\nContent-Type: application/sdp\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.2", 0))
    s.settimeout(2)
    s.sendto(msg, ("127.0.0.1", port))
    answer = s.recv(65535).decode(errors="replace")
    s.close()
    assert answer.startswith("SIP/2.0 403"), answer
    assert alice.pump(timeout=1) == 0 or not any(
        e.rel == "audioVideoInvitation" for e in alice.queue), alice.queue


def test_early_media_from_the_gateway(users, side, peer):
    """A gateway's 183 with a description (a ringback, an announcement) reaches the caller
    app as a provisional answer (audioVideoNegotiation with mediaProvisionalAnswer) while
    it rings; its 200 then connects the call. The route names gateway set 2 (its first
    numeric gateway name), which only the early-media gateway is in."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call = alice.call("tel:+1 556 0100", a.offer())
    call.started()
    invite = side.early.wait_request("INVITE")
    assert invite.ruri.startswith("sip:+15560100@"), invite.ruri
    early = call.provisional(timeout=10).decode()
    assert "UDP/TLS/RTP/SAVPF" in early and "a=ice-ufrag" in early, early
    assert call.completed() is None        # still ringing
    answer = call.answered(timeout=15)
    a.accept(answer.decode())
    a.wait_connected(timeout=15)
    call.hang_up()
    call.ended()
    side.early.wait_request("BYE")


def wait_log(fe, pattern, timeout=5):
    """The first line of the Front End's error log matching pattern (regex)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in fe.apache.log_text().splitlines():
            if re.search(pattern, line):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no log line {pattern!r} within {timeout} s: "
                         + "\n".join(x for x in fe.apache.log_text().splitlines()[-15:]))


def call_from_dave(alice, a, dave):
    """dave's phone calls alice, her app (peer a) answers: connected both ways."""
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    ring.accept(a.answer(ring.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    a.wait_connected(timeout=15)
    return ring


def phone_reneg(call, a, expect):
    """The phone's re-INVITE reaches the app as audioVideoRenegotiation started, its offer
    in the app's profile (ICE, DTLS) with direction expect; the app answers (a: its
    peer). Returns the app's answer."""
    theirs = call.renegotiated(timeout=10)
    offer = theirs.offer.decode()
    assert "a=ice-ufrag" in offer and "UDP/TLS/RTP/SAVPF" in offer, offer
    assert f"a={expect}" in offer, offer
    answer = a.answer(offer)
    theirs.answer(answer)
    return answer


def tones_both_ways(a, dave):
    t0 = time.monotonic()
    heard_app = a.heard(PHONE_HZ, since=t0)
    heard = dave.heard(APP_HZ)
    assert heard.ok, f"the phone does not hear the app's {APP_HZ} Hz: {heard}"
    assert heard_app.ok, f"the app does not hear the phone's {PHONE_HZ} Hz: {heard_app}"


@pytest.mark.parametrize("direction", ["to-phone", "from-phone"])
def test_phone_holds_and_resumes(users, side, dave, peer, direction):
    """The phone puts the call on hold (baresip's hold: a re-INVITE with a=sendonly) and
    resumes it (a=sendrecv), in a call either side placed: each re-INVITE goes through
    rtpengine (an offer in the app's profile) to the app as a renegotiation, the app's
    answer goes back through rtpengine in the 200, and the tones flow both ways again."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    if direction == "to-phone":
        call, _ = call_dave(alice, a, dave)
    else:
        call = call_from_dave(alice, a, dave)
    tones_both_ways(a, dave)
    assert dave.command("hold").get("ok"), "baresip did not take hold"
    answer = phone_reneg(call, a, "sendonly")
    assert "a=recvonly" in answer, answer
    assert dave.command("resume").get("ok"), "baresip did not take resume"
    phone_reneg(call, a, "sendrecv")
    tones_both_ways(a, dave)
    assert not any(e.get("type") == "CALL_CLOSED" for e in dave.seen[-5:])
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED")


def test_app_dismisses_the_phones_reinvite(fe, users, dave, peer):
    """The app dismisses the phone's renegotiation: the phone's re-INVITE gets 488 and the
    call goes on (baresip stays on hold on its side until it resumes, which the app
    answers)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call, _ = call_dave(alice, a, dave)
    assert dave.command("hold").get("ok")
    call.renegotiated(timeout=10).dismiss()
    wait_log(fe, r"UCWA00982: .*re-INVITE of call \w+ dismissed by the application: 488")
    # the call is up: the phone's next re-INVITE (resume) is answered
    assert dave.command("resume").get("ok")
    phone_reneg(call, a, "sendrecv")
    tones_both_ways(a, dave)
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED")


def app_holds_and_resumes(call, a, phone):
    """The app (peer a) holds (a=sendonly) and resumes the call: each answer comes back in
    the app's profile, and while on hold the phone stops sending; tones both ways after."""
    answer = call.renegotiate(a.reoffer("sendonly")).answered(timeout=10).decode()
    assert "a=recvonly" in answer and "a=ice-ufrag" in answer, answer
    a.accept(answer)
    time.sleep(1.0)                  # what was in flight arrives
    t0 = time.monotonic()
    time.sleep(1.0)
    assert a.audio_frames_since(t0) == 0, "the phone still sends while on hold"
    assert phone.heard(APP_HZ).ok    # the app still sends
    answer = call.renegotiate(a.reoffer("sendrecv")).answered(timeout=10).decode()
    assert "a=sendrecv" in answer, answer
    a.accept(answer)
    tones_both_ways(a, phone)


@pytest.mark.parametrize("direction", ["to-phone", "from-phone"])
def test_app_holds_and_resumes_the_phone(users, side, dave, peer, direction):
    """The app renegotiates (hold: a=sendonly, then resume) a call with the phone, either
    side having placed it: rtpengine's offer goes to the phone in a re-INVITE, its 200
    comes back through rtpengine as the renegotiation's answer (the app's profile), and
    while on hold the phone stops sending."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    if direction == "to-phone":
        call, _ = call_dave(alice, a, dave)
    else:
        call = call_from_dave(alice, a, dave)
    tones_both_ways(a, dave)
    app_holds_and_resumes(call, a, dave)
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED")


def test_provisional_answer_is_183_to_the_phone(fe, users, dave, peer):
    """The app sends a provisional answer (sendProvisionalAnswer) to the phone's call: the
    phone gets 183 Session Progress with rtpengine's description (its early media: it
    hears the app's tone before the call is answered), then the 200."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    answer = a.answer(ring.sdp())
    ring.accept(answer, provisional=True)
    dave.wait_event("CALL_PROGRESS", timeout=10)
    wait_log(fe, r"UCWA00994: .*183 with the application's provisional answer")
    assert not any(e.get("type") == "CALL_ESTABLISHED" for e in dave.seen[-3:])
    ring.accept(answer)
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    a.wait_connected(timeout=15)
    tones_both_ways(a, dave)
    dave.hangup()
    ring.ended()
    dave.wait_event("CALL_CLOSED")


def test_phone_codec_change_and_glare(workdir, users, side, peer):
    """A phone (SIPp, test/sip/phone_reneg.xml) calls alice offering PCMU and PCMA; once
    answered it changes the codec (a re-INVITE offering PCMA only): the app gets it as a
    renegotiation whose offer has PCMA only, and its answer reaches the phone in the 200.
    Then the app renegotiates and the phone's own re-INVITE (hold) crosses it, the phone
    answering the app's with 491: as the pool's glare rule says, the caller's (the phone's)
    goes first: the app's renegotiation completes with Conflict, the phone's reaches it,
    and its answer goes back in the 200. The phone sends its re-INVITE before its 491 (once
    Kamailio has it): sent after the 491, ucwa-sipd's pause before trying again (0 to 2 s)
    could end first, on a loaded machine, and its second re-INVITE cross the phone's again,
    which this scripted phone cannot take."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = sipp.Sipp(workdir / "sip-calls" / "phone-reneg", "phone_reneg", addr=GATEWAY,
                    port=PHONE_UAC + side.offset, remote=side.kam.address, calls=1,
                    duration_ms=300, echo_port=PHONE_MEDIA + side.offset,
                    keys={"ruri": f"sip:alice@{DOMAIN}", "pai": f"sip:+14255550123@{DOMAIN}"})
    codec_change_and_glare(uac, alice, peer(), lambda: alice.ringing(timeout=10))


def codec_change_and_glare(uac, alice, a, ringing):
    """uac (SIPp, phone_reneg.xml) calls; ringing() is alice's app's invitation, which
    it answers (peer a); the phone's codec change, then the app's renegotiation crossed by
    the phone's hold (test_phone_codec_change_and_glare)."""
    uac.start(wait=0)
    try:
        ring = ringing()
        offer = ring.sdp()
        assert "PCMU" in offer and "PCMA" in offer, offer
        ring.accept(a.answer(offer))
        # the codec change
        theirs = ring.renegotiated(timeout=10)
        offer = theirs.offer.decode()
        assert "PCMA/8000" in offer and "PCMU" not in offer, offer
        answer = a.answer(offer)
        assert "PCMA/8000" in answer, answer
        theirs.answer(answer)
        # glare: the app's renegotiation crosses the phone's hold
        alice.drain(quiet=0.3)
        # (its offer: the answer it gave, on hold; its peer keeps its state: aiortc cannot
        # roll back an offer that failed)
        mine = ring.renegotiate(a.pc.localDescription.sdp.replace("a=sendrecv", "a=sendonly"))
        done = alice.wait("audioVideoRenegotiation", "completed", timeout=10)
        assert done.get("status") == "Failure", done.raw
        assert done.get("reason", {}).get("subcode") == "Conflict", done.raw
        theirs = ring.renegotiated(timeout=10)
        assert "a=sendonly" in theirs.offer.decode(), theirs.offer
        theirs.answer(a.answer(theirs.offer.decode()))
        assert uac.proc.wait(20) == 0, uac.errors()
    except BaseException:
        print("SIPp:", uac.errors()[-3000:])     # shown with the failure
        raise
    finally:
        if uac.proc:
            uac.stop()
    ring.ended()
    # each re-INVITE of the phone was answered 200 with rtpengine's plain RTP/AVP PCMA
    oks = [m for m in uac.replies("INVITE") if m.status == 200]
    assert [m.header("CSeq").split()[0] for m in oks] == ["1", "2", "3"], oks
    for m in oks[1:]:
        assert "RTP/AVP 8" in m.body and "a=ice" not in m.body, m.body
    assert mine.href


def test_glare_when_the_app_called(workdir, users, side, peer):
    """The app called (a number, through a SIPp gateway: test/sip/gateway_reneg.xml) and
    renegotiates; the far end answers its re-INVITE 491 and sends a re-INVITE of its own:
    as the pool's glare rule says, the caller's (the app's) goes first: the far end's
    gets 491 and never reaches the app, the app's is sent again after RFC 3261's pause
    (2.1 to 4 s: ucwa-sipd owns the Call-ID) and answered."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    gw = sipp.Sipp(workdir / "sip-calls" / "gateway-reneg", "gateway_reneg", addr=GATEWAY,
                   port=RENEG_GW + side.offset, calls=1)
    gw.start()
    try:
        call = alice.call("tel:+1 557 0100", a.offer())
        call.started()
        a.accept(call.answered(timeout=15).decode())
        a.wait_connected(timeout=15)
        t0 = time.monotonic()
        answer = call.renegotiate(a.reoffer("sendonly")).answered(timeout=15).decode()
        assert 2.0 <= time.monotonic() - t0 < 8, time.monotonic() - t0
        assert "a=recvonly" in answer, answer
        a.accept(answer)
        alice.pump(timeout=1)
        assert not any(e.rel == "audioVideoRenegotiation" and e.type == "started"
                       for e in alice.queue), alice.queue
        call.hang_up()
        call.ended()
        gw.proc.wait(10)
        assert gw.proc.returncode == 0, gw.errors()
        refused = [m for m in gw.replies("INVITE") if m.status == 491]
        assert len(refused) == 1, gw.messages()
    finally:
        if gw.proc:
            gw.stop()


def test_video_from_a_video_phone(workdir, users, side, media):
    """A phone offering audio and H.264 video (SIPp, test/sip/phone_video.xml, echoing
    both streams) calls alice: her app gets an offer with both (the app's profile), its
    answer takes both, and both streams pass rtpengine each way: the app decodes its own
    video frames and hears its own tone, echoed by the phone."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = Peer(media, APP_HZ, video=True)
    uac = sipp.Sipp(workdir / "sip-calls" / "phone-video", "phone_video", addr=GATEWAY,
                    port=PHONE_UAC + side.offset, remote=side.kam.address, calls=1,
                    duration_ms=8000, echo_port=PHONE_MEDIA + side.offset,
                    keys={"ruri": f"sip:alice@{DOMAIN}", "pai": f"sip:+14255550124@{DOMAIN}"})
    uac.start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        offer = ring.sdp()
        assert "m=video" in offer and "H264/90000" in offer, offer
        assert offer.count("UDP/TLS/RTP/SAVPF") == 2, offer
        answer = a.answer(offer)
        ring.accept(answer)
        a.wait_connected(timeout=15)
        assert a.wait_frames(10, timeout=10)      # its video, back through the phone
        assert a.heard(APP_HZ).ok                 # and its tone
        videos = [m for m in uac.replies("INVITE") if m.status == 200][0].body
        assert "m=video" in videos and "m=video 0 " not in videos, videos
        assert uac.proc.wait(20) == 0, uac.errors()
    finally:
        if uac.proc:
            uac.stop()
        a.close()
    ring.ended()


def test_video_to_a_phone_without_video(users, dave, media):
    """The app calls baresip (audio only) offering audio and video: rtpengine passes the
    video offer, the phone refuses it (port 0), the app's answer says so as in a call
    between apps (a refused section, the audio's complete), and the audio flows both
    ways."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = Peer(media, APP_HZ, video=True)
    try:
        offer = a.offer()
        call = alice.call(f"sip:dave@{DOMAIN}", offer)
        call.started()
        dave.wait_event("CALL_INCOMING")
        dave.accept()
        answer = call.answered(timeout=15).decode()
        audio, video = answer.split("m=video")
        assert video.startswith(" 0 "), answer                 # refused
        assert "a=ice-ufrag" in audio and "a=fingerprint" in audio, answer
        a.accept(refused_for_aiortc(answer, offer))
        tones_both_ways(a, dave)
        call.hang_up()
        call.ended()
        dave.wait_event("CALL_CLOSED")
    finally:
        a.close()
def silent_datagrams(sock):
    """What the silent gateway got so far (it never answers)."""
    sock.setblocking(False)
    got = []
    while True:
        try:
            got.append(sock.recv(65535).decode(errors="replace"))
        except BlockingIOError:
            return got


def test_gateway_rings_and_never_answers(users, side, peer):
    """A gateway that says 180 and then nothing: the ring timeout (UcwaCallRingTimeout)
    ends the app's invitation with a failure, and ucwa-sipd's CANCEL reaches the gateway
    through Kamailio (which answers 487): nothing is left ringing on either side."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    call = alice.call("tel:+15580100", peer().offer())
    call.started()
    t0 = time.monotonic()
    side.noanswer.wait_request("INVITE")
    ev = call.failed(timeout=RING_S + 10)
    took = time.monotonic() - t0
    assert RING_S - 1 < took < RING_S + 4, took
    assert ev.get("subcode") == "Timeout", ev
    side.noanswer.wait_request("CANCEL", timeout=5)


def test_gateway_answers_nothing(users, side, peer):
    """A gateway that answers nothing at all (not even 100): Kamailio's 100 Trying keeps
    ucwa-sipd waiting, the ring timeout ends the app's invitation with a failure, and the
    call is canceled (Kamailio ends its branch: no CANCEL before a provisional answer)."""
    silent_datagrams(side.silent)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    call = alice.call("tel:+15590100", peer().offer())
    call.started()
    t0 = time.monotonic()
    ev = call.failed(timeout=RING_S + 10)
    took = time.monotonic() - t0
    assert RING_S - 1 < took < RING_S + 4, took
    assert ev.get("subcode") == "Timeout", ev
    got = silent_datagrams(side.silent)
    assert got and got[0].startswith("INVITE sip:+15590100@"), got
    # nothing ringing remains: rtpengine forgot the call
    deadline = time.time() + 5
    while side.rtp.calls() and time.time() < deadline:
        time.sleep(0.1)
    assert side.rtp.calls() == []


def test_sipd_killed_ends_the_ringing_at_sip(fe, workdir, users, side, peer):
    """kill -9 of ucwa-sipd while two calls ring: the new process ends them at the SIP
    end too, from the dialog records: the gateway ringing the app's call (SIPp, 100 and
    180 then nothing) gets a CANCEL of that INVITE (Kamailio matched it to the INVITE's
    transaction by its Via branch), and a caller (SIPp at the gateway's address) ringing
    alice's app gets 480. Both calls end on the app's side."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    invites = len(side.noanswer.requests("INVITE"))
    cancels = len(side.noanswer.requests("CANCEL"))
    out = alice.call("tel:+15580100", peer().offer())
    out.started()
    side.noanswer.wait_request("INVITE", count=invites + 1)
    uac = sipp.Sipp(workdir / "sip-calls" / "caller-killed", "ucwa_call", addr=GATEWAY,
                    port=PHONE_UAC + side.offset, remote=side.kam.address, calls=1,
                    duration_ms=300, echo_port=PHONE_MEDIA + side.offset,
                    keys={"ruri": f"sip:alice@{DOMAIN}", "pai": f"sip:+14255550123@{DOMAIN}",
                          "gwset": "1"})
    uac.start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        kill_sipd(fe)
        cancel = side.noanswer.wait_request("CANCEL", count=cancels + 1, timeout=5)
        invite = side.noanswer.requests("INVITE")[invites]
        assert cancel.header("Call-ID") == invite.header("Call-ID"), (cancel, invite)
        uac.proc.wait(10)
        finals = [m.status for m in uac.replies("INVITE") if m.status >= 200]
        assert finals == [480], (finals, uac.errors())
        assert out.failed(timeout=10).get("subcode") == "Unreachable"
        ring.missed(timeout=10)
        deadline = time.time() + 5
        while side.rtp.calls() and time.time() < deadline:
            time.sleep(0.1)
        assert side.rtp.calls() == []
    finally:
        uac.stop()


def test_kamailio_restarted_and_unreachable(fe, users, side, dave, peer):
    """Kamailio stops during an established call app <-> phone: the call stays up (the
    media goes through rtpengine); a new call meanwhile fails Unreachable within about 3 s
    (no answer at all to the INVITE, not even 100 Trying: ucwa-sipd gives up then, rather
    than after libre's 32 s of retransmissions); Kamailio starts again, and the first
    call's hang-up from the app still reaches the phone (its BYE follows the route set
    through the new Kamailio)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call, _ = call_dave(alice, a, dave)
    call_id = side.rtp.calls()[0]
    side.kam.stop()
    try:
        other = alice.call(f"sip:dave@{DOMAIN}", peer().offer())
        other.started()
        t0 = time.monotonic()
        ev = other.failed(timeout=10)
        took = time.monotonic() - t0
        assert ev.get("subcode") == "Unreachable", ev
        assert took < 5, took
        grew = packets_grow(side, call_id)
        assert len(grew) == 2 and all(n > 20 for n in grew.values()), grew
    finally:
        side.kam.start()
    assert no_end(call), alice.seen[-10:]
    heard = a.heard(PHONE_HZ, since=time.monotonic())
    assert heard.ok, f"after Kamailio's restart the app does not hear the phone: {heard}"
    call.hang_up()
    call.ended()
    dave.wait_event("CALL_CLOSED", timeout=10)
    # (Kamailio kept no location: dave is not reachable until baresip registers again,
    # so this test comes late in the module)


def test_phone_hangs_up_after_kamailio_restart(users, side, dave, peer):
    """dave's phone calls alice's app, Kamailio restarts (it forgets its dialogs), dave
    hangs up: his BYE, inside a dialog the new Kamailio does not know, still reaches
    ucwa-sipd (its next hop is the UCWA SIP side) and the app sees the call end.
    (dave calls: after the restart Kamailio has no location for him.)"""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    dave.dial(f"sip:alice@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    ring.accept(peer().answer(ring.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    side.kam.stop()
    side.kam.start()
    mark = len(side.kam.log_text())
    dave.hangup()
    ring.ended(timeout=10)
    dave.wait_event("CALL_CLOSED", timeout=10)
    log = side.kam.log_text()[mark:]
    assert "BYE inside an unknown dialog" in log and "refused" not in log, log


def test_rtpengine_down(fe, users, side, dave, peer):
    """Last: rtpengine stops. A call to the phone fails Unreachable once rtpengine's
    offer times out (three tries, 1.5 s) and the phone never rings; a call canceled
    while ucwa-sipd waits for rtpengine ends Canceled, and the process that waited is
    still the one answering (its answer, when it comes, names a call that ended)."""
    side.rtp.stop()
    alice = CallApp.signed_in(users("alice@contoso.test"))
    pid = sipd_status(fe)["pid"]
    incoming = sum(1 for e in dave.seen if e.get("type") == "CALL_INCOMING")
    call = alice.call(f"sip:dave@{DOMAIN}", peer().offer())
    call.started()
    assert call.failed(timeout=10).get("subcode") == "Unreachable"
    call = alice.call(f"sip:dave@{DOMAIN}", peer().offer())
    call.started()
    call.cancel()
    call.failed(timeout=10)
    time.sleep(2)           # rtpengine's three tries end
    assert sipd_status(fe)["pid"] == pid
    assert sum(1 for e in dave.seen if e.get("type") == "CALL_INCOMING") == incoming


def test_a_pool_keeps_its_outbox(workdir, topo, side):
    """UcwaSip On on the Front Ends of a pool: ucwa-sipd leaves the pool's outbox to the
    pool's thread (its own messages come through the pool, as "~sip:fe1": docs/
    ARCHITECTURE.md §13, test_sip_pool.py), so a call between two Front Ends still rings
    across (an invitation taken by ucwa-sipd would have been lost)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (to run PostgreSQL as postgres)")
    import pool as pools
    import test_calls
    from test_pool import mobility_allowed, wait_for
    pg = pools.Postgres(workdir / "sip-pool-pgsql", settings={"synchronous_commit": "off"})
    pg.start()
    fes = []
    try:
        o = side.offset
        st = workdir / "sip-pool-state"
        mobility.make_state(st, topo)
        pg.load_directory(st)
        conf = workdir / "directory-sip-pool.conf"
        pg.directory_conf(conf)
        sip = "\n".join([
            "UcwaSip On", "UcwaSipListenAddress 127.0.0.1",
            f"UcwaSipExternalListeningPort {5090 + o}", f"UcwaSipPrimaryListeningPort {5091 + o}",
            f"UcwaSipProxy {side.kam.host}:{side.kam.port}",
            f"UcwaRtpengine {side.rtp.host}:{side.rtp.ng_port}"])
        for i in (1, 2):
            fes.append(start_fe(workdir, st, f"sip-pool-fe{i}", servers=2, directory=None,
                                extra=f'Include "{conf}"\n{FAST}\nUcwaPoolFrontEnd fe{i}\n'
                                      f"UcwaPoolLease 4\n{sip if i == 1 else ''}"))
        alice = test_calls.callable_app(fes[0].user("alice@contoso.test"))
        bob = test_calls.callable_app(fes[1].user("bob@contoso.test"))
        wait_for(lambda: pg.sql("SELECT count(*) FROM ucwa_pool_user WHERE sip = "
                                "'bob@contoso.test' AND fe = 'fe2' AND available > 0")
                 .strip() == "1", what="bob on fe2")
        for _ in range(4):      # declined and canceled: four invitations across
            test_calls.declined_and_canceled(alice, bob)
    finally:
        for f in fes:
            stop_fe(f, allowed=mobility_allowed() + ALLOWED)
        pg.stop()
