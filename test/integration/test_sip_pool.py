"""SIP calls on a pool of Front Ends (issue 13 on issue 11's pool): two Front Ends of pool01
(test/lib/pool.py: PostgreSQL, HAProxy on the shipped config), each with UcwaSip On and its
own ucwa-sipd on its own address; one SIP side (sip_side.SipSide: Kamailio, rtpengine)
whose dispatcher set 9 lists both ucwa-sipds (UCWA_SET, priority order here so that calls
from SIP land on FE1's: the tests know which Front End holds which call); baresip phones.

- dave's phone calls alice, whose applications are on FE1 and FE2: both ring (the call's
  SIP side is FE1's ucwa-sipd, "~sip:fe1" in the pool), the answer on FE2 wins, FE1's
  sees ConnectedElsewhere, a tone is heard each way; dave hangs up (FE2's call ends);
  again, FE1's answers and hangs up (dave's call closes).
- the caller cancels (both Missed); an application declines (603, the other stops).
- the PSTN calls alice's work number: her apps on both Front Ends ring, the caller shown
  as its number; a number that is nobody's: 480, the same replies (no 180 first) as the
  number of a user with no application anywhere; with an immediate forward to a number the
  call goes to the gateway (Diversion: her number) and her apps ring nowhere.
- alice's application on FE2 calls carol's phone: the INVITE leaves from FE2's ucwa-sipd;
  and a number (tel:0100, her voice policy in the pool's PostgreSQL): the SIPp gateway gets
  sip:+15550100 with her identity, from FE2's address.
- dave's phone holds a call answered on FE2 and the app leaves it unanswered: the
  re-INVITE gets 500 (Retry-After) after 8 s instead of hanging; resume, tones again.
- FE1's ucwa-sipd is killed with a call it took, answered on FE2: the new process takes it
  back and the pool keeps it (the app stays connected, tones both ways), hang-up from
  the app, then (a second call) from the phone; the new process takes calls.
- simultaneous ring on a pool (alice's mobile +15600199, baresip behind gateway set 6):
  FE1's ucwa-sipd rings her apps on both Front Ends and, after ringDelay, the mobile;
  answered on the mobile, both apps see ConnectedElsewhere and dave and the mobile hear
  each other; answered on the app on FE2, the mobile's leg is canceled. Unanswered
  forward: after its delay both apps' invitations end Missed (one missed call), the
  mobile rings and connects.
- bob's application on FE2 calls alice (apps on FE1 and FE2), who forwards: at once to
  her mobile (FE2's ucwa-sipd sends bob's call there, tones both ways, her apps silent);
  unanswered after 5 s (FE2's ucwa-sipd loops the call to itself, her apps on both Front
  Ends ring, then end Missed, one missed call, and the mobile connects to bob);
  simultaneous ring answered by her app on FE1 (the mobile's leg canceled).
- UcwaSipAnchorAppCalls On: bob's app on FE2 calls alice, FE2's SIP side rings her apps
  as a call from SIP; her app on FE1 answers on her phone (acceptWithPhoneAudio), which
  FE2's ucwa-sipd calls; bob hears his tone echoed. With her app on FE2 only, the same
  call is anchored too.
- FE1 is killed (SIGKILL) with a call from dave answered on FE2 (its SIP side on FE1) and
  a call from FE2 to carol (its SIP side on FE2): the first ends on FE2 as a Front End gone
  (within the lease), the second stays up and hangs up cleanly; Kamailio then sends a
  call from SIP to FE2's ucwa-sipd at once, Kamailio's OPTIONS probe having marked FE1
  inactive (no INVITE to its dead address, no 2 s failover)."""
import os
import re
import signal
import time

import pytest

import conftest
import kamailio
import pool as pools
import sipp
from sip_side import GATEWAY, SipSide
from test_pool import mobility_allowed, wait_for
from ucwa_call import CallApp
# the phone dave (on this module's side), the media loop and the apps' WebRTC peers
from test_sip_calls import (APP_HZ, DOMAIN, PHONE_HZ, VOICE_SQL,  # noqa: F401 (fixtures)
                            app_holds_and_resumes, codec_change_and_glare, dave,
                            hear_each_other, media, peer, phone_reneg, tones_both_ways,
                            wait_log)
from test_sip_snr import accept_on_phone, replace_on_phone
from ucwa_client import FAST, pool_fe

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")

FE_SET = 9                    # the pool's Front Ends in Kamailio's dispatcher list
PING_S = 1                    # Kamailio's OPTIONS probe of the Front Ends (PING_INTERVAL)
PSTN_UAC, PSTN_MEDIA = 5078, 5079    # (+ offset) a PSTN caller at the gateway's address
MOBILE_SET, MOBILE_N = 6, 6   # alice's mobile: gateway set 6, sip_side's phone 6 addresses
MOBILE, MOBILE_HZ = "+15600199", 1500
ALLOWED = mobility_allowed() + [
    re.compile(r"UCWA007\d\d"),       # ucwa-sipd's calls (info)
    re.compile(r"UCWA009\d\d"),       # the SIP side on a pool (info; 00900 when FE1 died)
    re.compile(r"UCWA008[23][0-9]"),  # a number's user, forwarding and its legs (info)
    re.compile(r"UCWA0100[0-9]"),     # forwarding legs on a pool (info)
    re.compile(r"UCWA00642"),         # ucwa-sipd restarted
    re.compile(r"UCWA0086[1-5]"),     # its calls taken back (notice, info)
    re.compile(r"UCWA01241"),         # a phone's re-INVITE the application never answered
]


