"""Call via work (startPhoneAudio, issue 13): the server calls the user's own phone first,
then the target, and bridges the two through rtpengine, the target seeing the user's
work identity. One Apache with UcwaSip On beside a SIP side (sip_side.SipSide: Kamailio,
rtpengine), SIPp gateways playing the PSTN, baresip as a SIP phone target.

Voice routes (SQL): +1555xxxx to gateway set 5 (a SIPp gateway that answers after
500 ms, echoes RTP and takes re-INVITEs), +1557xxxx to set 6 (busy, 486), +1558xxxx to
set 7 (never answers); nothing else. alice has the LineURI tel:+14255550111.

- order and identity: the INVITE to the callback number arrives first; the target's only
  after the gateway's 200 on leg A (the gap measured); the target sees
  P-Asserted-Identity alice's SIP URI and her LineURI; the documented event sequence;
  stopPhoneAudio sends two BYEs.
- hold and resume: re-INVITEs toward the target, sendonly then sendrecv.
- media: a baresip phone as the target hears its own tone back through rtpengine and the
  gateway's echo on leg A (both legs carry packets).
- failures: a target or callback number the policy does not route (Failure NotAllowed,
  the gateways see nothing), a busy target (Failure Busy, leg A hung up), a callback that is not answered
  (Failure, leg B never sent), a BYE from the target (the UCWA side ends, leg A gets BYE).
- the gate: EnableOutsideVoice Off: no startPhoneAudio link, and 403.
- bad input: malformed bodies, hold of someone else's call, stop twice.
- phoneNumber defaults to makeMeAvailable's; the store is consistent afterwards.
- last, rtpengine down: MediaFailure, and no INVITE reaches a gateway."""
import json
import re
import time

import pytest

import conftest
import kamailio
import sip_fixtures
import sipp
from sip_side import GATEWAY, SipSide
from ucwa_call import CallApp
from ucwa_client import FAST, start_fe, stop_fe

DOMAIN = "contoso.test"
PHONE_HZ = 1500
RING = 6                      # UcwaCallRingTimeout: each leg rings at most this long
CVW_GW, CVW_ECHO, BUSY_GW, NOANSWER_GW, HANGUP_GW = 5080, 5081, 5084, 5086, 5087
ALLOWED = list(conftest.ALLOWED_LOG) + [re.compile(r"UCWA007[0-9][0-9]"),
                                         re.compile(r"UCWA0080[0-9]"),
                                         re.compile(r"UCWA00655")]   # rtpengine down (last)
NO_CVW = "<UcwaMobilityPolicy NoCvw>\n    EnableOutsideVoice Off\n</UcwaMobilityPolicy>"

VOICE_SQL = r"""
INSERT INTO ucwa_dial_plans (identity) VALUES ('Global');
INSERT INTO ucwa_dial_plan_rules VALUES ('Global', 'Four digits', 1, '^(\d{4})$', '+1555$1');
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Answers', 1, '^\+1555\d{4}$', 'Local', '5', NULL);
INSERT INTO ucwa_voice_routes VALUES ('Busy', 2, '^\+1557\d{4}$', 'Local', '6', NULL);
INSERT INTO ucwa_voice_routes VALUES ('NoAnswer', 3, '^\+1558\d{4}$', 'Local', '7', NULL);
INSERT INTO ucwa_voice_routes VALUES ('HangsUp', 4, '^\+1559\d{4}$', 'Local', '8', NULL);
INSERT INTO ucwa_voice_users VALUES ('alice@contoso.test', NULL, NULL, 'tel:+14255550111');
"""


@pytest.fixture(scope="module")
def gws(workdir):
    offset = kamailio.free_sip_offset(list(SipSide.BASES) + [
        5088, 5089, CVW_GW, CVW_ECHO, CVW_ECHO + 1, CVW_ECHO + 2, BUSY_GW, NOANSWER_GW,
        HANGUP_GW])
    root = workdir / "cvw" / "gateways"
    g = {"answer": sipp.Sipp(root, "gateway_cvw", addr=GATEWAY, port=CVW_GW + offset,
                             duration_ms=500, echo_port=CVW_ECHO + offset),
         "busy": sipp.Sipp(root, "gateway_busy", addr=GATEWAY, port=BUSY_GW + offset),
         "noanswer": sipp.Sipp(root, "gateway_noanswer", addr=GATEWAY,
                               port=NOANSWER_GW + offset),
         "hangup": sipp.Sipp(root, "gateway_hangup", addr=GATEWAY, port=HANGUP_GW + offset,
                             duration_ms=300)}
    for s in g.values():
        s.start(wait=0)
    time.sleep(0.3)
    for s in g.values():
        s.check_running()
    g["offset"] = offset
    yield g
    for k, s in g.items():
        if k != "offset":
            s.stop()


