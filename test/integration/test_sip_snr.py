"""Calls to a user's work number from the PSTN, single number reach and call forwarding
acted on (issue 13): one Apache with UcwaSip On beside a SIP side (Kamailio, rtpengine),
a SIPp gateway (127.0.0.71, in dispatcher set 1) that calls alice's number
(+15550100, her LineURI) through Kamailio, and baresip as alice's mobile (+15550199)
behind the voice route's gateway set 3 (the route points at baresip, which does not
register). alice's forwarding settings are her ucwa_call_forwarding row, written here
between calls (ucwa-sipd reads them at each call).

- a call to the number rings alice's apps, the caller shown as tel:+15550123;
- simultaneous ring: the mobile's INVITE comes ringDelay after the caller's; answered on
  the mobile, the apps' invitation ends ConnectedElsewhere, media flows caller <->
  mobile through rtpengine (the gateway echoes: the mobile hears its own tone back);
  answered on an app, the mobile's leg is canceled; declined on an app, the caller gets
  603 and the mobile's leg is canceled;
- a PSTN phone with a voice (baresip at the gateway's address) answered on the mobile:
  each hears the other's tone, the mobile's hang-up ends the caller's call;
- immediate forward (the apps do not ring), unanswered forward (after its delay the apps'
  invitation ends Missed, the mobile rings); an immediate forward for Workhours acted on
  within alice's work hours (her ucwa_work_hours row) and not outside them;
- AllowSimultaneousRing / AllowCallForwarding off: nothing is forwarded;
- a SIP address of a domain user without a phone (bob) as target: the leg comes back to
  ucwa-sipd and rings bob's app (aiortc), which answers and hears the caller; a chain
  alice -> bob -> a number keeps both Diversion headers; alice -> bob -> alice stops at
  alice, whose apps ring;
- the simultaneous ring leg at the SIPp gateway: its INVITE ringDelay after the
  caller's, From/P-Asserted-Identity the caller, Diversion alice's number;
- nobody answers within UcwaCallRingTimeout: 480 to the caller, the mobile canceled,
  Missed; the caller hangs up while it rings: Missed AudioLog from tel:+15550123, a
  missed item, the call and missed-call pushes (APNs mock);
- a number that is nobody's and a number whose owner has no application: the same 480
  (no map of assigned numbers); a number sent past Kamailio: 403;
- acceptWithPhoneAudio: alice answers the PSTN phone's call on her mobile (the server
  calls it, rtpengine bridges it to the caller: each hears the other's tone, the apps'
  invitation completes Success); the mobile not answering (480 to the caller, the
  invitation Failure); frank's policy (EnableOutsideVoice Off): 403, nothing called;
  bad input (someone else's invitation, twice, not a number);
- replaceWithPhoneAudio: a connected call from the PSTN phone moved to the mobile (the
  caller re-INVITEd to it: each hears the other's tone, the app's audioVideo ends and
  phoneAudio is Connected); a call alice's app placed to a SIP phone (desk) moved the
  same way; the mobile refusing (the call stays with the app, still heard); an app to
  app call (no link, 403);
- the remote party's hold and resume (re-INVITEs) once the call is on the mobile
  (accepted or moved there) reach the mobile through rtpengine, and the tones flow
  again after the resume;
- a call from bob's app to alice, who forwards at once: her apps do not ring, the mobile
  does (tones both ways through rtpengine), the gateway sees bob as the caller and
  alice's number in Diversion; the policy gate, a number no route allows and her own
  number leave it to her apps; her unanswered call forward (her app's invitation ends
  Missed with its log and push, bob's rings on and connects to the mobile), her
  simultaneous ring (answered on the mobile: ConnectedElsewhere; on her app: the mobile
  canceled), her Workhours immediate forward within and outside her hours; an INVITE
  with a forged P-Ucwa-Loop token from elsewhere: 403."""
import datetime
import json
import re
import sqlite3
import time
import zoneinfo

import pytest

import baresip
import conftest
import kamailio
import sip_fixtures
import sipp
from push_services import (APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, apns,  # noqa: F401
                           apns_mock, keys)
from sip_side import GATEWAY, SipSide
from ucwa_call import CallApp
from ucwa_client import FAST, start_fe, stop_fe
from webrtc_media import media_fixture

DOMAIN = "contoso.test"
ALICE_NUMBER, CALLER, MOBILE = "+15550100", "+15550123", "+15550199"
MOBILE_HZ, APP_HZ, CALLER_HZ, DESK_HZ, BOB_HZ = 1500, 1000, 700, 1200, 900
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
DEVICE = "5" * 64              # alice's APNs token
RING_S = 8                     # UcwaCallRingTimeout: nobody answers within it
CALLER_N = 7                   # the PSTN phone's ports as sip_side's phone n (at GATEWAY)
MOBILE_N = 6                   # the mobile's addresses as sip_side's phone n
CALLER_PORT, CALLER_MEDIA = 5078, 5079    # (+ offset) the SIPp caller at the gateway address
ALLOWED = list(conftest.ALLOWED_LOG) + [
    re.compile(r"UCWA007[0-2][0-9]"), re.compile(r"UCWA008[2-5][0-9]"),
    re.compile(r"UCWA0076[1-9]"), re.compile(r"UCWA011[2-5][0-9]"),
]
WORK_ZONE = "Europe/London"    # alice's work hours' zone (ucwa_work_hours)
NO_CVW = "<UcwaMobilityPolicy NoCvw>\n    EnableOutsideVoice Off\n</UcwaMobilityPolicy>"


def mobile_ports(offset):
    n = MOBILE_N
    return (f"127.0.0.{32 + n}", 5100 + 4 * n + offset, 5102 + 4 * n + offset,
            (5200 + 20 * n + offset, 5219 + 20 * n + offset))


@pytest.fixture(scope="module")
def side(workdir):
    offset = kamailio.free_sip_offset(list(SipSide.BASES) + [5088, 5089, 5090, 5091,
                                                             CALLER_PORT, CALLER_MEDIA])
    addr, sip_port, _, _ = mobile_ports(offset)
    s = SipSide(workdir / "sip-snr", host="127.0.0.1", domain=DOMAIN, offset=offset,
                ucwa=["127.0.0.1"], gateways={3: [f"sip:{addr}:{sip_port}"]})
    s.start()
    yield s
    s.stop()


VOICE_SQL = r"""
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Mobiles', 1, '^\+1555\d{4}$', 'Local', '3', NULL);
INSERT INTO ucwa_voice_routes VALUES ('Gateway', 2, '^\+1666\d{4}$', 'Local', '1', NULL);
INSERT INTO ucwa_voice_users VALUES ('alice@contoso.test', NULL, NULL, 'tel:+15550100');
"""


@pytest.fixture(scope="module")
def voice_state(workdir, state):
    return sip_fixtures.voice_state(workdir, state, "sip-snr", VOICE_SQL,
                                    {"frank@contoso.test": "NoCvw"})