@pytest.fixture(scope="module")
def side(workdir):
    offset = kamailio.free_sip_offset(list(SipSide.BASES) + [5088, 5089, PSTN_UAC, PSTN_MEDIA])
    fes = [f"sip:{pools.FE_ADDR.format(i)}:{5089 + offset}" for i in (1, 2)]
    mobile = f"sip:127.0.0.{32 + MOBILE_N}:{5100 + 4 * MOBILE_N + offset}"
    s = SipSide(workdir / "sip-pool", host="127.0.0.1", domain=DOMAIN, offset=offset,
                ucwa=[pools.FE_ADDR.format(i) for i in (1, 2)],
                gateways={FE_SET: fes, MOBILE_SET: [mobile]})
    s.kam.defines += [f"UCWA_SET={FE_SET}", 'UCWA_SET_ALG="8"', f"PING_INTERVAL={PING_S}"]
    s.kam.probed.add(FE_SET)     # the Front Ends are probed (flag 8), the gateways not
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pl(workdir, side):
    o = side.offset

    def sip(i):
        return "\n".join(["UcwaSip On", f"UcwaSipListenAddress {pools.FE_ADDR.format(i)}",
                          f"UcwaSipExternalListeningPort {5088 + o}",
                          f"UcwaSipPrimaryListeningPort {5089 + o}",
                          f"UcwaSipProxy {side.kam.host}:{side.kam.port}",
                          f"UcwaRtpengine {side.rtp.host}:{side.rtp.ng_port}",
                          "UcwaSipAnchorAppCalls On"])
    p = pools.start_pool(workdir / "sip-pool-fes", n=2, extra=FAST + "\nUcwaCallRingTimeout 15",
                         fe_extra={1: sip(1), 2: sip(2)}, lease=4)
    p.pg.psql(VOICE_SQL)      # the voice policy's tables are the module's (made at start)
    p.pg.psql("INSERT INTO ucwa_voice_routes VALUES ('Mobiles', 6, '^\\+1560\\d{4}$', "
              f"'Local', '{MOBILE_SET}', NULL)")
    yield p
    logs = [(f.name, f.apache.error_log) for f in p.fes]
    p.stop()
    bad = []
    for name, log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        bad += [f"{name}: {x}" for x in conftest.unexpected_log_lines(text, ALLOWED)]
    assert not bad, "unexpected lines in the Front Ends' error logs:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def carol(side):
    return side.phone("carol", 2, tone=PHONE_HZ)


def in_pool(pl, sip, fe):
    return pl.pg.psql(f"SELECT count(*) FROM ucwa_pool_user WHERE sip = '{sip}' AND fe = '{fe}' "
                      "AND available > 0").strip() == "1"


@pytest.fixture
def alice(pl):
    """alice's applications on FE1 and FE2 (both take calls), known to the pool."""
    apps = [CallApp.signed_in(pool_fe(pl, i).user(f"alice@{DOMAIN}")) for i in (1, 2)]
    for i in (1, 2):
        wait_for(lambda: in_pool(pl, f"alice@{DOMAIN}", f"fe{i}"), what=f"alice on fe{i}")
    yield apps
    for a in apps:
        try:
            a.app.delete()
        except Exception:
            pass              # its Front End was killed


def sip_calls(pl, i):
    """Calls ucwa-sipd of Front End i holds (its status, through /ucwa-status)."""
    return pool_fe(pl, i).status()["sip"]["calls"]


def test_phone_rings_both_front_ends_first_answer_wins(side, pl, alice, dave, peer):
    a1, a2 = alice
    t0 = time.monotonic()
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1 = a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    print(f"phone dial to both Front Ends' apps ringing: {time.monotonic() - t0:.3f} s")
    offer = ring2.sdp()
    assert "UDP/TLS/RTP/SAVPF" in offer and "a=ice-ufrag" in offer, offer
    assert ring1.sdp() == offer          # the same offer, through the pool's table
    assert sip_calls(pl, 1) == 1 and sip_calls(pl, 2) == 0   # FE1's ucwa-sipd holds it
    p = peer()
    ring2.accept(p.answer(offer))
    assert ring1.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    p.wait_connected(timeout=15)
    hear_each_other(p, dave, "on FE2: ")
    # the phone hangs up: the call on FE2 ends
    dave.hangup()
    ring2.ended()
    dave.wait_event("CALL_CLOSED")
    # again, answered on FE2, hung up by that app (its "left" crosses to FE1's ucwa-sipd)
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1 = a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    ring2.accept(peer().answer(ring2.sdp()))
    assert ring1.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    ring2.hang_up()
    ring2.ended()
    dave.wait_event("CALL_CLOSED")
    # and answered on FE1, hung up by the app
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1 = a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    ring1.accept(peer().answer(ring1.sdp()))
    assert ring2.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    ring1.hang_up()
    ring1.ended()
    dave.wait_event("CALL_CLOSED")
    wait_for(lambda: sip_calls(pl, 1) == 0, what="FE1's ucwa-sipd without calls")


def test_phone_cancels_and_app_declines(pl, alice, dave):
    a1, a2 = alice
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    dave.hangup()                        # CANCEL: every Front End stops ringing
    assert ring1.missed(timeout=10).get("subcode") == "Missed"
    assert ring2.missed(timeout=10).get("subcode") == "Missed"
    dave.wait_event("CALL_CLOSED")
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    ring2.decline()                      # on FE2: the phone gets 603, FE1 stops
    closed = dave.wait_event("CALL_CLOSED", timeout=10)
    assert "603" in str(closed) or "Decline" in str(closed), closed
    assert a1.wait("audioVideoInvitation", "completed", timeout=10).get("status") == "Failure"


def test_phone_calls_nobody_in_the_pool(dave):
    """erin has no application anywhere in the pool (nor a phone): 480."""
    dave.dial(f"sip:erin@{DOMAIN}")
    closed = dave.wait_event("CALL_CLOSED", timeout=10)
    assert "480" in str(closed) or "Unavailable" in str(closed), closed


def call_carol_from_fe2(pl, a2, carol, peer):
    p = peer()
    before = (sip_calls(pl, 1), sip_calls(pl, 2))
    call = a2.call(f"sip:carol@{DOMAIN}", p.offer())
    call.started()
    carol.wait_event("CALL_INCOMING")
    # FE2's ucwa-sipd sent it
    assert (sip_calls(pl, 1), sip_calls(pl, 2)) == (before[0], before[1] + 1)
    carol.accept()
    p.accept(call.answered(timeout=15).decode())
    carol.wait_event("CALL_ESTABLISHED")
    call.connected()
    return call, p


def test_app_on_fe2_calls_a_phone(pl, alice, carol, peer):
    _, a2 = alice
    call, p = call_carol_from_fe2(pl, a2, carol, peer)
    p.wait_connected(timeout=15)
    heard = carol.heard(APP_HZ)
    assert heard.ok, f"carol's phone does not hear the app on FE2: {heard}"
    carol.hangup()                       # the phone hangs up
    call.ended()
    call, p = call_carol_from_fe2(pl, a2, carol, peer)
    call.hang_up()                       # the app hangs up
    call.ended()
    carol.wait_event("CALL_CLOSED")