@pytest.fixture(scope="module")
def side(workdir, gws):
    s = SipSide(workdir / "cvw", host="127.0.0.1", domain=DOMAIN, offset=gws["offset"],
                ucwa=["127.0.0.1"],
                gateways={5: [f"sip:{GATEWAY}:{gws['answer'].port}"],
                          6: [f"sip:{GATEWAY}:{gws['busy'].port}"],
                          7: [f"sip:{GATEWAY}:{gws['noanswer'].port}"],
                          8: [f"sip:{GATEWAY}:{gws['hangup'].port}"]})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fe(workdir, state, side):
    st = sip_fixtures.voice_state(workdir, state, "cvw", VOICE_SQL,
                                  {"frank@contoso.test": "NoCvw"})
    f = start_fe(workdir, st, "cvw", extra="\n".join([FAST, NO_CVW, f"UcwaCallRingTimeout {RING}"]
                                                      + side.ucwa_directives()))
    yield f
    stop_fe(f, ALLOWED)


logs = sip_fixtures.logs_fixture(ALLOWED)
dave = sip_fixtures.phone_fixture("dave", 1, PHONE_HZ)


def alice_app(users):
    return CallApp.signed_in(users("alice@contoso.test"))


def invites(gw, user):
    return [m for m in gw.requests("INVITE") if m.user == user and not m.header("To")
            .count("tag=")]