@pytest.fixture(scope="module")
def fe(workdir, voice_state, side, keys, apns):
    # push through the APNs mock (the missed call); the CA file readable by the children
    ca = workdir / "sip-snr-push-ca.crt"
    ca.write_bytes(keys["cert"].read_bytes())
    ca.chmod(0o644)
    push = ["UcwaPushProvider APNs On",
            f'UcwaPushApns "{keys["dir"] / "apns.p8"}" {APNS_KEY_ID} {APNS_TEAM_ID} '
            f'{APNS_TOPIC} 127.0.0.1:{apns["port"]}',
            f'UcwaPushCAFile "{ca}"', "UcwaPushBackgroundAfter 1"]
    # the server's work hours (for users without a row): none within the module's run
    now = datetime.datetime.now(datetime.timezone.utc)
    off = [(now + datetime.timedelta(hours=h)).strftime("%H:00") for h in (2, 3)]
    hours = f'UcwaWorkHours "Mon-Sun {off[0]}-{off[1]}" UTC'
    extra = "\n".join([FAST, NO_CVW, f"UcwaCallRingTimeout {RING_S}", hours] + push
                       + side.ucwa_directives())
    f = start_fe(workdir, voice_state, "sip-snr", extra=extra)
    f.db = voice_state / "directory.db"
    yield f
    stop_fe(f, ALLOWED)


logs = sip_fixtures.logs_fixture(ALLOWED)


@pytest.fixture(scope="module")
def mobile(side):
    addr, sip_port, ctrl_port, rtp = mobile_ports(side.offset)
    m = baresip.Baresip(side.root / "mobile", MOBILE, domain=DOMAIN, proxy=side.kam.address,
                        addr=addr, sip_port=sip_port, ctrl_port=ctrl_port, rtp_ports=rtp,
                        tone=MOBILE_HZ, register=False)
    m.start()
    yield m
    m.stop()


media = media_fixture()


peer = sip_fixtures.peer_fixture(APP_HZ)


def forwarding(fe, setting="None", simring=None, simring_delay=0, immediate=None,
               unanswered=None, unanswered_delay=20, allow_fwd=1, allow_simring=1,
               period="Always", owner="alice@contoso.test"):
    """alice's (or owner's) forwarding row and the global voice policy's gates."""
    con = sqlite3.connect(fe.db, timeout=10)
    con.execute("DELETE FROM ucwa_call_forwarding WHERE owner = ?", (owner,))
    con.execute(
        "INSERT INTO ucwa_call_forwarding VALUES (?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?, ?)",
        (owner, period, setting, "Enabled" if unanswered else "Disabled",
         "Contact" if immediate else "None", immediate,
         "Contact" if simring else "None", simring, simring_delay,
         "Contact" if unanswered else "None", unanswered, unanswered_delay,
         int(time.time() * 1000)))
    con.execute("UPDATE ucwa_voice_policies SET allow_call_forwarding = ?, "
                "allow_simultaneous_ring = ?", (allow_fwd, allow_simring))
    con.commit()
    con.close()


def caller(side, scenario="ucwa_call", duration_ms=3000, number=ALICE_NUMBER, ruri=None):
    """The PSTN calling alice's number (or ruri): a SIPp UAC at the gateway's address,
    through Kamailio, echoing the media it gets."""
    o = side.offset
    return sipp.Sipp(side.root / f"caller-{scenario}", scenario, addr=GATEWAY,
                     port=CALLER_PORT + o, remote=side.kam.address,
                     keys={"ruri": ruri or f"sip:{number}@{DOMAIN};user=phone",
                           "pai": f"sip:{CALLER}@{GATEWAY};user=phone", "gwset": "1"},
                     calls=1, duration_ms=duration_ms, echo_port=CALLER_MEDIA + o)


def final_answers(uac):
    """The final answers the caller got to its INVITE (once it ended)."""
    uac.proc.wait(10)
    return [m.status for m in uac.replies("INVITE") if m.status >= 200]


def rtpengine_forgets(side, timeout=5):
    """Every call of rtpengine ends (the legs' and the apps')."""
    deadline = time.time() + timeout
    while side.rtp.calls() and time.time() < deadline:
        time.sleep(0.1)
    assert side.rtp.calls() == []


def invite_time(uac):
    sent = [m for m in uac.messages(received=False) if m.method == "INVITE"]
    assert sent, "the caller sent no INVITE"
    return sent[0].time


def test_number_rings_the_apps_caller_as_number(fe, side, users, peer):
    forwarding(fe)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        frm = ring.inv.get("_embedded", {}).get("from") or alice.get(
            ring.links["from"]["href"])
        assert frm["uri"] == f"tel:{CALLER}", frm
        assert frm["name"] == CALLER, frm
        a = peer()
        ring.accept(a.answer(ring.sdp()))
        assert uac.proc.wait(15) == 0, uac.errors()
        ring.ended()
    finally:
        uac.stop()


def gateway_invite(side, number):
    """A gateway's INVITE to number through Kamailio: its final reply."""
    return kamailio.sip_request("INVITE", f"sip:{number}@{DOMAIN};user=phone",
                                side.kam.address, source=(GATEWAY, 0),
                                from_=f"sip:{CALLER}@{GATEWAY};user=phone",
                                headers=["Content-Type: application/sdp"],
                                body="v=0\r\no=- 1 1 IN IP4 127.0.0.71\r\ns=-\r\nc=IN IP4 "
                                     "127.0.0.71\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")


def test_unassigned_number_answers_as_an_absent_user(fe, side):
    """A number nobody has and carol's number (she has no application signed in) get the
    same answer: 480 Temporarily Unavailable, the same headers but for the ones echoing
    the request (and To's tag): a PSTN caller cannot map the assigned numbers. The log
    tells them apart (UCWA00821, UCWA01160)."""
    con = sqlite3.connect(fe.db, timeout=10)
    con.execute("INSERT OR REPLACE INTO ucwa_voice_users VALUES ('carol@contoso.test', NULL, "
                "NULL, 'tel:+15550103')")
    con.commit()
    con.close()
    mark = fe.apache.error_log.stat().st_size if fe.apache.error_log.exists() else 0
    nobody, absent = gateway_invite(side, "+15559999"), gateway_invite(side, "+15550103")
    assert nobody is not None and absent is not None, (nobody, absent)
    assert (nobody.status, nobody.reason) == (absent.status, absent.reason) == (
        480, "Temporarily Unavailable"), (nobody, absent)
    echoed = {"via", "from", "to", "call-id", "cseq"}
    assert sorted(nobody.headers) == sorted(absent.headers), (nobody.text, absent.text)
    assert {k: v for k, v in nobody.headers.items() if k not in echoed} == {
        k: v for k, v in absent.headers.items() if k not in echoed}, (nobody.text, absent.text)
    assert not any("carol" in v for vs in absent.headers.values() for v in vs), absent.text
    deadline = time.time() + 5
    while time.time() < deadline:
        with open(fe.apache.error_log, "rb") as f:
            f.seek(mark)
            log = f.read().decode(errors="replace")
        if "UCWA00821" in log and "UCWA01160" in log:
            break
        time.sleep(0.1)
    assert re.search(r"UCWA00821.*\+15559999", log), log
    assert re.search(r"UCWA01160.*carol@contoso.test", log), log