def test_app_on_fe2_calls_a_number(side, pl, alice, peer):
    _, a2 = alice
    before = len(side.gw.requests("INVITE"))
    call = a2.call("tel:0100", peer().offer())
    call.started()
    invite = side.gw.wait_request("INVITE", count=before + 1)
    assert invite.ruri.startswith("sip:+15550100@") and "user=phone" in invite.ruri, invite.ruri
    assert invite.header("P-Asserted-Identity") == f"<sip:alice@{DOMAIN}>", invite.text
    # from FE2's ucwa-sipd (its address in the Via Kamailio passed on)
    vias = [v for n, v in invite.headers if n == "via"]
    assert any(pools.FE_ADDR.format(2) + ":" in v for v in vias), vias
    call.answered(timeout=15)
    byes = len(side.gw.requests("BYE"))
    call.hang_up()
    call.ended()
    side.gw.wait_request("BYE", count=byes + 1)


def test_pstn_calls_a_work_number(side, pl, alice, peer):
    """The PSTN (a SIPp caller at the gateway's address) calls alice's work number (her
    LineURI in the pool's PostgreSQL): FE1's ucwa-sipd finds her, her apps on both Front
    Ends ring with the caller shown as tel:+15550123, the answer on FE2 wins; a number that
    is nobody's gets 480, as a user with no application."""
    a1, a2 = alice
    pl.pg.psql("INSERT INTO ucwa_voice_users VALUES ('alice@contoso.test', NULL, NULL, "
               "'tel:+15550100') ON CONFLICT (sip_uri) DO UPDATE SET line_uri = 'tel:+15550100'")
    uac = sipp.Sipp(side.root / "pstn-caller", "ucwa_call", addr=GATEWAY,
                    port=PSTN_UAC + side.offset, remote=side.kam.address, calls=1,
                    duration_ms=500, echo_port=PSTN_MEDIA + side.offset,
                    keys={"ruri": f"sip:+15550100@{DOMAIN};user=phone",
                          "pai": f"sip:+15550123@{GATEWAY};user=phone", "gwset": "1"})
    uac.start(wait=0)
    try:
        ring1 = a1.ringing(timeout=10)
        ring2 = a2.ringing(timeout=10)
        frm = ring2.inv.get("_embedded", {}).get("from") or a2.get(ring2.links["from"]["href"])
        assert frm["uri"] == "tel:+15550123" and frm["name"] == "+15550123", frm
        ring2.accept(peer().answer(ring2.sdp()))
        assert ring1.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
        assert uac.proc.wait(15) == 0, uac.errors()
        ring2.ended()
    finally:
        uac.stop()
    r = kamailio.sip_request("INVITE", f"sip:+15559999@{DOMAIN};user=phone",
                             side.kam.address, source=(GATEWAY, 0),
                             headers=["Content-Type: application/sdp"],
                             body="v=0\r\no=- 1 1 IN IP4 127.0.0.71\r\ns=-\r\nc=IN IP4 "
                                  "127.0.0.71\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert r is not None and r.status == 480, r


def test_a_number_without_applications_answers_as_nobodys(side, pl):
    """On a pool a gateway calls a number whose owner (frank) has no application anywhere,
    then a number that is nobody's: the caller sees the same replies, the 480 with nothing
    before it but Kamailio's 100 (no 180 telling that the number is someone's)."""
    pl.pg.psql("INSERT INTO ucwa_voice_users VALUES ('frank@contoso.test', NULL, NULL, "
               "'tel:+15550166') ON CONFLICT (sip_uri) DO UPDATE SET line_uri = 'tel:+15550166'")
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.71\r\ns=-\r\nc=IN IP4 127.0.0.71\r\nt=0 0\r\n"
           "m=audio 4000 RTP/AVP 0\r\n")
    seen, final = {}, {}
    for number in ("+15550166", "+15559999"):
        seen[number] = []
        r = final[number] = kamailio.sip_request("INVITE", f"sip:{number}@{DOMAIN};user=phone",
                                 side.kam.address, source=(GATEWAY, 0), timeout=10,
                                 headers=["Content-Type: application/sdp"], body=sdp,
                                 seen=seen[number])
        assert r is not None and r.status == 480, (number, r)
    assert seen["+15550166"] == seen["+15559999"], seen
    assert not any(" 18" in x for x in seen["+15550166"]), seen
    # the same headers (names, and Retry-After's value) in both 480s
    heads = {n: (sorted(r.headers), r.headers.get("retry-after")) for n, r in final.items()}
    assert heads["+15550166"] == heads["+15559999"], heads


def test_immediate_forward_on_a_pool(side, pl, alice):
    """alice forwards every call to +15550199 (her row in the pool's PostgreSQL): the
    PSTN calling her number reaches the gateway's +15550199 (route 'Local', set 1) with
    the caller as From and her number in Diversion, her apps ring on no Front End."""
    a1, a2 = alice
    pl.pg.psql("INSERT INTO ucwa_voice_users VALUES ('alice@contoso.test', NULL, NULL, "
               "'tel:+15550100') ON CONFLICT (sip_uri) DO UPDATE SET line_uri = 'tel:+15550100'")
    pl.pg.psql("INSERT INTO ucwa_call_forwarding VALUES ('alice@contoso.test', 'Always', "
               "'ImmediateForward', 'Disabled', 'Contact', 'tel:+15550199', 'None', NULL, 0, "
               "'None', NULL, 20, 1)")
    before = len(side.gw.requests("INVITE"))
    uac = sipp.Sipp(side.root / "pstn-caller", "ucwa_call", addr=GATEWAY,
                    port=PSTN_UAC + side.offset, remote=side.kam.address, calls=1,
                    duration_ms=500, echo_port=PSTN_MEDIA + side.offset,
                    keys={"ruri": f"sip:+15550100@{DOMAIN};user=phone",
                          "pai": f"sip:+15550123@{GATEWAY};user=phone", "gwset": "1"})
    uac.start(wait=0)
    try:
        invite = side.gw.wait_request("INVITE", count=before + 1)
        assert invite.ruri.startswith("sip:+15550199@"), invite.ruri
        assert "+15550123" in invite.header("From"), invite.text
        assert invite.header("Diversion").startswith("<tel:+15550100>"), invite.text
        assert "reason=unconditional" in invite.header("Diversion"), invite.text
        assert uac.proc.wait(15) == 0, uac.errors()
        for a in (a1, a2):
            assert a.pump(timeout=1) >= 0 and not any(
                e.rel == "audioVideoInvitation" for e in a.queue), a.queue
    finally:
        uac.stop()
        pl.pg.psql("DELETE FROM ucwa_call_forwarding WHERE owner = 'alice@contoso.test'")


