"""Calls across the Front Ends of a pool (issue 12 on issue 11's pool): alice's application
lives on FE1, bob's on FE2 (or on both), and every part of a call crosses the pool's
database: the ring with the offer, the answer (first answer wins pool-wide), the
provisional answer, decline, cancel, no answer, hang-up from each side, renegotiations
both ways, and an offer larger than a pool message. Session descriptions go through the
pool's table ucwa_pool_sdp, byte for byte (docs/ARCHITECTURE.md, "The pool")."""
import os
import threading
import time

import pytest

from ucwa_client import events_of, stop_fe

from test_calls import (ANSWERER, CALLER_CONNECTED, CLOSED, COMM, CONV,
                        HUNG_UP, INV, OTHER_HUNG_UP, add_and_ring, add_call, added_answered,
                        answer, callee_hangs_up_added, call_step, callable_app, conv_step,
                        decline_cancel_and_missed, embedded, from_uri, im_connected,
                        invitation_of, messaging_added_to_a_call, messaging_stopped_beside_a_call,
                        quiet, reneg_answered, renegotiate, ring, say, sdp, seq, step)
from test_conversation_logs import get_log, log_hrefs, missed_items
from test_pool import mobility_allowed, pg, start_pool, wait_for  # noqa: F401 (pg: fixture)

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


@pytest.fixture(scope="module")
def pool(workdir, topo, pg):  # noqa: F811
    fes = start_pool(workdir, topo, pg, "pool-calls", 2, "UcwaCallRingTimeout 3\n")
    yield fes
    for f in fes:
        if f.apache.proc and f.apache.proc.poll() is None:
            stop_fe(f, allowed=mobility_allowed())


def on_fe(pg, sip, fe):
    """Whether the pool's database lists sip as available on Front End fe."""
    return pg.sql(f"SELECT count(*) FROM ucwa_pool_user WHERE sip = '{sip}' AND fe = '{fe}' "
                  "AND available > 0").strip() == "1"


def drain(*apps):
    for a in apps:
        while events_of(a.poll("timeout=1")):
            pass


def quiet_all(*apps):
    for a in apps:
        quiet(a)


@pytest.fixture
def people(pool, pg):  # noqa: F811
    """alice on FE1 and bob on FE2 (callable, drained); more of bob's with bob_on(i)."""
    made = []

    def sign_in(i, who):
        app = callable_app(pool[i].user(who))
        made.append(app)
        wait_for(lambda: on_fe(pg, who, f"fe{i + 1}"), what=f"{who} on fe{i + 1} in the pool")
        return app
    alice = sign_in(0, ALICE)
    bob = sign_in(1, BOB)
    drain(alice, bob)
    yield alice, bob, sign_in
    for a in made:
        try:
            a.delete()
        except OSError:
            pass              # its Front End was killed
    for who in (ALICE, BOB):
        wait_for(lambda: not on_fe(pg, who, "fe1") and not on_fe(pg, who, "fe2"),
                 what=f"{who} gone from the pool")


def av_href(app, ev_conv):
    return app.user.request("GET", ev_conv + "/audioVideo").json()


def hang_up(app, conv):
    stop = av_href(app, conv)["_links"]["stopAudioVideo"]["href"]
    r = app.user.request("POST", stop, json={})
    assert r.status_code == 204, r.text