def test_number_past_kamailio_is_403(fe, side):
    r = kamailio.sip_request("INVITE", f"sip:{ALICE_NUMBER}@{DOMAIN};user=phone",
                             ("127.0.0.1", 5089 + side.offset), source=("127.0.0.2", 0),
                             from_=f"sip:{CALLER}@127.0.0.2;user=phone",
                             headers=["Content-Type: application/sdp"],
                             body="v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 "
                                  "127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert r is not None and r.status == 403, r


def test_simultaneous_ring_answered_on_mobile(fe, side, users, mobile):
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=2)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=4000).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
        t_mobile = time.time()
        delay = t_mobile - invite_time(uac)
        assert 1.5 <= delay <= 2.5, delay
        assert CALLER in incoming.get("peeruri", ""), incoming
        mobile.accept()
        mobile.wait_event("CALL_ESTABLISHED", timeout=10)
        assert ring.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
        # the caller echoes: the mobile hears its own tone back through rtpengine
        heard = mobile.heard(MOBILE_HZ)
        assert heard.ok, f"the mobile does not hear the media from the caller: {heard}"
        # one call left in rtpengine, the mobile's leg: packets both ways
        calls = side.rtp.calls()
        assert len(calls) == 1 and calls[0].endswith("-snr"), calls
        packets = {tag: leg["packets"] for tag, leg in side.rtp.query(calls[0]).items()}
        assert len(packets) == 2 and all(n > 0 for n in packets.values()), packets
        assert uac.proc.wait(15) == 0, uac.errors()
        mobile.wait_event("CALL_CLOSED", timeout=10)
    finally:
        uac.stop()


@pytest.fixture(scope="module")
def pstn_phone(side):
    """A caller with a voice: baresip at the gateway's address (so Kamailio takes it for
    the gateway), playing CALLER_HZ, not registered, calling as +15550123."""
    n, o = CALLER_N, side.offset
    p = baresip.Baresip(side.root / "pstn-phone", CALLER, domain=DOMAIN,
                        proxy=side.kam.address, addr=GATEWAY, sip_port=5100 + 4 * n + o,
                        ctrl_port=5102 + 4 * n + o,
                        rtp_ports=(5200 + 20 * n + o, 5219 + 20 * n + o), tone=CALLER_HZ,
                        register=False)
    p.start()
    yield p
    p.stop()


def test_tones_between_caller_and_mobile(fe, side, users, mobile, pstn_phone):
    """A call from a PSTN phone (baresip with a voice), answered on the mobile: the
    mobile hears the caller's tone and the caller the mobile's, through rtpengine."""
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    pstn_phone.dial(f"sip:{ALICE_NUMBER}@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    pstn_phone.wait_event("CALL_ESTABLISHED", timeout=10)
    assert ring.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    heard = mobile.heard(CALLER_HZ)
    assert heard.ok, f"the mobile does not hear the caller's {CALLER_HZ} Hz: {heard}"
    heard = pstn_phone.heard(MOBILE_HZ)
    assert heard.ok, f"the caller does not hear the mobile's {MOBILE_HZ} Hz: {heard}"
    # the caller's hold and resume reach the mobile (the leg that answered), not the app
    holds_and_resumes(pstn_phone, mobile)
    caller_and_mobile_bridged(side, mobile, pstn_phone, leg="-snr")
    mobile.hangup()           # the mobile hangs up: so does the caller's call
    mobile.wait_event("CALL_CLOSED", timeout=10)
    pstn_phone.wait_event("CALL_CLOSED", timeout=10)
    rtpengine_forgets(side)


def test_simultaneous_ring_identities_at_the_gateway(fe, side, users):
    """The simultaneous ring number behind the SIPp gateway (set 1, which answers at
    once): its INVITE comes ringDelay after the caller's (both SIPp traces, one clock),
    for sip:+E164;user=phone, showing the caller (From and P-Asserted-Identity) and the
    user's work number as the one who diverted it (Diversion); the apps' invitation ends
    ConnectedElsewhere."""
    forwarding(fe, "SimultaneousRing", simring="tel:+16660199", simring_delay=1)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    before = len(side.gw.requests("INVITE"))
    uac = caller(side, duration_ms=1000).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        invite = side.gw.wait_request("INVITE", count=before + 1)
        delay = invite.time - invite_time(uac)
        assert 0.5 <= delay <= 1.5, delay
        assert invite.ruri.startswith("sip:+16660199@") and "user=phone" in invite.ruri, \
            invite.ruri
        assert CALLER in invite.header("From"), invite.text
        assert CALLER in invite.header("P-Asserted-Identity"), invite.text
        assert invite.header("Diversion").startswith(f"<tel:{ALICE_NUMBER}>"), invite.text
        assert "reason=deflection" in invite.header("Diversion"), invite.text
        assert invite.header("P-Ucwa-Gateway-Set") is None
        assert ring.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
        assert uac.proc.wait(15) == 0, uac.errors()
    finally:
        uac.stop()


def test_simultaneous_ring_answered_on_app_cancels_mobile(fe, side, users, mobile, peer):
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        mobile.wait_event("CALL_INCOMING", timeout=10)
        seen = len(mobile.seen)
        a = peer()
        ring.accept(a.answer(ring.sdp()))
        mobile.wait_canceled(seen)   # CANCEL: closed, never established
        assert uac.proc.wait(15) == 0, uac.errors()
        ring.ended()
    finally:
        uac.stop()
    rtpengine_forgets(side)


def test_app_declines_while_mobile_rings(fe, side, users, mobile):
    """A decline on an app declines the call (as for a call from a phone): the caller
    gets 603 and the mobile's leg is canceled."""
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        mobile.wait_event("CALL_INCOMING", timeout=10)
        ring.decline()
        mobile.wait_event("CALL_CLOSED", timeout=10)
        uac.proc.wait(10)
        finals = [m.status for m in uac.replies("INVITE") if m.status >= 200]
        assert finals == [603], finals
    finally:
        uac.stop()


def test_immediate_forward(fe, side, users, mobile):
    forwarding(fe, "ImmediateForward", immediate=f"tel:{MOBILE}")
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=1000).start(wait=0)
    try:
        mobile.wait_event("CALL_INCOMING", timeout=10)
        mobile.accept()
        mobile.wait_event("CALL_ESTABLISHED", timeout=10)
        assert uac.proc.wait(15) == 0, uac.errors()
        mobile.wait_event("CALL_CLOSED", timeout=10)
        assert not any(e.rel == "audioVideoInvitation" for e in alice.queue) \
            and alice.pump(timeout=1) >= 0 \
            and not any(e.rel == "audioVideoInvitation" for e in alice.queue), alice.queue
    finally:
        uac.stop()