def wait_invite(gw, user, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = invites(gw, user)
        if got:
            return got[-1]
        time.sleep(0.05)
    raise AssertionError(f"no INVITE for {user} at {gw.scenario}")


def sent_ok(gw, invite):
    """The time the gateway sent its 200 to that INVITE (same Call-ID)."""
    cid = invite.header("Call-ID")
    for m in gw.messages(received=False):
        if m.status == 200 and m.cseq_method == "INVITE" and m.header("Call-ID") == cid:
            return m.time
    return None


def byes(gw, invite):
    cid = invite.header("Call-ID")
    return [m for m in gw.requests("BYE") if m.header("Call-ID") == cid]


def wait_bye(gw, invite, timeout=10):
    deadline = time.time() + timeout
    while not byes(gw, invite):
        assert time.time() < deadline, f"no BYE for {invite.header('Call-ID')}"
        time.sleep(0.05)


def test_order_identity_events_and_stop(users, gws):
    gw = gws["answer"]
    alice = alice_app(users)
    links = alice.communication()["_links"]
    assert links["startPhoneAudio"]["href"].endswith("/communication/phoneAudioInvitations")
    call = alice.call_via_work("tel:+15550200", phone="tel:+1 (555) 010-0")
    events = []                 # (sender, rel, type, state) in the order they came

    def take(quiet=0.3):
        for e in alice.drain(quiet=quiet):
            events.append((e.sender_rel, e.rel, e.type,
                           (e.embedded or {}).get("state")))
    leg_a = wait_invite(gw, "+15550100")
    # only the user's phone rings until it answers
    time.sleep(0.2)
    assert not invites(gw, "+15550200")
    leg_b = wait_invite(gw, "+15550200")
    answered_a = sent_ok(gw, leg_a)
    assert answered_a is not None and leg_a.time <= answered_a <= leg_b.time, \
        (leg_a.time, answered_a, leg_b.time)
    assert leg_b.time - answered_a < 0.5, leg_b.time - answered_a
    pai = [v for n, v in leg_b.headers if n == "p-asserted-identity"]
    assert sorted(pai) == ["<sip:alice@contoso.test>", "<tel:+14255550111>"], leg_b.text
    assert leg_b.header("P-Ucwa-Gateway-Set") is None          # Kamailio took it off
    assert "a=ice" not in leg_b.body and "RTP/AVP" in leg_b.body, leg_b.body
    deadline = time.time() + 10
    while ("communication", "conversation", "updated", "Connected") not in events:
        assert time.time() < deadline, events
        take()
    inv = alice.get(call.invitation)
    assert inv["phoneNumber"] == "tel:+15550100" and inv["to"] == "tel:+15550200", inv
    rels = [e[:3] for e in events if e[1] != "localParticipant"]
    assert rels[:3] == [("communication", "phoneAudioInvitation", "started"),
                        ("communication", "conversation", "added"),
                        ("conversation", "phoneAudio", "updated")], events
    # leg A rings (180), the target is called, the target rings: the invitation updated
    assert rels[3:6] == [("communication", "phoneAudioInvitation", "updated")] * 3, events
    assert rels[6:] == [("conversation", "participant", "added"),
                        ("communication", "phoneAudioInvitation", "completed"),
                        ("conversation", "phoneAudio", "updated"),
                        ("communication", "conversation", "updated")], events
    assert [e[3] for e in events if e[1] == "phoneAudio"] == ["Connecting", "Connected"]
    call.conversation = inv["_links"]["conversation"]["href"]
    conv = alice.get(call.conversation)
    assert conv["state"] == "Connected" and conv["activeModalities"] == ["PhoneAudio"], conv
    assert "phoneAudio" in conv["_links"] and "audioVideo" not in conv["_links"], conv
    # the invitation reads Connected with who answered
    done = alice.get(call.invitation)
    assert done["state"] == "Connected" and done["_embedded"]["acceptedByParticipant"], done
    pa = call.phone_audio()
    assert pa["state"] == "Connected" and "holdPhoneAudio" in pa["_links"], pa
    # stop: BYE on both legs, the UCWA side ends
    call.action("stopPhoneAudio")
    call.ended()
    wait_bye(gw, leg_a)
    wait_bye(gw, leg_b)
    # stop twice: the call has ended
    r = alice.request("POST", pa["_links"]["stopPhoneAudio"]["href"], data="{}",
                      headers={"Content-Type": "application/json"})
    assert r.status_code in (404, 409), (r.status_code, r.text)


def test_hold_and_resume_reinvite_the_target(users, gws):
    gw = gws["answer"]
    alice = alice_app(users)
    call = alice.call_via_work("tel:+15550201", phone="tel:+15550101")
    call.started()
    call.connected()
    leg_b = wait_invite(gw, "+15550201")
    cid = leg_b.header("Call-ID")

    def reinvites():
        return [m for m in gw.requests("INVITE") if m.header("Call-ID") == cid
                and "tag=" in (m.header("To") or "")]
    call.action("holdPhoneAudio")
    ev = alice.wait("phoneAudio", "updated", where=lambda e: "resumePhoneAudio"
                    in (alice.resource(e) or {}).get("_links", {}))
    assert ev is not None
    deadline = time.time() + 5
    while not reinvites() and time.time() < deadline:
        time.sleep(0.05)
    assert reinvites(), "no re-INVITE toward the target"
    assert "a=sendonly" in reinvites()[0].body, reinvites()[0].body
    # hold again: nothing more to do
    call.action("resumePhoneAudio")
    deadline = time.time() + 5
    while len(reinvites()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert len(reinvites()) == 2, reinvites()
    assert "a=sendonly" not in reinvites()[1].body, reinvites()[1].body
    call.action("stopPhoneAudio")
    call.ended()


def test_media_bridged_to_a_phone(users, side, gws, dave):
    """dave's baresip is the target (a SIP user registered on Kamailio), the callback
    number the echoing gateway: dave hears his own tone back, so the media went
    dave -> rtpengine -> leg A -> rtpengine -> dave."""
    alice = alice_app(users)
    call = alice.call_via_work(f"sip:dave@{DOMAIN}", phone="tel:+15550102")
    call.started()
    incoming = dave.wait_event("CALL_INCOMING", timeout=10)
    assert incoming is not None
    dave.accept()
    call.connected()
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    heard = dave.heard(PHONE_HZ)
    assert heard.ok, f"the target does not hear its tone through the bridge: {heard}"
    legs = side.rtp.query(side.rtp.calls()[0])
    assert len(legs) == 2 and all(leg["packets"] > 0 for leg in legs.values()), legs
    # the target hangs up: the UCWA side ends, leg A gets a BYE
    leg_a = wait_invite(gws["answer"], "+15550102")
    dave.hangup()
    dave.wait_event("CALL_CLOSED")
    call.ended()
    wait_bye(gws["answer"], leg_a)


def test_busy_target_fails(users, gws):
    alice = alice_app(users)
    call = alice.call_via_work("tel:+15570100", phone="tel:+15550103")
    call.started()
    why = call.failed(timeout=15)
    assert why.get("subcode") == "Busy", why
    leg_a = wait_invite(gws["answer"], "+15550103")
    wait_invite(gws["busy"], "+15570100")
    wait_bye(gws["answer"], leg_a)
    alice.wait("conversation", "deleted", sender="communication")


def test_callback_not_answered_fails_and_target_never_called(users, gws):
    alice = alice_app(users)
    before = len(gws["answer"].requests("INVITE"))
    call = alice.call_via_work("tel:+15550204", phone="tel:+15580100")
    call.started()
    wait_invite(gws["noanswer"], "+15580100")
    why = call.failed(timeout=RING + 10)
    assert why.get("subcode") == "Timeout" and "phone" in why.get("message", ""), why
    assert len(gws["answer"].requests("INVITE")) == before    # leg B never sent
    deadline = time.time() + 5
    while not gws["noanswer"].requests("CANCEL") and time.time() < deadline:
        time.sleep(0.05)
    assert gws["noanswer"].requests("CANCEL"), "leg A was not canceled"


def test_own_phone_hung_up_while_the_target_rings_is_canceled(users, gws):
    """The user answers their phone (leg A) and hangs it up while the target still rings:
    the user canceled the call, so the invitation ends Cancelled with LocalFailure/Canceled
    (as stopPhoneAudio while ringing does, extensions.md section 23), not the generic
    Unreachable; leg B is canceled."""
    alice = alice_app(users)
    call = alice.call_via_work("tel:+15580107", phone="tel:+15590100")
    call.started()
    wait_invite(gws["hangup"], "+15590100")
    target = wait_invite(gws["noanswer"], "+15580107")
    done = alice.wait("phoneAudioInvitation", "completed", timeout=15)
    why = done.get("reason", {})
    assert done.get("status") == "Failure", done.raw
    assert (why.get("code"), why.get("subcode")) == ("LocalFailure", "Canceled"), why
    assert "hung up your phone" in why.get("message", ""), why
    assert alice.resource(done).get("state") == "Cancelled", done.raw
    deadline = time.time() + 5
    while not [m for m in gws["noanswer"].requests("CANCEL")
               if m.header("Call-ID") == target.header("Call-ID")]:
        assert time.time() < deadline, "leg B was not canceled"
        time.sleep(0.05)
    alice.wait("conversation", "deleted", sender="communication")


def test_route_refused_reaches_nothing(users, gws):
    alice = alice_app(users)
    before = {k: len(g.requests()) for k, g in gws.items() if k != "offset"}
    # a target, then a callback number, that no route allows: the invitation starts and
    # fails at once, Forbidden/NotAllowed, saying which
    for to, phone, which in (("tel:+4930123456", "tel:+15550105", "this number"),
                             ("tel:+15550205", "tel:+4930123456", "your phone")):
        call = alice.call_via_work(to, phone=phone)
        call.started()
        why = call.failed(timeout=5)
        assert (why.get("code"), why.get("subcode")) == ("Forbidden", "NotAllowed"), why
        assert which in why.get("message", ""), why
        alice.wait("conversation", "deleted", sender="communication")
        alice.queue.clear()         # its phoneAudio Disconnected
    r = alice.call_via_work("tel:+15550205", phone="not a number", expect=400)
    assert r.json().get("subcode") == "NormalizationFailed", r.text
    time.sleep(0.5)
    assert {k: len(g.requests()) for k, g in gws.items() if k != "offset"} == before


def test_policy_off_no_link_and_403(users, fe):
    frank = CallApp.signed_in(users("frank@contoso.test"))
    links = frank.communication()["_links"]
    assert "startPhoneAudio" not in links, links
    href = frank.app.href("/communication/phoneAudioInvitations")
    r = frank.request("POST", href, data=json.dumps({"to": "tel:+15550206",
                                                      "phoneNumber": "+15550106"}),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 403 and r.json().get("code") == "Forbidden", r.text


def test_bad_input(users, gws):
    alice = alice_app(users)
    for body in ("{", "[]", json.dumps({"to": 5}), json.dumps({"phoneNumber": "+15550107"}),
                 json.dumps({"to": "sip:", "phoneNumber": "+15550107"}),
                 json.dumps({"to": "tel:+15550207", "phoneNumber": "x" * 500}),
                 json.dumps({"to": "tel:+15550207", "phoneNumber": "+15550107",
                             "operationId": "a b"})):
        r = alice.call_via_work(None, body=body, expect=400)
        assert r.json().get("code") == "BadRequest", (body, r.text)
    # no phoneNumber and none given to makeMeAvailable
    r = alice.call_via_work("tel:+15550207", expect=400)
    assert "phoneNumber" in r.json().get("message", ""), r.text
    # someone else's call: bob cannot hold or stop it
    call = alice.call_via_work("tel:+15550208", phone="tel:+15550108")
    call.started()
    call.connected()
    bob = CallApp.signed_in(users("bob@contoso.test"))
    pa = call.phone_audio()
    for rel in ("holdPhoneAudio", "stopPhoneAudio"):
        path = pa["_links"][rel]["href"].split("/communication/", 1)[1]
        r = bob.request("POST", bob.app.href("/communication/" + path), data="{}",
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 404, (rel, r.status_code, r.text)
    assert call.phone_audio()["state"] == "Connected"
    # the call has no audioVideo: its operations and invitation are not there
    conv = alice.get(call.conversation)["_links"]["self"]["href"]
    for path, method, ctype, body in (
            ("/audioVideo", "GET", None, None),
            ("/audioVideo/stopAudioVideo", "POST", "application/json", "{}"),
            ("/audioVideo/audioVideoSession/renegotiations", "POST", "application/sdp",
             "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
             "m=audio 9 RTP/AVP 0\r\n")):
        r = alice.request(method, conv + path, data=body,
                          headers={"Content-Type": ctype} if ctype else {})
        assert r.status_code == 404, (path, r.status_code, r.text)
    inv_id = call.invitation.rsplit("/", 1)[1]
    r = alice.request("GET", alice.app.href("/communication/audioVideoInvitations/" + inv_id))
    assert r.status_code == 404, r.text
    call.action("stopPhoneAudio")
    call.ended()


def test_phone_number_from_make_me_available(users, gws, fe):
    """Without phoneNumber, the server calls the number makeMeAvailable gave; afterwards
    the store is consistent (no call record or conversation left behind)."""
    user = users("alice@contoso.test")
    app = user.create()
    app.available({"SupportedModalities": ["Messaging", "Audio"], "phoneNumber": "0110",
                   "audioPreference": "PhoneAudio"})
    alice = CallApp(app)
    call = alice.call_via_work("tel:+15550210")
    inv = call.started()
    assert inv["phoneNumber"] == "tel:+15550110", inv
    wait_invite(gws["answer"], "+15550110")
    call.connected()
    call.action("stopPhoneAudio")
    call.ended()
    assert fe.status()["consistent"] is True


def test_rtpengine_down_fails_before_sip(users, side, gws):
    """Last: rtpengine stops. A call via work fails MediaFailure once rtpengine's offer
    times out (three tries, 1.5 s), and no gateway sees an INVITE."""
    before = {k: len(g.requests("INVITE")) for k, g in gws.items() if k != "offset"}
    side.rtp.stop()
    alice = alice_app(users)
    call = alice.call_via_work("tel:+15550211", phone="tel:+15550111")
    call.started()
    why = call.failed(timeout=10)
    assert why.get("subcode") == "MediaFailure", why
    assert {k: len(g.requests("INVITE")) for k, g in gws.items() if k != "offset"} == before