def connect(alice, bob, offer, ans, ctx="ctx-b", cid=None, ctype=None, **kw):
    """alice (FE1) calls bob (FE2, or another pool), bob answers: both connected, the SDP
    byte for byte both ways (and its Content-Type, ctype, when given). kw: how the offer
    is sent (ring). Returns both conversations' hrefs and alice's invitation."""
    location, (ev,) = ring(alice, [bob], offer, **kw)
    inv = invitation_of(bob, ev)
    assert inv["direction"] == "Incoming"
    got_type, got = from_uri(inv["_links"]["mediaOffer"]["href"])
    assert got == offer
    assert ctype is None or got_type.replace(" ", "") == ctype
    assert inv["_embedded"]["from"]["uri"] == "sip:" + alice.user.name
    href = inv["_links"]["acceptWithAnswer"]["href"] + f"?sessionContext={ctx}"
    if cid:
        href += f"&processedOfferId={cid}"
    r = bob.user.request("POST", href, data=ans, headers={"Content-Type": "application/sdp"})
    assert r.status_code == 204, r.text
    b = step(bob)
    assert seq(b) == ANSWERER
    assert embedded(b[-1][3])["state"] == "Connected" and b[-1][3]["status"] == "Success"
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    neg = a[0][3]
    assert neg["link"]["href"] == location + "/audioVideoNegotiation"
    got = neg["_embedded"]["audioVideoNegotiation"] if "_embedded" in neg else \
        alice.user.request("GET", neg["link"]["href"]).json()
    assert from_uri(got["_links"]["mediaAnswer"]["href"])[1] == ans
    assert got["sessionContext"] == "ctx-caller"
    if cid:
        assert got["msAcceptedContentId"] == cid
    assert a[-1][3]["status"] == "Success"
    assert embedded(a[3][3])["state"] == "Connected"
    return a[1][3]["link"]["href"], b[2][3]["link"]["href"], location