def test_unanswered_forward(fe, side, users, mobile):
    forwarding(fe, unanswered=f"tel:{MOBILE}", unanswered_delay=5)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=1000).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        mobile.wait_event("CALL_INCOMING", timeout=10)
        delay = time.time() - invite_time(uac)
        assert 4.5 <= delay <= 5.5, delay
        assert ring.missed(timeout=5).get("subcode") == "Missed"
        mobile.accept()
        mobile.wait_event("CALL_ESTABLISHED", timeout=10)
        assert uac.proc.wait(15) == 0, uac.errors()
        mobile.wait_event("CALL_CLOSED", timeout=10)
    finally:
        uac.stop()


def test_simultaneous_ring_to_a_domain_user(fe, side, users, peer):
    """alice's simultaneous ring to bob's SIP address (bob: a user of this server with an
    application and no phone): Kamailio sends the leg (it carries Diversion) back to
    ucwa-sipd, which rings bob's applications; bob answers, alice's invitation ends
    ConnectedElsewhere, and bob's app hears the caller (the gateway echoes bob's tone
    through both rtpengine anchors)."""
    forwarding(fe, "SimultaneousRing", simring=f"sip:{BOB}", simring_delay=0)
    alice = CallApp.signed_in(users(ALICE))
    bob = CallApp.signed_in(users(BOB))
    uac = caller(side, duration_ms=5000).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        bring = bob.ringing(timeout=10)
        b = peer(BOB_HZ)
        bring.accept(b.answer(bring.sdp()))
        b.wait_connected(timeout=15)
        assert ring.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
        heard = b.heard(BOB_HZ)
        assert heard.ok, f"bob's app does not hear its tone echoed by the caller: {heard}"
        assert uac.proc.wait(15) == 0, uac.errors()
        bring.ended()
    finally:
        uac.stop()
    rtpengine_forgets(side)


def test_forward_chain_keeps_diversion(fe, side, users):
    """alice forwards to bob's SIP address, bob to a number behind the SIPp gateway: the
    gateway's INVITE shows the caller and both diversions, bob's (the newest) first,
    then alice's number."""
    forwarding(fe, "ImmediateForward", immediate=f"sip:{BOB}")
    forwarding(fe, "ImmediateForward", immediate="tel:+16660199", owner=BOB)
    before = len(side.gw.requests("INVITE"))
    uac = caller(side, duration_ms=1000).start(wait=0)
    try:
        invite = side.gw.wait_request("INVITE", count=before + 1)
        assert invite.ruri.startswith("sip:+16660199@"), invite.ruri
        assert CALLER in invite.header("From"), invite.text
        diversions = re.findall(r"(?im)^Diversion:\s*(.*)$", invite.text)
        assert len(diversions) == 2, invite.text
        assert diversions[0].startswith(f"<sip:{BOB}>;reason=unconditional"), diversions
        assert diversions[1].startswith(f"<tel:{ALICE_NUMBER}>;reason=unconditional"), \
            diversions
        assert uac.proc.wait(15) == 0, uac.errors()
    finally:
        uac.stop()
        no_forwarding(fe, BOB)


def test_forward_loop_stops(fe, side, users, peer):
    """alice forwards to bob, bob back to alice: the call comes back to alice diverted
    from her already, and rings her applications (it is forwarded no further)."""
    forwarding(fe, "ImmediateForward", immediate=f"sip:{BOB}")
    forwarding(fe, "ImmediateForward", immediate=f"sip:{ALICE}", owner=BOB)
    alice = CallApp.signed_in(users(ALICE))
    bob = CallApp.signed_in(users(BOB))
    uac = caller(side, duration_ms=1000).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        ring.accept(peer().answer(ring.sdp()))
        assert uac.proc.wait(15) == 0, uac.errors()
        ring.ended()
        bob.pump(timeout=1)
        assert not any(e.rel == "audioVideoInvitation" for e in bob.queue), bob.queue
        assert re.search(r"UCWA01128: .*alice@contoso.test: diverted from this user",
                         fe.apache.log_text())
    finally:
        uac.stop()
        no_forwarding(fe, BOB)
    rtpengine_forgets(side)


def no_forwarding(fe, owner):
    con = sqlite3.connect(fe.db, timeout=10)
    con.execute("DELETE FROM ucwa_call_forwarding WHERE owner = ?", (owner,))
    con.commit()
    con.close()


def work_hours(fe, days, start, end, zone=WORK_ZONE):
    """alice's row of ucwa_work_hours (her Exchange working hours in Skype for Business)."""
    con = sqlite3.connect(fe.db, timeout=10)
    con.execute("DELETE FROM ucwa_work_hours WHERE sip_uri = 'alice@contoso.test'")
    con.execute("INSERT INTO ucwa_work_hours VALUES ('alice@contoso.test', ?, ?, ?, ?)",
                (days, start, end, zone))
    con.commit()
    con.close()


@pytest.mark.parametrize("within", [False, True, None])
def test_work_hours(fe, side, users, mobile, peer, within):
    """An immediate forward for Workhours: outside alice's work hours (her row: the hours
    from an hour after now, in her zone, DST as the tz database has it) the apps ring and
    the mobile does not; within them (an hour either side of now) the call goes to the
    mobile and the apps do not ring. Without a row (None), the server's UcwaWorkHours
    (two hours from the module's start): outside."""
    local = datetime.datetime.now(zoneinfo.ZoneInfo(WORK_ZONE))
    hh = [(local + datetime.timedelta(hours=h)).strftime("%H:00") for h in (-1, 1, 2)]
    if within:
        work_hours(fe, "Mon-Sun", hh[0], hh[1])
    elif within is False:
        work_hours(fe, "Mon-Sun", hh[1], hh[2])
    forwarding(fe, "ImmediateForward", immediate=f"tel:{MOBILE}", period="Workhours")
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        if within:
            mobile.wait_event("CALL_INCOMING", timeout=10)
            mobile.accept()
            mobile.wait_event("CALL_ESTABLISHED", timeout=10)
            assert uac.proc.wait(15) == 0, uac.errors()
            mobile.wait_event("CALL_CLOSED", timeout=10)
            alice.pump(timeout=1)
            assert not any(e.rel == "audioVideoInvitation" for e in alice.queue), alice.queue
        else:
            ring = alice.ringing(timeout=10)      # the apps ring (not forwarded)
            with pytest.raises(TimeoutError):
                mobile.wait_event("CALL_INCOMING", timeout=1.5)
            ring.accept(peer().answer(ring.sdp()))
            assert uac.proc.wait(15) == 0, uac.errors()
            ring.ended()
    finally:
        uac.stop()
        con = sqlite3.connect(fe.db, timeout=10)
        con.execute("DELETE FROM ucwa_work_hours")
        con.commit()
        con.close()


@pytest.mark.parametrize("gate", ["simring", "forward"])
def test_policy_gates(fe, side, users, mobile, peer, gate):
    if gate == "simring":
        forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", allow_simring=0)
    else:
        forwarding(fe, "ImmediateForward", immediate=f"tel:{MOBILE}", allow_fwd=0)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)      # the apps ring (not forwarded)
        with pytest.raises(TimeoutError):
            mobile.wait_event("CALL_INCOMING", timeout=1.5)
        a = peer()
        ring.accept(a.answer(ring.sdp()))
        assert uac.proc.wait(15) == 0, uac.errors()
        ring.ended()
    finally:
        uac.stop()