def hold_and_resume(call, a, phone):
    """The phone holds and resumes (its re-INVITEs reach the app as renegotiations, which
    it answers), then the app holds and resumes (re-INVITEs to the phone, whose 200s come
    back as the answers; on hold the phone stops sending); tones both ways after each."""
    tones_both_ways(a, phone)
    assert phone.command("hold").get("ok"), "baresip did not take hold"
    assert "a=recvonly" in phone_reneg(call, a, "sendonly")
    assert phone.command("resume").get("ok"), "baresip did not take resume"
    phone_reneg(call, a, "sendrecv")
    tones_both_ways(a, phone)
    app_holds_and_resumes(call, a, phone)


def test_glare_across_the_pool(side, pl, alice, peer):
    """A scripted phone (SIPp, test/sip/phone_reneg.xml) calls alice (FE1's ucwa-sipd
    takes it) and her app on FE2 answers: the phone's codec change reaches it, then the
    app's renegotiation is crossed by the phone's hold, and as on one Front End the
    caller's goes first (the app's completes Conflict on FE2, the phone's reaches it)."""
    a1, a2 = alice

    def ringing():
        a1.ringing(timeout=10)
        return a2.ringing(timeout=10)
    uac = sipp.Sipp(side.root / "phone-reneg", "phone_reneg", addr=GATEWAY,
                    port=PSTN_UAC + side.offset, remote=side.kam.address, calls=1,
                    duration_ms=300, echo_port=PSTN_MEDIA + side.offset,
                    keys={"ruri": f"sip:alice@{DOMAIN}", "pai": f"sip:+14255550123@{DOMAIN}"})
    codec_change_and_glare(uac, a2, peer(), ringing)