def test_call_across_front_ends_hang_up_each_side(people):
    alice, bob, _ = people
    # the callee hangs up
    offer, ans = sdp("x-offer", video=True), sdp("x-answer", video=True)
    a_conv, b_conv, _ = connect(alice, bob, offer, ans, cid="v1")
    doc = alice.user.request("GET", a_conv).json()
    assert doc["state"] == "Connected" and doc["activeModalities"] == ["Audio", "Video"]
    assert av_href(bob, b_conv)["state"] == "Connected"
    hang_up(bob, b_conv)
    assert seq(step(bob)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP
    # the caller hangs up
    a_conv, b_conv, _ = connect(alice, bob, sdp("y-offer"), sdp("y-answer"))
    hang_up(alice, a_conv)
    assert seq(step(alice)) == HUNG_UP
    assert seq(step(bob)) == OTHER_HUNG_UP
    # and by DELETE of the conversation (the callee's)
    a_conv, b_conv, _ = connect(alice, bob, sdp("z-offer"), sdp("z-answer"))
    assert bob.user.request("DELETE", b_conv).status_code == 204
    assert seq(step(bob)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP
    quiet_all(alice, bob)


def test_callee_on_both_front_ends(people):
    alice, bob2, sign_in = people
    bob1 = sign_in(0, BOB)            # bob's other device, on the caller's Front End
    drain(bob1, alice)
    offer = sdp("fork")
    _, (ev1, ev2) = ring(alice, [bob1, bob2], offer)
    inv1, inv2 = invitation_of(bob1, ev1), invitation_of(bob2, ev2)
    assert from_uri(inv1["_links"]["mediaOffer"]["href"])[1] == offer
    assert from_uri(inv2["_links"]["mediaOffer"]["href"])[1] == offer
    # the FE2 device answers first: it wins; the FE1 one stops ringing
    assert answer(bob2, inv2, sdp("fe2-answer")).status_code == 204
    assert seq(step(bob2)) == ANSWERER
    closed = step(bob1)
    assert seq(closed) == CLOSED
    assert closed[0][3]["reason"]["subcode"] == "ConnectedElsewhere"
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    assert from_uri(embedded(a[0][3])["_links"]["mediaAnswer"]["href"])[1] == sdp("fe2-answer")
    # too late on FE1
    assert answer(bob1, inv1, sdp("late")).status_code == 409
    hang_up(alice, a[1][3]["link"]["href"])
    assert seq(step(alice)) == HUNG_UP
    assert seq(step(bob2)) == OTHER_HUNG_UP
    # the other way round: the FE1 device (beside the caller) answers, FE2 stops ringing
    _, (ev1, ev2) = ring(alice, [bob1, bob2], sdp("fork-2"))
    assert answer(bob1, invitation_of(bob1, ev1), sdp("fe1-answer")).status_code == 204
    b1 = step(bob1)
    assert seq(b1) == ANSWERER
    closed = step(bob2)
    assert seq(closed) == CLOSED
    assert closed[0][3]["reason"]["subcode"] == "ConnectedElsewhere"
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    assert from_uri(embedded(a[0][3])["_links"]["mediaAnswer"]["href"])[1] == sdp("fe1-answer")
    hang_up(bob1, b1[2][3]["link"]["href"])
    assert seq(step(bob1)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP
    quiet_all(bob2)


def test_decline_cancel_and_missed_across(people):
    alice, bob, _ = people
    before = missed_items(bob)["missedConversationsCount"]
    # declined on FE2; canceled on FE1 (FE2 stops ringing: missed); no answer (Timeout on
    # FE1, Missed on FE2, each by its own clock)
    decline_cancel_and_missed(alice, bob)
    quiet_all(alice, bob)
    # FE2, where bob rang, wrote his two missed calls in the pool's database (not the
    # declined one)
    wait_for(lambda: missed_items(bob)["missedConversationsCount"] == before + 2,
             what="bob's missed calls")
    logs = [get_log(bob, h) for h in log_hrefs(bob)[:2]]
    assert [(x["type"], x["status"], x["direction"]) for x in logs] == \
        [("AudioLog", "Missed", "Incoming")] * 2


def test_provisional_answer_across(people):
    alice, bob, _ = people
    location, (ev,) = ring(alice, [bob], sdp("early"))
    inv = invitation_of(bob, ev)
    early = sdp("early-media")
    assert answer(bob, inv, early, link="sendProvisionalAnswer").status_code == 204
    (neg,) = step(alice)
    assert neg[:3] == (INV, "audioVideoNegotiation", "updated")
    assert from_uri(embedded(neg[3])["_links"]["mediaProvisionalAnswer"]["href"])[1] == early
    # still ringing; the final answer connects with its own bytes
    assert answer(bob, inv, sdp("final")).status_code == 204
    assert seq(step(bob)) == ANSWERER
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    assert from_uri(embedded(a[0][3])["_links"]["mediaAnswer"]["href"])[1] == sdp("final")
    hang_up(alice, a[1][3]["link"]["href"])
    assert seq(step(bob)) == OTHER_HUNG_UP


def test_hold_and_resume_across(people):
    alice, bob, _ = people
    a_conv, b_conv, _ = connect(alice, bob, sdp("h-offer"), sdp("h-answer"))
    hold = sdp("hold").replace(b"a=sendrecv", b"a=sendonly")
    held = sdp("held").replace(b"a=sendrecv", b"a=recvonly")
    renegotiate(alice, bob, a_conv, hold, held)          # FE1 -> FE2
    renegotiate(bob, alice, b_conv, sdp("resume"), sdp("resumed"))   # FE2 -> FE1
    renegotiate(alice, bob, a_conv, hold, held)          # and the numbers stay in step
    hang_up(alice, a_conv)
    assert seq(step(bob)) == OTHER_HUNG_UP


def renegotiations_of(app, conv):
    session = av_href(app, conv)["_links"]["audioVideoSession"]
    return app.user.request("GET", session["href"]).json()["_links"]["renegotiations"]["href"]


def post_offer(app, href, body, op):
    return app.user.request("POST", f"{href}?operationId={op}", data=body,
                            headers={"Content-Type": "application/sdp"})


def test_renegotiations_that_cross_across_front_ends(people, pg):  # noqa: F811
    """alice (the caller, FE1) holds while bob (FE2) adds video, at the same moment (glare).
    The pool's database holds both messages (the Front Ends' rows locked) until both POSTs
    are taken, so the two offers cross between the Front Ends. The caller's wins on both
    sides: bob's renegotiation completes Failure (Conflict) and alice's rings him; he answers
    it, alice's completes, and bob's second try goes through with the numbers in step."""
    alice, bob, _ = people
    a_conv, b_conv, _ = connect(alice, bob, sdp("g-offer"), sdp("g-answer"))
    a_renegs, b_renegs = renegotiations_of(alice, a_conv), renegotiations_of(bob, b_conv)
    hold = sdp("g-hold").replace(b"a=sendrecv", b"a=sendonly")
    held = sdp("g-held").replace(b"a=sendrecv", b"a=recvonly")
    video = sdp("g-video", video=True)
    locker = threading.Thread(target=pg.sql, args=(
        "BEGIN; SELECT fe FROM ucwa_pool_fe FOR UPDATE; SELECT pg_sleep(1.5); COMMIT;",))
    locker.start()
    wait_for(lambda: pg.sql("SELECT count(*) FROM pg_stat_activity WHERE pid <> "
                            "pg_backend_pid() AND query LIKE '%pg_sleep(1.5)%'").strip() == "1",
             what="the Front Ends' rows locked")
    ra = post_offer(alice, a_renegs, hold, "g-a")
    rb = post_offer(bob, b_renegs, video, "g-b")
    locker.join()
    assert (ra.status_code, rb.status_code) == (201, 201), (ra.text, rb.text)
    b = step(bob)
    assert seq(b) == [("communication", "audioVideoRenegotiation", "completed"),
                      ("communication", "audioVideoRenegotiation", "started")]
    failed, started = b[0][3], b[1][3]
    assert failed["status"] == "Failure"
    assert failed["reason"]["subcode"] == "Conflict"
    assert failed["link"]["href"].endswith(rb.headers["Location"].rsplit("/", 1)[1])
    quiet(alice)               # alice's stays open: bob's never rang her
    reneg_answered(alice, bob, started, hold, held)
    # bob tries again: a plain renegotiation, its answer accepted on FE2 (numbers in step)
    renegotiate(bob, alice, b_conv, video, sdp("g-video-ok", video=True))
    hang_up(alice, a_conv)
    assert seq(step(bob)) == OTHER_HUNG_UP


def test_messaging_added_to_a_call_across(people):
    """IM added to a call's conversation with the parties on two Front Ends: the invitation,
    decline, accept, messages, stopMessaging and stopAudioVideo each cross (msg-add,
    msg-accept, msg-off, av-off) with the events of one Front End."""
    alice, bob, _ = people
    a_conv, b_conv, _ = connect(alice, bob, sdp("m-offer"), sdp("m-answer"))
    messaging_added_to_a_call(alice, bob, a_conv, b_conv)


def test_large_offer_across(people, pg):  # noqa: F811
    alice, bob, _ = people
    offer = sdp("big", video=True, pad=160)     # about 9 KiB: more than an event slot
    ans = sdp("big-answer", video=True, pad=170)
    assert len(offer) > 8000 and len(ans) > 8000
    _, (ev,) = ring(alice, [bob], offer)
    assert "_embedded" not in ev
    inv = invitation_of(bob, ev)
    assert from_uri(inv["_links"]["mediaOffer"]["href"])[1] == offer
    assert answer(bob, inv, ans).status_code == 204
    b = step(bob)
    assert seq(b) == ANSWERER
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    assert "_embedded" not in a[0][3]           # link-only: GET the negotiation
    neg = alice.user.request("GET", a[0][3]["link"]["href"]).json()
    assert from_uri(neg["_links"]["mediaAnswer"]["href"])[1] == ans
    # the descriptions went through the pool's table, the messages only name them
    assert int(pg.sql("SELECT count(*) FROM ucwa_pool_sdp WHERE length(body) > 8000")) >= 2
    hang_up(bob, b[2][3]["link"]["href"])
    assert seq(step(alice)) == OTHER_HUNG_UP


def added_both_ways(alice, bob, aconv, bconv):
    """In alice and bob's IM conversation (on different Front Ends or pools), alice adds a
    call: provisional then final answer byte for byte, renegotiations both ways, bob hangs
    up; bob adds one, alice declines; alice adds one and cancels it."""
    assert "addAudioVideo" in alice.user.request("GET", aconv + "/audioVideo").json()["_links"]
    offer, ans = sdp("add-x-offer", video=True), sdp("add-x-answer", video=True)
    _, inv = add_and_ring(alice, bob, aconv, bconv, offer)
    # early media, then the final answer: byte for byte at alice's
    early = sdp("add-x-early", video=True)
    assert answer(bob, inv, early, link="sendProvisionalAnswer").status_code == 204
    (neg,) = conv_step(alice)
    assert neg[:3] == (INV, "audioVideoNegotiation", "updated")
    assert from_uri(embedded(neg[3])["_links"]["mediaProvisionalAnswer"]["href"])[1] == early
    added_answered(alice, bob, aconv, inv, ans)
    assert bob.user.request("GET", bconv + "/audioVideo").json()["state"] == "Connected"
    # renegotiations of the added call cross both ways
    renegotiate(alice, bob, aconv, sdp("add-hold"), sdp("add-held"))
    renegotiate(bob, alice, bconv, sdp("add-resume"), sdp("add-resumed"))
    # bob hangs up: the call ends on both Front Ends, the chat goes on
    callee_hangs_up_added(alice, bob, aconv, bconv)
    # added again, by bob this time; alice declines
    assert add_call(bob, bconv, sdp("add-second")).status_code == 201
    call_step(bob)
    inv = invitation_of(alice, call_step(alice)[0][3])
    assert from_uri(inv["_links"]["mediaOffer"]["href"])[1] == sdp("add-second")
    assert alice.user.request("POST", inv["_links"]["decline"]["href"], json={}).status_code == 204
    a = call_step(alice)
    assert seq(a) == [(COMM, INV, "completed")] and a[0][3]["reason"]["subcode"] == "Declined"
    b = call_step(bob)
    assert seq(b) == [(CONV, "audioVideo", "updated"), (COMM, INV, "completed")]
    assert b[1][3]["status"] == "Failure" and b[1][3]["reason"]["subcode"] == "Declined"
    # added again and canceled by the caller: bob's stops ringing
    r = add_call(alice, aconv, sdp("add-third"))
    assert r.status_code == 201, r.text
    call_step(alice)
    call_step(bob)
    mine = alice.user.request("GET", r.headers["Location"]).json()
    assert alice.user.request("POST", mine["_links"]["cancel"]["href"], json={}).status_code == 204
    assert call_step(alice)[-1][3]["reason"]["subcode"] == "Canceled"
    b = call_step(bob)
    assert b[0][:3] == (COMM, INV, "completed") and b[0][3]["status"] == "Failure"


def test_call_added_to_an_im_conversation_across(people):
    """alice (FE1) and bob (FE2) chat; a call added to it rings bob's Front End ("av-add"),
    his answers come back (provisional, then final), the call is hung up and the chat goes
    on; added again it is declined, then canceled, then not answered."""
    alice, bob, _ = people
    aconv, bconv = im_connected(alice, bob)
    added_both_ways(alice, bob, aconv, bconv)
    # and not answered: each Front End ends it by its own clock (UcwaCallRingTimeout 3 s)
    assert add_call(alice, aconv, sdp("add-fourth")).status_code == 201
    call_step(alice)
    call_step(bob)
    a = call_step(alice)
    assert a[-1][:3] == (COMM, INV, "completed") and a[-1][3]["reason"]["subcode"] == "Timeout"
    b = call_step(bob)
    assert b[0][:3] == (COMM, INV, "completed") and b[0][3]["status"] == "Failure"
    # the chat still works both ways
    assert say(alice, aconv, "still here") == 201
    assert [e[1] for e in conv_step(bob)] == ["message"]
    conv_step(alice)
    # answered again; alice stops messaging: it ends on both Front Ends ("msg-off"), the
    # call goes on alone until she hangs up
    messaging_stopped_beside_a_call(alice, bob, aconv, bconv, sdp("add-fifth"),
                                    sdp("add-fifth-answer"))
    quiet_all(alice, bob)


def test_front_end_killed_ends_the_call(pool, people):
    """Last: FE2 dies (no goodbye) during a call; within the lease (4 s) and a heartbeat
    FE1 takes over and alice sees bob hang up."""
    alice, bob, _ = people
    connect(alice, bob, sdp("k-offer"), sdp("k-answer"))
    killed = time.monotonic()
    assert pool[1].apache.kill() > 1
    a = step(alice, timeout=15)
    assert seq(a) == OTHER_HUNG_UP
    assert time.monotonic() - killed < 15