def missed_logs(alice, since=0):
    """alice's Missed conversation logs (recorded within a second: the watchdog's), newest
    last, past the first `since`."""
    deadline, found = time.time() + 5, []
    while len(found) <= since and time.time() < deadline:
        body = alice.app.get("/communication/conversationLogs").json()
        logs = [alice.app.get(link["href"][len(alice.app.self):]).json()
                for link in body["_links"].get("conversationLog", [])]
        found = [x for x in logs if x["status"] == "Missed"]
        time.sleep(0.2)
    return found


def test_nobody_answers(fe, side, users, mobile):
    """Simultaneous ring, and neither the apps nor the mobile answer: after the ring
    timeout the caller gets 480, the mobile's leg is canceled, the apps' invitation ends
    Missed and alice has a missed call from the number."""
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        mobile.wait_event("CALL_INCOMING", timeout=10)
        assert ring.missed(timeout=RING_S + 5).get("subcode") == "Missed"
        mobile.wait_event("CALL_CLOSED", timeout=5)
        assert final_answers(uac) == [480]
    finally:
        uac.stop()
    rtpengine_forgets(side)
    logs = missed_logs(alice)
    assert logs and logs[-1]["type"] == "AudioLog", logs


def test_caller_hangs_up_missed_from_number(fe, side, users, mobile, apns_mock):
    """The caller hangs up while alice's app and mobile ring: the mobile's leg is
    canceled, alice has a Missed AudioLog from
    tel:+15550123, a missed item, and her app in the background the push of the call
    then of the missed call, as for a call from an app."""
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    r = alice.app.post("/pushRegistrations", {"provider": "APNs", "token": DEVICE})
    assert r.status_code == 201, r.text
    assert alice.app.post("/reportBackground").status_code == 204
    uac = caller(side, scenario="ucwa_cancel", duration_ms=1500).start(wait=0)
    try:
        # the app does not poll (in the background): its phone is woken by the push
        mobile.wait_event("CALL_INCOMING", timeout=10)
        mobile.wait_event("CALL_CLOSED", timeout=10)
        uac.proc.wait(15)
    finally:
        uac.stop()
    logs = missed_logs(alice)
    assert [(x["type"], x["direction"]) for x in logs][-1:] == [("AudioLog", "Incoming")]
    rcpt = logs[-1]["_embedded"]["conversationLogRecipient"][0]
    assert rcpt["sipUri"] == f"tel:{CALLER}", rcpt
    missed = alice.app.get("/communication/missedItems").json()
    assert missed["missedConversationsCount"] >= 1, missed
    # and the invitation ended Missed
    assert alice.wait("audioVideoInvitation", "completed").get("reason", {}).get(
        "subcode") == "Missed"
    deadline, events = time.time() + 10, []
    while "missed-call" not in events and time.time() < deadline:
        events = [p["payload"]["event"] for p in apns_mock["control"]("GET", "/mock/pushes")]
        time.sleep(0.1)
    assert "call" in events and "missed-call" in events, events


# --- acceptWithPhoneAudio -------------------------------------------------------------