def answered_on_fe2(alice, dave, peer):
    """dave's phone calls alice (FE1's ucwa-sipd takes it), her app on FE2 answers:
    (the call, its WebRTC peer), connected."""
    a1, a2 = alice
    a = peer()
    dave.dial(f"sip:alice@{DOMAIN}")
    a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    ring2.accept(a.answer(ring2.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    a.wait_connected(timeout=15)
    return ring2, a


def test_renegotiations_across_the_pool(pl, alice, dave, carol, peer):
    """dave's phone calls alice, whose app on FE2 answers: the call's SIP side is FE1's
    ucwa-sipd. The phone's re-INVITEs reach the app on FE2 (the pool's reneg, its answer
    back as reneg-answer into the 200) and the app's renegotiations reach the phone as
    re-INVITEs from FE1's ucwa-sipd. Then the same in the app's own call to carol's phone
    (its SIP side FE2's ucwa-sipd)."""
    _, a2 = alice
    ring2, a = answered_on_fe2(alice, dave, peer)
    assert sip_calls(pl, 1) == 1
    hold_and_resume(ring2, a, dave)
    ring2.hang_up()
    ring2.ended()
    dave.wait_event("CALL_CLOSED")
    call, p = call_carol_from_fe2(pl, a2, carol, peer)
    p.wait_connected(timeout=15)
    hold_and_resume(call, p, carol)
    call.hang_up()
    call.ended()
    carol.wait_event("CALL_CLOSED")


def test_phones_reinvite_the_app_never_answers(pl, alice, dave, peer):
    """dave's phone holds a call answered on FE2 (its SIP side FE1's ucwa-sipd), and the
    app on FE2 does not answer the renegotiation: after RENEG_WAIT (8 s) the phone's
    re-INVITE gets 500 with Retry-After instead of staying at 100 Trying until the phone
    gives up; the app's late answer is dropped, and the call goes on: the phone resumes,
    the app answers, tones both ways."""
    ring2, a = answered_on_fe2(alice, dave, peer)
    tones_both_ways(a, dave)
    t0 = time.monotonic()
    assert dave.command("hold").get("ok"), "baresip did not take hold"
    theirs = ring2.renegotiated(timeout=10)       # ... which the app leaves unanswered
    line = wait_log(pl.fes[0], r"UCWA01241: .*no answer from the application .*: 500",
                    timeout=20)
    waited = time.monotonic() - t0
    assert 7.5 < waited < 12, (waited, line)
    theirs.answer(a.answer(theirs.offer.decode()))   # too late: dropped by ucwa-sipd
    assert dave.command("resume").get("ok"), "baresip did not take resume"
    phone_reneg(ring2, a, "sendrecv")
    tones_both_ways(a, dave)
    ring2.hang_up()
    ring2.ended()
    dave.wait_event("CALL_CLOSED")


def test_call_via_work_on_fe2(side, pl, alice, carol):
    """alice's app on FE2 calls carol's phone via work, her callback number +15550107 the
    echoing gateway: FE2's ucwa-sipd places both legs (the callback's INVITE from FE2's
    address), carol hears her own tone back across the bridge; hold and resume re-INVITE
    carol, stop ends both legs. Then a target nobody answers fails naming it."""
    _, a2 = alice
    before = len(side.gw.requests("INVITE"))
    calls = sip_calls(pl, 2)
    call = a2.call_via_work(f"sip:carol@{DOMAIN}", phone="tel:+15550107")
    call.started()
    leg_a = side.gw.wait_request("INVITE", count=before + 1)
    assert leg_a.ruri.startswith("sip:+15550107@"), leg_a.ruri
    vias = [v for n, v in leg_a.headers if n == "via"]
    assert any(pools.FE_ADDR.format(2) + ":" in v for v in vias), vias
    carol.wait_event("CALL_INCOMING", timeout=10)
    carol.accept()
    call.connected()
    carol.wait_event("CALL_ESTABLISHED", timeout=10)
    assert sip_calls(pl, 2) == calls + 1 and sip_calls(pl, 1) == 0
    heard = carol.heard(PHONE_HZ)
    assert heard.ok, f"carol does not hear her tone back through the bridge: {heard}"
    log2 = pl.fe(2).apache.log_text
    sent = log2().count("UCWA00799")
    call.action("holdPhoneAudio")
    a2.wait("phoneAudio", "updated", where=lambda e: "resumePhoneAudio"
            in (a2.resource(e) or {}).get("_links", {}))
    wait_for(lambda: log2().count("UCWA00799") == sent + 1, what="the hold's re-INVITE")
    call.action("resumePhoneAudio")
    a2.wait("phoneAudio", "updated", where=lambda e: "holdPhoneAudio"
            in (a2.resource(e) or {}).get("_links", {}))
    wait_for(lambda: log2().count("UCWA00799") == sent + 2, what="the resume's re-INVITE")
    assert carol.heard(PHONE_HZ).ok
    byes = len(side.gw.requests("BYE"))
    call.action("stopPhoneAudio")
    call.ended()
    carol.wait_event("CALL_CLOSED")
    side.gw.wait_request("BYE", count=byes + 1)
    # a target nobody can reach: leg B fails, the invitation says it was the target
    call = a2.call_via_work(f"sip:nobody@{DOMAIN}", phone="tel:+15550108")
    call.started()
    why = call.failed(timeout=20)
    assert why.get("code") == "RemoteFailure" and "your phone" not in why.get("message", ""), why
    wait_for(lambda: sip_calls(pl, 2) == calls, what="FE2's ucwa-sipd without the calls")


def phone_audio_connected(app, conv_href, number):
    """The app's conversation goes on as phoneAudio (Connected, that number)."""
    app.wait("phoneAudio", "updated", where=lambda e: app.state_of(e) == "Connected")
    conv = app.get(conv_href)
    assert conv["activeModalities"] == ["PhoneAudio"], conv
    pa = app.get(conv["_links"]["phoneAudio"]["href"])
    assert pa["state"] == "Connected" and pa["phoneNumber"] == f"tel:{number}", pa


def on_echo_phone_connected(app, ring, other):
    """app's call, answered on the echoing gateway's phone, connected there: the user's
    other app saw ConnectedElsewhere, the invitation succeeded, phoneAudio is Connected."""
    assert other.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    done = app.wait("audioVideoInvitation", "completed")
    assert done.get("status") == "Success", done.raw
    phone_audio_connected(app, ring.conversation, "+15550109")


def accepted_on_echo_phone(side, app, ring, fe):
    """app answers its ringing invitation on +15550109 (the echoing gateway): the leg's
    INVITE reaches the gateway from Front End fe's ucwa-sipd."""
    assert "acceptWithPhoneAudio" in ring.links, ring.links
    before = len(side.gw.requests("INVITE"))
    accept_on_phone(app, ring, "+15550109")
    leg = side.gw.wait_request("INVITE", count=before + 1)
    assert leg.ruri.startswith("sip:+15550109@"), leg.ruri
    vias = [v for n, v in leg.headers if n == "via"]
    assert any(pools.FE_ADDR.format(fe) + ":" in v for v in vias), vias


def test_accept_and_replace_with_phone_audio_on_fe2(side, pl, alice, dave, peer):
    """dave's call is taken by FE1's ucwa-sipd; alice's app on FE2 answers it on her phone
    (acceptWithPhoneAudio, +15550109: the echoing gateway): FE1's ucwa-sipd calls that
    number, dave's 200 comes once it answered, FE2's conversation is phoneAudio, and dave
    hears his own tone back through the gateway. Then a call her app on FE2 answered
    moves to the phone (replaceWithPhoneAudio): dave, who heard the app, hears his tone
    back once re-INVITEd to the phone's leg; FE2's audioVideo ends, phoneAudio Connected."""
    a1, a2 = alice
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1 = a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    accepted_on_echo_phone(side, a2, ring2, 1)      # FE1's ucwa-sipd calls the phone
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    on_echo_phone_connected(a2, ring2, ring1)
    heard = dave.heard(PHONE_HZ)
    assert heard.ok, f"dave does not hear his tone back through the phone's leg: {heard}"
    byes = len(side.gw.requests("BYE"))
    dave.hangup()
    dave.wait_event("CALL_CLOSED")
    a2.wait("conversation", "deleted", sender="communication")
    side.gw.wait_request("BYE", count=byes + 1)
    # replaceWithPhoneAudio of a call answered on FE2
    ring2, a = answered_on_fe2(alice, dave, peer)
    assert dave.heard(APP_HZ).ok
    before = len(side.gw.requests("INVITE"))
    replace_on_phone(a2, ring2, "+15550109")
    side.gw.wait_request("INVITE", count=before + 1)
    a2.wait("audioVideo", "updated", where=lambda e: e.get("state") == "Disconnected"
            or (e.embedded or {}).get("state") == "Disconnected")
    phone_audio_connected(a2, ring2.conversation, "+15550109")
    deadline = time.monotonic() + 6
    while not (heard := dave.heard(PHONE_HZ)).ok and time.monotonic() < deadline:
        pass                         # (baresip takes the re-INVITE's new address)
    assert heard.ok, f"dave does not hear his tone back from the phone's leg: {heard}"
    t0 = time.monotonic()
    time.sleep(1.0)
    assert a.audio_frames_since(t0) == 0, "the app still gets media"
    byes = len(side.gw.requests("BYE"))
    dave.hangup()
    dave.wait_event("CALL_CLOSED")
    a2.wait("conversation", "deleted", sender="communication")
    side.gw.wait_request("BYE", count=byes + 1)


@pytest.fixture(scope="module")
def mobile(side):
    """alice's mobile behind gateway set 6 (not registered: reached as a number)."""
    return side.phone(MOBILE, MOBILE_N, tone=MOBILE_HZ, register=False)


@pytest.fixture
def forwarding(pl):
    """alice's forwarding row in the pool's PostgreSQL (read by ucwa-sipd at each call)."""
    def put(setting="None", simring=None, simring_delay=0, unanswered=None,
            unanswered_delay=20, immediate=None):
        pl.pg.psql("DELETE FROM ucwa_call_forwarding WHERE owner = 'alice@contoso.test';"
                   "INSERT INTO ucwa_call_forwarding VALUES ('alice@contoso.test', 'Always', "
                   f"'{setting}', '{'Enabled' if unanswered else 'Disabled'}', "
                   f"'{'Contact' if immediate else 'None'}', "
                   f"{repr(immediate) if immediate else 'NULL'}, "
                   f"'{'Contact' if simring else 'None'}', "
                   f"{repr(simring) if simring else 'NULL'}, {simring_delay}, "
                   f"'{'Contact' if unanswered else 'None'}', "
                   f"{repr(unanswered) if unanswered else 'NULL'}, {unanswered_delay}, "
                   f"{int(time.time() * 1000)})")
    yield put
    pl.pg.psql("DELETE FROM ucwa_call_forwarding WHERE owner = 'alice@contoso.test'")


def rtp_calls(side, want, timeout=5):
    """rtpengine's calls once they are `want` (a predicate), or what they are then."""
    deadline = time.monotonic() + timeout
    calls = side.rtp.calls()
    while not want(calls) and time.monotonic() < deadline:
        time.sleep(0.1)
        calls = side.rtp.calls()
    return calls


def test_simultaneous_ring_on_a_pool_answered_on_mobile(side, pl, alice, dave, mobile,
                                                        forwarding):
    """dave calls alice (simultaneous ring to her mobile after 1 s): her apps on FE1 and
    FE2 ring, then the mobile; the mobile answers: both apps see ConnectedElsewhere, the
    apps' rtpengine call is gone (the mobile's leg stays), dave and the mobile hear each
    other, also after an app's answer that won in the pool in the same instant (its Front
    End is told left); dave hangs up, so does the mobile's leg."""
    a1, a2 = alice
    forwarding("SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=1)
    t0 = time.monotonic()
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    delay = time.monotonic() - t0
    assert 0.8 <= delay <= 3, delay
    assert "dave" in incoming.get("peeruri", ""), incoming
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    assert ring1.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    assert ring2.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    calls = rtp_calls(side, lambda c: len(c) == 1)
    assert len(calls) == 1 and calls[0].endswith("-snr"), calls
    # an app's answer that won in the pool's database in the same instant (its claim's
    # message, as FE2 would post it): the call stays the mobile's, FE2 is told left
    late = ('{"k":"accepted","fe":"~sip:fe1","conv":"%s","by":"fe2","peer":"x","name":"",'
            '"html":0}' % calls[0][:-len("-snr")])
    applied = pool_fe(pl, 2).status()["pool"]["applied"]
    pl.pg.psql(f"SELECT ucwa_pool_post('~sip:fe1', '{late}')")
    wait_for(lambda: "UCWA01000" in pl.fe(1).apache.log_text(), what="FE1's log")
    wait_for(lambda: pool_fe(pl, 2).status()["pool"]["applied"] > applied,
             what="the left applied on FE2")
    heard = mobile.heard(PHONE_HZ)
    assert heard.ok, f"the mobile does not hear dave's {PHONE_HZ} Hz: {heard}"
    heard = dave.heard(MOBILE_HZ)
    assert heard.ok, f"dave does not hear the mobile's {MOBILE_HZ} Hz: {heard}"
    dave.hangup()
    dave.wait_event("CALL_CLOSED")
    mobile.wait_event("CALL_CLOSED", timeout=10)
    wait_for(lambda: sip_calls(pl, 1) == 0, what="FE1's ucwa-sipd without calls")
    assert rtp_calls(side, lambda c: not c) == []


def test_simultaneous_ring_on_a_pool_answered_on_app(side, pl, alice, dave, mobile, peer,
                                                     forwarding):
    """The same, answered by the app on FE2 while the mobile rings: the mobile's leg is
    canceled (CANCEL: closed, never established), FE1's app sees ConnectedElsewhere, dave
    talks to the app on FE2."""
    a1, a2 = alice
    forwarding("SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    seen = len(mobile.seen)
    p = peer()
    ring2.accept(p.answer(ring2.sdp()))
    mobile.wait_canceled(seen)
    assert ring1.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    p.wait_connected(timeout=15)
    heard = dave.heard(APP_HZ)
    assert heard.ok, f"dave does not hear the app on FE2 ({APP_HZ} Hz): {heard}"
    dave.hangup()
    ring2.ended()
    dave.wait_event("CALL_CLOSED")


def missed_calls(pl):
    return int(pl.pg.psql("SELECT count(*) FROM ucwa_conversation_logs WHERE owner = "
                          "'alice@contoso.test' AND status = 'Missed'").strip())


def test_unanswered_forward_on_a_pool(side, pl, alice, dave, mobile, forwarding):
    """Unanswered forward to the mobile after 5 s (the least it may be): the apps on both Front Ends ring, then
    both invitations end Missed (one missed call for alice, not one per Front End), the
    mobile rings while dave still hears ringing, and answers: dave and the mobile talk."""
    a1, a2 = alice
    forwarding(unanswered=f"tel:{MOBILE}", unanswered_delay=5)
    missed = missed_calls(pl)
    t0 = time.monotonic()
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    delay = time.monotonic() - t0
    assert 4.8 <= delay <= 7, delay
    assert ring1.missed(timeout=5).get("subcode") == "Missed"
    assert ring2.missed(timeout=5).get("subcode") == "Missed"
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    heard = mobile.heard(PHONE_HZ)
    assert heard.ok, f"the mobile does not hear dave's {PHONE_HZ} Hz: {heard}"
    wait_for(lambda: missed_calls(pl) == missed + 1, what="alice's missed call")
    mobile.hangup()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    dave.wait_event("CALL_CLOSED", timeout=10)
    time.sleep(0.5)
    assert missed_calls(pl) == missed + 1


# --- calls from another application follow the callee's forwarding on a pool -----------


@pytest.fixture
def bob2(pl):
    """bob's application on FE2 (the caller of the app's-call tests)."""
    app = CallApp.signed_in(pool_fe(pl, 2).user(f"bob@{DOMAIN}"))
    yield app
    try:
        app.app.delete()
    except Exception:
        pass


def bob_and_mobile_talk(side, p, mobile, call):
    """bob's call answered by the mobile: connected, each hears the other's tone."""
    p.accept(call.answered(timeout=15).decode())
    p.wait_connected(timeout=15)
    call.connected()
    heard = mobile.heard(APP_HZ)
    assert heard.ok, f"the mobile does not hear bob's app ({APP_HZ} Hz): {heard}"
    heard = p.heard(MOBILE_HZ)
    assert heard.ok, f"bob's app does not hear the mobile's {MOBILE_HZ} Hz: {heard}"


def test_app_call_immediate_forward_on_a_pool(side, pl, alice, bob2, mobile, peer,
                                              forwarding):
    """alice (apps on FE1 and FE2) forwards every call to her mobile; bob's app on FE2
    calls her: her apps ring on no Front End, FE2's ucwa-sipd sends bob's call to the
    mobile (bob shown), which answers: tones both ways through rtpengine; bob hangs up."""
    a1, a2 = alice
    forwarding("ImmediateForward", immediate=f"tel:{MOBILE}")
    before = (sip_calls(pl, 1), sip_calls(pl, 2))
    p = peer()
    call = bob2.call(f"sip:alice@{DOMAIN}", p.offer())
    call.started()
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert "bob@" in incoming.get("peeruri", ""), incoming
    assert (sip_calls(pl, 1), sip_calls(pl, 2)) == (before[0], before[1] + 1)
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    bob_and_mobile_talk(side, p, mobile, call)
    for a in (a1, a2):
        assert a.pump(timeout=1) >= 0 and not any(
            e.rel == "audioVideoInvitation" for e in a.queue), a.queue
    call.hang_up()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    wait_for(lambda: sip_calls(pl, 2) == before[1], what="FE2's ucwa-sipd without the call")
    assert rtp_calls(side, lambda c: not c) == []


def test_app_call_unanswered_forward_on_a_pool(side, pl, alice, bob2, mobile, peer,
                                               forwarding):
    """alice forwards unanswered calls to her mobile after 5 s; bob's app on FE2 calls her:
    FE2's ucwa-sipd loops the call to itself and rings her apps on both Front Ends (from
    bob); after the delay both end Missed (one missed call), the mobile rings while bob's
    invitation rings on, and connects to bob: tones both ways."""
    a1, a2 = alice
    forwarding(unanswered=f"tel:{MOBILE}", unanswered_delay=5)
    missed = missed_calls(pl)
    p = peer()
    t0 = time.monotonic()
    call = bob2.call(f"sip:alice@{DOMAIN}", p.offer())
    call.started()
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    for ring, a in ((ring1, a1), (ring2, a2)):
        frm = ring.inv.get("_embedded", {}).get("from") or a.get(ring.links["from"]["href"])
        assert "bob@contoso.test" in frm["uri"], frm
    incoming = mobile.wait_event("CALL_INCOMING", timeout=10)
    assert 4.5 <= time.monotonic() - t0 <= 7, time.monotonic() - t0
    assert "bob@" in incoming.get("peeruri", ""), incoming
    assert ring1.missed(timeout=5).get("subcode") == "Missed"
    assert ring2.missed(timeout=5).get("subcode") == "Missed"
    mobile.accept()
    mobile.wait_event("CALL_ESTABLISHED", timeout=10)
    bob_and_mobile_talk(side, p, mobile, call)
    wait_for(lambda: missed_calls(pl) == missed + 1, what="alice's missed call")
    mobile.hangup()
    mobile.wait_event("CALL_CLOSED", timeout=10)
    call.ended()
    assert rtp_calls(side, lambda c: not c) == []
    assert missed_calls(pl) == missed + 1


def test_app_call_simultaneous_ring_on_a_pool(side, pl, alice, bob2, mobile, peer,
                                              forwarding):
    """Simultaneous ring: bob's app on FE2 calls alice, her apps on both Front Ends ring
    and her mobile; her app on FE1 answers: the mobile's leg is canceled, FE2's app sees
    ConnectedElsewhere, bob and alice (on the other Front End) hear each other; alice
    hangs up, bob's call ends."""
    a1, a2 = alice
    forwarding("SimultaneousRing", simring=f"tel:{MOBILE}", simring_delay=0)
    p = peer()
    call = bob2.call(f"sip:alice@{DOMAIN}", p.offer())
    call.started()
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    seen = len(mobile.seen)
    b = peer(MOBILE_HZ)
    ring1.accept(b.answer(ring1.sdp()))
    mobile.wait_canceled(seen)
    assert ring2.missed(timeout=10).get("subcode") == "ConnectedElsewhere"
    p.accept(call.answered(timeout=15).decode())
    p.wait_connected(timeout=15)
    b.wait_connected(timeout=15)
    call.connected()
    assert p.heard(MOBILE_HZ).ok, "bob does not hear alice"
    assert b.heard(APP_HZ).ok, "alice does not hear bob"
    ring1.hang_up()
    call.ended()
    assert rtp_calls(side, lambda c: not c) == []


def test_app_call_anchored_accepted_on_the_phone_on_a_pool(side, pl, alice, bob2, peer):
    """UcwaSipAnchorAppCalls On: bob's app on FE2 calls alice (apps on FE1 and FE2), which
    FE2's SIP side rings as a call from SIP; her app on FE1 answers on her phone
    (acceptWithPhoneAudio, +15550109: the echoing gateway), called by FE2's ucwa-sipd:
    bob's call connects, FE2's app sees ConnectedElsewhere, FE1's conversation is
    phoneAudio, bob hears his own tone back; bob hangs up, the phone's leg ends."""
    a1, a2 = alice
    p = peer()
    call = bob2.call(f"sip:alice@{DOMAIN}", p.offer())
    call.started()
    ring1, ring2 = a1.ringing(timeout=10), a2.ringing(timeout=10)
    accepted_on_echo_phone(side, a1, ring1, 2)      # FE2's ucwa-sipd calls the phone
    p.accept(call.answered(timeout=15).decode())
    p.wait_connected(timeout=15)
    call.connected()
    on_echo_phone_connected(a1, ring1, ring2)
    heard = p.heard(APP_HZ)
    assert heard.ok, f"bob does not hear his tone back through alice's phone: {heard}"
    byes = len(side.gw.requests("BYE"))
    call.hang_up()
    a1.wait("conversation", "deleted", sender="communication")
    side.gw.wait_request("BYE", count=byes + 1)
    assert rtp_calls(side, lambda c: not c) == []


def test_app_call_anchored_callee_on_the_callers_front_end(pl, alice, bob2, peer):
    """The same with alice's application on FE2 only (the caller's Front End): anchored in
    the invitation's transaction, it rings from the SIP side (acceptWithPhoneAudio
    offered); her decline fails bob's call."""
    a1, a2 = alice
    a1.app.delete()
    wait_for(lambda: not in_pool(pl, f"alice@{DOMAIN}", "fe1"), what="alice gone from fe1")
    call = bob2.call(f"sip:alice@{DOMAIN}", peer().offer())
    call.started()
    ring = a2.ringing(timeout=10)
    assert "acceptWithPhoneAudio" in ring.links, ring.links
    ring.decline()
    call.failed()


def test_accept_with_phone_audio_refused_by_the_mobile(side, pl, alice, dave, mobile):
    """alice's app on FE2 answers dave's call (taken by FE1's ucwa-sipd) on her mobile,
    which refuses it: FE2's invitation (whose claim waited for the phone) ends Missed as
    an unanswered call, the caller's call ends, nothing stays behind."""
    a1, a2 = alice
    dave.dial(f"sip:alice@{DOMAIN}")
    a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    accept_on_phone(a2, ring2, MOBILE)
    mobile.wait_event("CALL_INCOMING", timeout=10)
    mobile.hangup()                  # refused
    done = a2.wait("audioVideoInvitation", "completed", timeout=10)
    assert done.get("status") == "Failure", done.raw
    assert done.get("reason", {}).get("subcode") == "Missed", done.raw
    dave.wait_event("CALL_CLOSED", timeout=10)
    wait_for(lambda: sip_calls(pl, 1) == 0, what="FE1's ucwa-sipd without the call")


def test_late_answer_and_bad_messages_for_the_sip_side(pl):
    """What the pool tells FE1's SIP side about a call it no longer has: an answer (it
    crossed the caller's CANCEL) is answered "left" to the answering Front End, so that
    side does not stay connected to nobody; a message that is not JSON is dropped and
    logged. ucwa-sipd keeps running."""
    pid = sipd_pid(pl, 1)
    conv = "0123456789abcdef0123456789abcdef"
    late = ('{"k":"accepted","fe":"~sip:fe1","conv":"%s","by":"fe2","peer":"x","name":"",'
            '"html":0}' % conv)
    applied = pool_fe(pl, 2).status()["pool"]["applied"]
    pl.pg.psql(f"SELECT ucwa_pool_post('~sip:fe1', '{late}');"
               "SELECT ucwa_pool_post('~sip:fe1', 'not json');")
    log1 = pl.fe(1).apache.log_text
    wait_for(lambda: "UCWA00905" in log1() and "UCWA00903" in log1(), what="FE1's log")
    # fe2 got the left (for a conversation it does not have: nothing to do)
    wait_for(lambda: pool_fe(pl, 2).status()["pool"]["applied"] > applied,
             what="the left applied on FE2")
    assert sipd_pid(pl, 1) == pid


def sipd_pid(pl, i):
    return pool_fe(pl, i).status()["sip"].get("pid")


def restarted_with_call(pl, alice, dave, peer):
    """dave's call to alice answered on FE2 (its SIP side FE1's ucwa-sipd), then FE1's
    ucwa-sipd killed (SIGKILL) and started again by Apache, FE1 itself alive: the call,
    and the app's WebRTC peer."""
    a1, a2 = alice
    dave.dial(f"sip:alice@{DOMAIN}")
    a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    p = peer()
    ring2.accept(p.answer(ring2.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    p.wait_connected(timeout=15)
    pid = sipd_pid(pl, 1)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: sipd_pid(pl, 1) not in (None, pid), what="ucwa-sipd started again")
    return ring2, p


def test_sipd_restart_keeps_its_calls_across_the_pool(pl, alice, dave, peer):
    """FE1's ucwa-sipd dies (SIGKILL) with a call it took, answered on FE2: the new
    process takes the call back, and the pool keeps it (its join names it): the app on
    FE2 stays connected and both ends still hear each other; hung up by the app (the BYE
    from FE1's new process), then, for a second such call, by the phone (FE2's call
    ends). The new process takes calls again."""
    a1, a2 = alice
    ring2, p = restarted_with_call(pl, alice, dave, peer)
    time.sleep(1.5)                      # the pool's fe-gone for the old process applied
    assert ring2.audio_video()["state"] == "Connected"
    hear_each_other(p, dave, "after the restart, on FE2: ")
    ring2.hang_up()
    ring2.ended()
    dave.wait_event("CALL_CLOSED", timeout=10)
    ring2, p = restarted_with_call(pl, alice, dave, peer)
    time.sleep(1.5)
    assert ring2.audio_video()["state"] == "Connected"
    dave.hangup()                        # the new process answers the BYE, FE2 hears left
    dave.wait_event("CALL_CLOSED")
    ring2.ended(timeout=10)
    dave.dial(f"sip:alice@{DOMAIN}")
    ring1 = a1.ringing(timeout=10)
    a2.ringing(timeout=10)
    ring1.decline()
    dave.wait_event("CALL_CLOSED", timeout=10)


def test_front_end_killed(side, pl, alice, dave, carol, peer):
    """Runs last: FE1 dies with a call whose SIP side it held (answered on FE2) and a call
    of FE2's own SIP side: the first ends on FE2 within the lease, the second goes on."""
    a1, a2 = alice
    dave.dial(f"sip:alice@{DOMAIN}")
    a1.ringing(timeout=10)
    ring2 = a2.ringing(timeout=10)
    ring2.accept(peer().answer(ring2.sdp()))
    dave.wait_event("CALL_ESTABLISHED", timeout=10)
    a2.wait("audioVideo", "updated", timeout=10,
            where=lambda e: a2.state_of(e) == "Connected")
    out, _ = call_carol_from_fe2(pl, a2, carol, peer)
    t0 = time.monotonic()
    pl.fe(1).kill()
    # the pool's lease is 4 s: FE2 takes over, the call whose SIP side was FE1's ends
    ring2.ended(timeout=15)
    gone_after = time.monotonic() - t0
    print(f"SIGKILL of FE1 to its SIP side's call ended on FE2: {gone_after:.1f} s")
    assert gone_after < 12, gone_after
    # FE2's own call is untouched: connected, the phone still in it, then hung up cleanly
    assert out.audio_video()["state"] == "Connected"
    assert sip_calls(pl, 2) == 1
    out.hang_up()
    out.ended()
    carol.wait_event("CALL_CLOSED")
    # Kamailio's probe finds FE1's ucwa-sipd silent and marks it inactive (within the
    # probe's interval and timeout); a call from SIP then goes to FE2's at once: no
    # INVITE to FE1's dead address, no 2 s failover
    fe1 = f"sip:{pools.FE_ADDR.format(1)}:{5089 + side.offset}"
    wait_for(lambda: side.kam.ds_flags(fe1) == "IP", timeout=PING_S + 1 + 5,
             what="Kamailio's probe marks FE1 inactive")
    print(f"SIGKILL of FE1 to Kamailio's probe marking it inactive: "
          f"{time.monotonic() - t0:.1f} s")
    mark = len(side.kam.log_text())
    t0 = time.monotonic()
    dave.dial(f"sip:alice@{DOMAIN}")
    ring2 = a2.ringing(timeout=15)
    took = time.monotonic() - t0
    print(f"a call from SIP with FE1 dead rings on FE2 after {took:.1f} s")
    assert "marked inactive" not in side.kam.log_text()[mark:], side.kam.log_text()[mark:]
    assert took < 1.9, took        # (the failover would have taken 2 s before the ring)
    ring2.decline()
    dave.wait_event("CALL_CLOSED", timeout=10)