def accept_on_phone(app, ring, number=MOBILE, expect=204):
    r = app.request("POST", ring.links["acceptWithPhoneAudio"]["href"],
                    data=json.dumps({"phoneNumber": number} if number else {}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == expect, r.text
    return r


def holds_and_resumes(remote, mobile):
    """The remote party holds the call and resumes it (baresip's hold, resume: re-INVITEs
    with a=sendonly, then a=sendrecv); each reaches the mobile as a new offer (a
    re-INVITE through rtpengine), whose answer goes back in the 200."""
    for command, direction in (("hold", "recvonly"), ("resume", "sendrecv")):
        while not mobile.events.empty():
            mobile.events.get_nowait()
        assert remote.command(command).get("ok"), f"baresip did not take {command}"
        ev = mobile.wait_event("CALL_REMOTE_SDP", timeout=10)
        assert ev.get("param") == "offer", ev
        deadline = time.time() + 5
        while time.time() < deadline and not re.search(
                r"a=" + direction, remote.command("callstat").get("data", "")):
            time.sleep(0.2)


def caller_and_mobile_bridged(side, mobile, pstn_phone, leg="-pa"):
    """Each hears the other's tone through rtpengine, whose only call is the mobile's
    leg (the apps' leg is gone)."""
    heard = mobile.heard(CALLER_HZ)
    assert heard.ok, f"the mobile does not hear the caller's {CALLER_HZ} Hz: {heard}"
    heard = pstn_phone.heard(MOBILE_HZ)
    assert heard.ok, f"the caller does not hear the mobile's {MOBILE_HZ} Hz: {heard}"
    calls = side.rtp.calls()
    assert len(calls) == 1 and calls[0].endswith(leg), calls


def test_accept_with_phone_audio(fe, side, users, mobile, pstn_phone):
    """A call from a PSTN phone answered with acceptWithPhoneAudio: the server calls
    alice's mobile, and when it answers bridges it to the caller through rtpengine (the
    caller's 200 carries the mobile leg's description): each hears the other's tone;
    alice's invitation completes Success; the mobile's hang-up ends it all."""
    forwarding(fe)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    pstn_phone.dial(f"sip:{ALICE_NUMBER}@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    assert "acceptWithPhoneAudio" in ring.links, ring.links
    accept_on_phone(alice, ring)
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert CALLER in incoming.get("peeruri", ""), incoming
    with pytest.raises(TimeoutError):     # the caller is not answered before the mobile
        pstn_phone.wait_event("CALL_ESTABLISHED", timeout=0.5)
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    pstn_phone.wait_event("CALL_ESTABLISHED", timeout=10)
    done = alice.wait("audioVideoInvitation", "completed")
    assert done.get("status") == "Success", done.raw
    # the conversation goes on with phoneAudio, not audioVideo
    alice.wait("phoneAudio", "updated", where=lambda e: alice.state_of(e) == "Connected")
    conv = alice.get(ring.conversation)
    assert conv["activeModalities"] == ["PhoneAudio"], conv
    assert "phoneAudio" in conv["_links"] and "audioVideo" not in conv["_links"], conv
    pa = alice.get(conv["_links"]["phoneAudio"]["href"])
    assert pa["state"] == "Connected" and pa["phoneNumber"] == f"tel:{MOBILE}", pa
    assert "holdPhoneAudio" not in pa["_links"], pa
    caller_and_mobile_bridged(side, mobile, pstn_phone)
    # the caller's re-INVITEs (hold, resume) reach the mobile, not the app
    holds_and_resumes(pstn_phone, mobile)
    alice.pump(timeout=1)
    assert not [e for e in alice.queue if e.rel == "audioVideoRenegotiation"], alice.queue
    assert alice.get(conv["_links"]["phoneAudio"]["href"])["state"] == "Connected"
    caller_and_mobile_bridged(side, mobile, pstn_phone)
    mobile.hangup()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    pstn_phone.wait_event("CALL_CLOSED", timeout=10)
    alice.wait("phoneAudio", "updated", where=lambda e: alice.state_of(e) != "Connected")
    alice.wait("conversation", "deleted", sender="communication")
    rtpengine_forgets(side)


def test_accept_with_phone_audio_not_answered(fe, side, users, mobile):
    """The mobile does not answer: when the call's ring time (UcwaCallRingTimeout from
    the caller's INVITE) runs out the caller gets 480 (as when nobody answers), the
    mobile's leg is canceled, alice's invitation completes Failure, Missed."""
    forwarding(fe)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    uac = caller(side, duration_ms=500).start(wait=0)
    try:
        ring = alice.ringing(timeout=10)
        accept_on_phone(alice, ring)
        mobile.wait_event("CALL_INCOMING", timeout=10)
        done = alice.wait("audioVideoInvitation", "completed", timeout=2 * RING_S + 5)
        assert done.get("status") == "Failure", done.raw
        # nobody was connected: a missed call, as when nobody answers
        assert done.get("reason", {}).get("subcode") == "Missed", done.raw
        mobile.wait_event("CALL_CLOSED", timeout=5)
        assert final_answers(uac) == [480]
    finally:
        uac.stop()
    rtpengine_forgets(side)


def test_accept_with_phone_audio_refused(fe, side, users, mobile):
    """Policy off (frank: EnableOutsideVoice Off): 403 and nothing is called. Someone
    else's invitation: 404; not a number: 400; twice: 409."""
    forwarding(fe)
    frank = CallApp.signed_in(users("frank@contoso.test"))
    uac = caller(side, duration_ms=500, ruri=f"sip:frank@{DOMAIN}").start(wait=0)
    try:
        ring = frank.ringing(timeout=10)
        assert "acceptWithPhoneAudio" not in ring.links, ring.links
        r = frank.request("POST", ring.invitation + "/acceptWithPhoneAudio",
                          data=json.dumps({"phoneNumber": MOBILE}),
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 403 and r.json().get("code") == "Forbidden", r.text
        ring.decline()
        uac.proc.wait(10)
    finally:
        uac.stop()
    with pytest.raises(TimeoutError):
        mobile.wait_event("CALL_INCOMING", timeout=0.5)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    bob = CallApp.signed_in(users("bob@contoso.test"))
    uac = caller(side, duration_ms=20000).start(wait=0)   # the app hangs up first
    try:
        ring = alice.ringing(timeout=10)
        r = bob.request("POST", ring.links["acceptWithPhoneAudio"]["href"],
                        data=json.dumps({"phoneNumber": MOBILE}),
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 404, r.text
        accept_on_phone(alice, ring, number="not a number", expect=400)
        accept_on_phone(alice, ring)
        accept_on_phone(alice, ring, expect=409)
        mobile.wait_event("CALL_INCOMING", timeout=10)
        mobile.accept()
        mobile.wait_event("CALL_ESTABLISHED", timeout=10)
        alice.wait("phoneAudio", "updated", where=lambda e: alice.state_of(e) == "Connected")
        conv = alice.get(ring.conversation)
        pa = conv["_links"]["phoneAudio"]["href"]
        alice.post(pa + "/holdPhoneAudio", expect=(409,))
        # the app hangs up: both legs get their BYE
        alice.post(alice.get(pa)["_links"]["stopPhoneAudio"]["href"])
        mobile.wait_event("CALL_CLOSED", timeout=10)
        alice.wait("conversation", "deleted", sender="communication")
        deadline = time.time() + 5      # and the caller its BYE
        while not uac.requests("BYE") and time.time() < deadline:
            time.sleep(0.1)
        assert uac.requests("BYE"), "the caller got no BYE"
    finally:
        uac.stop()
    rtpengine_forgets(side)


# --- replaceWithPhoneAudio ------------------------------------------------------------


def replace_on_phone(app, call, number=MOBILE, expect=204):
    href = call.audio_video()["_links"]["replaceWithPhoneAudio"]["href"]
    r = app.request("POST", href, data=json.dumps({"phoneNumber": number}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == expect, r.text
    return href


def moved_to(app, call, mobile):
    """replaceWithPhoneAudio of call to the mobile, which answers: the app's audioVideo
    ends, its phoneAudio is Connected."""
    replace_on_phone(app, call)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    app.wait("audioVideo", "updated", where=lambda e: e.get("state") == "Disconnected"
               or (e.embedded or {}).get("state") == "Disconnected")
    app.wait("phoneAudio", "updated", where=lambda e: app.state_of(e) == "Connected")


def answered_from_pstn(fe, users, pstn_phone, peer):
    """The PSTN phone calls alice, her app answers (WebRTC, APP_HZ): (app, call)."""
    forwarding(fe)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    pstn_phone.dial(f"sip:{ALICE_NUMBER}@{DOMAIN}")
    ring = alice.ringing(timeout=10)
    ring.accept(peer().answer(ring.sdp()))
    ring.connected()
    pstn_phone.wait_event("CALL_ESTABLISHED", timeout=10)
    return alice, ring


def test_replace_with_phone_audio(fe, side, users, mobile, pstn_phone, peer):
    """A connected call from a PSTN phone moved to alice's mobile (Wi-Fi lost): the
    server calls the mobile, then re-INVITEs the caller to the mobile leg through
    rtpengine; the app's audioVideo ends (Disconnected) and phoneAudio is Connected; the
    caller's tone is heard on the mobile and the mobile's by the caller; the caller's
    hang-up ends it all."""
    alice, ring = answered_from_pstn(fe, users, pstn_phone, peer)
    moved_to(alice, ring, mobile)
    conv = alice.get(ring.conversation)
    assert conv["activeModalities"] == ["PhoneAudio"], conv
    caller_and_mobile_bridged(side, mobile, pstn_phone)
    holds_and_resumes(pstn_phone, mobile)
    caller_and_mobile_bridged(side, mobile, pstn_phone)
    pstn_phone.hangup()
    pstn_phone.wait_event("CALL_CLOSED", timeout=10)
    mobile.wait_event("CALL_CLOSED", timeout=10)
    alice.wait("conversation", "deleted", sender="communication")
    rtpengine_forgets(side)


def test_replace_with_phone_audio_refused_by_phone(fe, side, users, mobile, pstn_phone,
                                                   peer):
    """The mobile refuses: the call goes on with the app as it was (audioVideo, its
    link offered again); twice while the first is under way: 409."""
    alice, ring = answered_from_pstn(fe, users, pstn_phone, peer)
    href = replace_on_phone(alice, ring)
    r = alice.request("POST", href, data=json.dumps({"phoneNumber": MOBILE}),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 409, r.text
    mobile.wait_event("CALL_INCOMING", timeout=10)
    mobile.hangup()                          # refused
    mobile.wait_event("CALL_CLOSED", timeout=10)
    deadline = time.time() + 5
    while "replaceWithPhoneAudio" not in ring.audio_video()["_links"] \
            and time.time() < deadline:
        time.sleep(0.1)
    av = ring.audio_video()
    assert av["state"] == "Connected" and "replaceWithPhoneAudio" in av["_links"], av
    heard = pstn_phone.heard(APP_HZ)
    assert heard.ok, f"the caller no longer hears the app's {APP_HZ} Hz: {heard}"
    ring.hang_up()
    pstn_phone.wait_event("CALL_CLOSED", timeout=10)
    rtpengine_forgets(side)


@pytest.fixture(scope="module")
def desk(side):
    """A SIP phone registered on Kamailio as desk@contoso.test (sip_side's phone 1)."""
    return side.phone("desk", 1, tone=DESK_HZ)


def desk_and_mobile_bridged(desk, mobile):
    heard = mobile.heard(DESK_HZ)
    assert heard.ok, f"the mobile does not hear the phone's {DESK_HZ} Hz: {heard}"
    heard = desk.heard(MOBILE_HZ)
    assert heard.ok, f"the phone does not hear the mobile's {MOBILE_HZ} Hz: {heard}"


def test_replace_with_phone_audio_of_a_placed_call(fe, side, users, mobile, desk, peer):
    """A call alice's app placed to a SIP phone, moved to her mobile: the mobile is
    called with rtpengine's offer made from the phone's answer, the phone re-INVITEd to
    the mobile's leg; the phone's tone is heard on the mobile and the mobile's on the
    phone; the phone's hang-up ends it all."""
    forwarding(fe)
    alice = CallApp.signed_in(users("alice@contoso.test"))
    a = peer()
    call = alice.call(f"sip:desk@{DOMAIN}", a.offer())
    call.started()
    desk.wait_event("CALL_INCOMING", timeout=10)
    desk.accept()
    a.accept(call.answered(timeout=15).decode())
    desk.wait_event("CALL_ESTABLISHED", timeout=10)
    call.connected()
    moved_to(alice, call, mobile)
    desk_and_mobile_bridged(desk, mobile)
    calls = side.rtp.calls()
    assert len(calls) == 1, calls
    # the phone's re-INVITEs (hold, resume) reach the mobile; the tones flow again
    holds_and_resumes(desk, mobile)
    desk_and_mobile_bridged(desk, mobile)
    desk.hangup()
    desk.wait_event("CALL_CLOSED", timeout=10)
    mobile.wait_event("CALL_CLOSED", timeout=10)
    alice.wait("conversation", "deleted", sender="communication")
    rtpengine_forgets(side)


def test_replace_with_phone_audio_app_to_app(fe, side, users, peer):
    """A call between two applications has no media anchor: no link, and 403."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    bob = CallApp.signed_in(users("bob@contoso.test"))
    a, b = peer(), peer()
    out = alice.call("bob@contoso.test", a.offer())
    ring = bob.ringing(timeout=10)
    ring.accept(b.answer(ring.sdp()))
    out.answered()
    av = out.audio_video()
    assert av["state"] == "Connected" and "replaceWithPhoneAudio" not in av["_links"], av
    r = alice.request("POST", av["_links"]["self"]["href"] + "/replaceWithPhoneAudio",
                      data=json.dumps({"phoneNumber": MOBILE}),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 403 and r.json().get("code") == "Forbidden", r.text
    out.hang_up()
    ring.ended()


# --- calls from another application follow the callee's forwarding --------------------


def test_app_call_immediate_forward_tones(fe, side, users, mobile, peer):
    """alice forwards at once to her mobile; bob's app calls her: her apps do not ring,
    the mobile does (the caller shown as bob), and when it answers bob's call connects to
    it through rtpengine (his WebRTC offer anchored, plain RTP to the mobile): each hears
    the other's tone; bob's hang-up ends it."""
    forwarding(fe, "ImmediateForward", immediate=f"tel:{MOBILE}")
    alice = CallApp.signed_in(users("alice@contoso.test"))
    bob = CallApp.signed_in(users("bob@contoso.test"))
    a = peer()
    call = bob.call(f"sip:alice@{DOMAIN}", a.offer())
    call.started()
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert "bob@" in incoming.get("peeruri", ""), incoming
    mobile.accept()
    answer = call.answered(timeout=15)
    a.accept(answer.decode())
    a.wait_connected(timeout=15)
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    call.connected()
    t0 = time.monotonic()
    heard_app = a.heard(MOBILE_HZ, since=t0)
    heard = mobile.heard(APP_HZ)
    assert heard.ok, f"the mobile does not hear the app's {APP_HZ} Hz: {heard}"
    assert heard_app.ok, f"the app does not hear the mobile's {MOBILE_HZ} Hz: {heard_app}"
    calls = side.rtp.calls()
    assert len(calls) == 1, calls
    alice.pump(timeout=1)
    assert not any(e.rel == "audioVideoInvitation" for e in alice.queue), alice.queue
    call.hang_up()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    rtpengine_forgets(side)


def test_app_call_immediate_forward_at_the_gateway(fe, side, users, peer):
    """The forwarded call at the SIPp gateway (set 1): for sip:+E164;user=phone, showing
    bob (From and P-Asserted-Identity) and alice's work number in Diversion
    (unconditional); bob's call connects to it."""
    forwarding(fe, "ImmediateForward", immediate="tel:+16660199")
    bob = CallApp.signed_in(users("bob@contoso.test"))
    before = len(side.gw.requests("INVITE"))
    a = peer()
    call = bob.call(f"sip:alice@{DOMAIN}", a.offer())
    invite = side.gw.wait_request("INVITE", count=before + 1)
    assert invite.ruri.startswith("sip:+16660199@") and "user=phone" in invite.ruri, \
        invite.ruri
    assert "bob@contoso.test" in invite.header("From"), invite.text
    assert "bob@contoso.test" in invite.header("P-Asserted-Identity"), invite.text
    assert invite.header("Diversion").startswith(f"<tel:{ALICE_NUMBER}>"), invite.text
    assert "reason=unconditional" in invite.header("Diversion"), invite.text
    a.accept(call.answered(timeout=15).decode())
    call.connected()
    call.hang_up()
    rtpengine_forgets(side)


@pytest.mark.parametrize("why", ["policy", "route", "own-number"])
def test_app_call_immediate_forward_gates(fe, side, users, mobile, peer, why):
    """A policy that no longer allows forwarding, a target no route allows, or a target
    that is alice's own number: her apps ring, nothing is called."""
    if why == "policy":
        forwarding(fe, "ImmediateForward", immediate=f"tel:{MOBILE}", allow_fwd=0)
    elif why == "route":
        forwarding(fe, "ImmediateForward", immediate="tel:+4930123456")
    else:
        forwarding(fe, "ImmediateForward", immediate=f"tel:{ALICE_NUMBER}")
    alice = CallApp.signed_in(users("alice@contoso.test"))
    bob = CallApp.signed_in(users("bob@contoso.test"))
    call = bob.call(f"sip:alice@{DOMAIN}", peer().offer())
    ring = alice.ringing(timeout=10)
    with pytest.raises(TimeoutError):
        mobile.wait_event("CALL_INCOMING", timeout=1)
    ring.decline()
    call.failed()


def app_calls_alice(users, peer, before=None):
    """bob's app (peer a, APP_HZ) calls alice (before(alice's app) first): (alice's app,
    bob's app, a, bob's call)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    if before:
        before(alice)
    bob = CallApp.signed_in(users("bob@contoso.test"))
    a = peer()
    call = bob.call(f"sip:alice@{DOMAIN}", a.offer())
    call.started()
    return alice, bob, a, call


def app_and_mobile_bridged(a, mobile, call):
    """bob's call answered by the mobile: connected, each hears the other's tone."""
    a.accept(call.answered(timeout=15).decode())
    a.wait_connected(timeout=15)
    call.connected()
    t0 = time.monotonic()
    heard_app = a.heard(MOBILE_HZ, since=t0)
    heard = mobile.heard(APP_HZ)
    assert heard.ok, f"the mobile does not hear the app's {APP_HZ} Hz: {heard}"
    assert heard_app.ok, f"the app does not hear the mobile's {MOBILE_HZ} Hz: {heard_app}"


def pushes(apns_mock):
    return [p["payload"]["event"] for p in apns_mock["control"]("GET", "/mock/pushes")]


def test_app_call_unanswered_forward(fe, side, users, mobile, peer, apns_mock):
    """alice forwards unanswered calls after 5 s (the shortest delay): bob's call rings
    her app (from bob), after the delay her invitation ends Missed (a missed AudioLog,
    and the missed call's push to her app in the background) and the mobile
    rings; bob's invitation rang on and connects to the mobile: tones both ways."""
    forwarding(fe, unanswered=f"tel:{MOBILE}", unanswered_delay=5)
    seen_pushes = len(pushes(apns_mock))

    def background(app):
        r = app.app.post("/pushRegistrations", {"provider": "APNs", "token": DEVICE})
        assert r.status_code == 201, r.text
        assert app.app.post("/reportBackground").status_code == 204
    alice, bob, a, call = app_calls_alice(users, peer, before=background)
    t0 = time.time()
    ring = alice.ringing(timeout=10)
    frm = ring.inv.get("_embedded", {}).get("from") or alice.get(ring.links["from"]["href"])
    assert frm["uri"] == "sip:bob@contoso.test", frm
    seen = len(missed_logs(alice, since=-1))
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert 4.5 <= time.time() - t0 <= 6.5, time.time() - t0
    assert "bob@" in incoming.get("peeruri", ""), incoming
    assert ring.missed(timeout=5).get("subcode") == "Missed"
    assert call.completed() is None, "bob's invitation ended with alice's"
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    app_and_mobile_bridged(a, mobile, call)
    logs = missed_logs(alice, since=seen)
    assert logs and logs[-1]["type"] == "AudioLog", logs
    deadline, events = time.time() + 10, []
    while "missed-call" not in events and time.time() < deadline:
        events = pushes(apns_mock)[seen_pushes:]
        time.sleep(0.1)
    assert "missed-call" in events, events
    mobile.hangup()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    call.ended()
    rtpengine_forgets(side)


def test_app_call_simultaneous_ring_answered_on_mobile(fe, side, users, mobile, peer):
    """Simultaneous ring after 1 s: alice's app rings at once, the mobile a second later;
    the mobile answers: alice's invitation ends ConnectedElsewhere, bob's call connects
    to the mobile (tones both ways); bob's hang-up ends the mobile's call."""
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=1)
    alice, bob, a, call = app_calls_alice(users, peer)
    t0 = time.time()
    ring = alice.ringing(timeout=10)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    assert 0.5 <= time.time() - t0 <= 2.5, time.time() - t0
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    assert ring.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    app_and_mobile_bridged(a, mobile, call)
    call.hang_up()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    rtpengine_forgets(side)


def test_app_call_simultaneous_ring_answered_on_app(fe, side, users, mobile, peer):
    """Simultaneous ring, answered on alice's app: the mobile's leg is canceled, bob and
    alice hear each other; alice's hang-up ends bob's call."""
    forwarding(fe, "SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    alice, bob, a, call = app_calls_alice(users, peer)
    ring = alice.ringing(timeout=10)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    b = peer(MOBILE_HZ)
    ring.accept(b.answer(ring.sdp()))
    closed = mobile.wait_event("CALL_CLOSED", timeout=10)
    assert "reset by peer" in closed.get("param", ""), closed
    a.accept(call.answered(timeout=15).decode())
    a.wait_connected(timeout=15)
    call.connected()
    t0 = time.monotonic()
    assert a.heard(MOBILE_HZ, since=t0).ok, "bob does not hear alice"
    assert b.heard(APP_HZ, since=t0).ok, "alice does not hear bob"
    ring.hang_up()
    call.ended()
    rtpengine_forgets(side)


def test_loop_header_from_elsewhere_is_403(fe, side):
    """An INVITE to the primary port from anyone but Kamailio is refused even when it
    carries a P-Ucwa-Loop header (only ucwa-sipd's own token opens that door)."""
    r = kamailio.sip_request("INVITE", f"sip:alice@{DOMAIN}",
                             ("127.0.0.1", 5089 + side.offset), source=("127.0.0.2", 0),
                             from_="sip:mallory@127.0.0.2",
                             headers=["Content-Type: application/sdp",
                                      "P-Ucwa-Loop: 00000000000000000000000000000000"],
                             body="v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 "
                                  "127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert r is not None and r.status == 403, r


@pytest.mark.parametrize("within", [False, True])
def test_app_call_work_hours(fe, side, users, mobile, peer, within):
    """An immediate forward for Workhours of a call from bob's app (ucwa-sipd tells
    whether now is within alice's hours): within them the mobile rings and bob's call
    connects to it, outside them alice's app rings and the mobile does not."""
    local = datetime.datetime.now(zoneinfo.ZoneInfo(WORK_ZONE))
    hh = [(local + datetime.timedelta(hours=h)).strftime("%H:00") for h in (-1, 1, 2)]
    work_hours(fe, "Mon-Sun", *(hh[0:2] if within else hh[1:3]))
    forwarding(fe, "ImmediateForward", immediate=f"tel:{MOBILE}", period="Workhours")
    try:
        alice, bob, a, call = app_calls_alice(users, peer)
        if within:
            mobile.wait_event("CALL_INCOMING", timeout=10)
            mobile.accept()
            mobile.wait_event("CALL_ESTABLISHED", timeout=10)
            app_and_mobile_bridged(a, mobile, call)
            alice.pump(timeout=1)
            assert not any(e.rel == "audioVideoInvitation" for e in alice.queue), alice.queue
        else:
            ring = alice.ringing(timeout=10)
            with pytest.raises(TimeoutError):
                mobile.wait_event("CALL_INCOMING", timeout=1.5)
            ring.accept(peer(MOBILE_HZ).answer(ring.sdp()))
            a.accept(call.answered(timeout=15).decode())
            call.connected()
        call.hang_up()
        if within:
            mobile.wait_event("CALL_CLOSED", timeout=10)
    finally:
        con = sqlite3.connect(fe.db, timeout=10)
        con.execute("DELETE FROM ucwa_work_hours")
        con.commit()
        con.close()
    rtpengine_forgets(side)
