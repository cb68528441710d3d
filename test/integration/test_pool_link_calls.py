"""Calls between linked pools (issue 12 on issue 11's UcwaPoolLink): alice is homed on
pool01 (one Front End), carol on pool02 (two: carol's p2fe1, and p2fe2, which pool01's
link reaches and which survives). Every part of a call crosses the relay: the ring with
the offer (also multipart), the answer (final and provisional), decline, cancel, no
answer, hang-up both ways, renegotiations both ways, a call added to an IM conversation.
Each pool keeps its own table of session descriptions (ucwa_pool_sdp): the relay carries
the description with the message, and the receiving pool writes it under a fresh key of
its own (docs/ARCHITECTURE.md §10.5). Last, p2fe1 dies while carol's phone rings and
while she is in a call: pool02's reaper tells pool01 (fe-gone, gone), and alice's side
ends at once, not by a clock."""
import hashlib
import hmac
import json
import os
import re
import time

import pytest
import requests

from test_calls import (ANSWERER, CALLER_CONNECTED, CALLER_FAILED, CALLER_STARTED, HUNG_UP,
                        INV, OTHER_HUNG_UP, RINGING, answer, call, callable_app, conv_step,
                        decline_cancel_and_missed, declined_and_canceled, embedded, from_uri,
                        im_connected, invitation_of, renegotiate, ring, say, sdp, seq, step)
from test_pool import mobility_allowed, wait_for
from test_pool_calls import added_both_ways, connect, drain, on_fe
from test_pool_link import start_linked
from ucwa_client import stop_fe

ALICE, CAROL = "alice@contoso.test", "carol@contoso.test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")

# UCWA00425: p2fe2 takes over the killed p2fe1; UCWA00435: the relay to a pool whose Front
# End is gone retries; UCWA00433, UCWA00600: test_bad_relay_input's forgeries
ALLOWED = [re.compile(p) for p in (r"UCWA00425", r"UCWA00435", r"UCWA00433", r"UCWA00600")]


@pytest.fixture(scope="module")
def pools(workdir, topo):
    # pool01's calls ring 20 s (p2fe1 is reaped in about 5 while carol's phone rings),
    # pool02's 3 s (the no-answer test)
    fes, dbs = start_linked(workdir, topo, "linkcall", n2=2,
                            extra=("UcwaPoolLease 4\nUcwaCallRingTimeout 20\n",
                                   "UcwaPoolLease 4\nUcwaCallRingTimeout 3\n"))
    yield fes, dbs
    for f in fes:
        if f.apache.proc and f.apache.proc.poll() is None:
            stop_fe(f, allowed=mobility_allowed() + ALLOWED)
    for db in dbs:
        db.stop()


@pytest.fixture
def people(pools):
    """alice on pool01, carol on pool02's p2fe1: callable, registered, drained."""
    (fe1, fe21, _), (db1, db2) = pools
    alice = callable_app(fe1.user(ALICE))
    carol = callable_app(fe21.user(CAROL))
    wait_for(lambda: on_fe(db1, ALICE, "p1fe1") and on_fe(db2, CAROL, "p2fe1"),
             what="alice and carol in their pools")
    drain(alice, carol)
    yield alice, carol
    for a in (alice, carol):
        try:
            a.delete()
        except OSError:
            pass              # its Front End was killed


def hang_up(app, conv):
    stop = app.user.request("GET", conv + "/audioVideo").json()["_links"]["stopAudioVideo"]
    r = app.user.request("POST", stop["href"], json={})
    assert r.status_code == 204, r.text


def test_calls_both_ways_hang_up_each_side(people, pools):
    alice, carol = people
    db1, db2 = pools[1]
    # alice calls carol with audio and video; carol hangs up
    offer, ans = sdp("l-offer", video=True), sdp("l-answer", video=True)
    a_conv, c_conv, _ = connect(alice, carol, offer, ans)
    doc = alice.user.request("GET", a_conv).json()
    assert doc["state"] == "Connected" and doc["activeModalities"] == ["Audio", "Video"]
    hang_up(carol, c_conv)
    assert seq(step(carol)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP
    # carol calls alice; alice hangs up
    _, a_conv2, _ = connect(carol, alice, sdp("r-offer"), sdp("r-answer"))
    hang_up(alice, a_conv2)
    assert seq(step(alice)) == HUNG_UP
    assert seq(step(carol)) == OTHER_HUNG_UP
    # carol calls alice with a multipart offer (byte for byte, the part alice took named
    # back); carol hangs up by DELETE
    offer = (b"--b1\r\nContent-Type: application/sdp\r\nContent-ID: <v6>\r\n\r\n"
             + sdp("part-1") + b"\r\n--b1\r\nContent-Type: application/sdp\r\n"
             b"Content-ID: <v19>\r\n\r\n" + sdp("part-2") + b"\r\n--b1--\r\n")
    c_conv3, _, _ = connect(carol, alice, offer, sdp("m-answer"), cid="v19",
                            ctype="multipart/alternative;boundary=b1",
                            form="multipart/alternative; boundary=b1")
    assert carol.user.request("DELETE", c_conv3).status_code == 204
    assert seq(step(carol)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP
    # a large offer (more than a pool message) from alice, answered large, alice hangs up
    big, big_ans = sdp("big", video=True, pad=160), sdp("big-answer", video=True, pad=170)
    assert len(big) > 8000 and len(big_ans) > 8000
    a_conv4, _, _ = connect(alice, carol, big, big_ans)
    hang_up(alice, a_conv4)
    assert seq(step(alice)) == HUNG_UP
    assert seq(step(carol)) == OTHER_HUNG_UP
    # each pool's table held the other's large description under a key of its own
    for db in (db1, db2):
        assert int(db.psql("SELECT count(*) FROM ucwa_pool_sdp WHERE length(body) > 8000")) >= 2
    # near the limit of a description (64 KiB), sent as the body: the relayed message is
    # about 80 KiB, and both sides get every byte
    near = sdp("near-limit", pad=1090)
    assert 64000 < len(near) <= 65536
    _, a_conv5, _ = connect(carol, alice, near, sdp("near-answer", pad=1080), form="sdp")
    hang_up(alice, a_conv5)
    assert seq(step(alice)) == HUNG_UP
    assert seq(step(carol)) == OTHER_HUNG_UP


def test_decline_cancel_and_no_answer_both_ways(people):
    alice, carol = people
    declined_and_canceled(alice, carol)
    # and no answer within pool02's UcwaCallRingTimeout (3 s): each pool by its own clock,
    # to the time the invitation carries
    decline_cancel_and_missed(carol, alice)


def test_provisional_answer_and_hold_both_ways(people):
    alice, carol = people
    location, (ev,) = ring(alice, [carol], sdp("early"))
    inv = invitation_of(carol, ev)
    early = sdp("early-media")
    assert answer(carol, inv, early, link="sendProvisionalAnswer").status_code == 204
    (neg,) = step(alice)
    assert neg[:3] == (INV, "audioVideoNegotiation", "updated")
    assert from_uri(embedded(neg[3])["_links"]["mediaProvisionalAnswer"]["href"])[1] == early
    assert answer(carol, inv, sdp("final")).status_code == 204
    c = step(carol)
    assert seq(c) == ANSWERER
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    assert from_uri(embedded(a[0][3])["_links"]["mediaAnswer"]["href"])[1] == sdp("final")
    a_conv, c_conv = a[1][3]["link"]["href"], c[2][3]["link"]["href"]
    hold = sdp("hold").replace(b"a=sendrecv", b"a=sendonly")
    held = sdp("held").replace(b"a=sendrecv", b"a=recvonly")
    renegotiate(alice, carol, a_conv, hold, held)                     # pool01 -> pool02
    renegotiate(carol, alice, c_conv, sdp("resume"), sdp("resumed"))  # pool02 -> pool01
    renegotiate(carol, alice, c_conv, hold, held)                     # numbers in step
    hang_up(carol, c_conv)
    assert seq(step(carol)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP


def test_call_added_to_an_im_conversation_between_pools(people):
    """alice and carol chat across the link; alice adds a call (av-add with the offer),
    carol's answers come back (provisional, final), both renegotiate, carol hangs up and
    the chat goes on; carol adds one, alice declines; alice adds one, cancels it."""
    alice, carol = people
    aconv, cconv = im_connected(alice, carol)
    added_both_ways(alice, carol, aconv, cconv)
    assert say(alice, aconv, "still here") == 201
    assert [e[1] for e in conv_step(carol)] == ["message"]
    conv_step(alice)
    assert alice.user.request("DELETE", aconv).status_code == 204
    drain(alice, carol)


def test_bad_relay_input(pools):
    """Messages a linked pool signs but whose description is missing, too large or not
    base64, or a body too long for the relay: 400, logged."""
    (fe1, _, _), _ = pools
    t = fe1.topo
    key = (fe1.apache.root.parent / "linkcall.key").read_bytes()
    url = f"https://{t.pool}:{t.fe_https}/ucwa-pool/v1/relay"
    s = requests.Session()
    s.trust_env = False

    def post(msg):
        body = json.dumps(msg).encode()
        now = str(int(time.time()))
        sig = hmac.new(key, f"{t.pool2}\np1fe1\n{now}\n".encode() + body,
                       hashlib.sha256).hexdigest()
        return s.post(url, data=body, verify=str(fe1.ca), headers={
            "X-Ucwa-Pool-From": t.pool2, "X-Ucwa-Pool-To": "p1fe1",
            "X-Ucwa-Pool-Time": now, "X-Ucwa-Pool-Signature": sig})
    base = {"k": "reneg", "fe": "p2fe1@" + t.pool2, "conv": "nosuch", "sdp": "0" * 32}
    assert post(base).status_code == 400                                   # missing
    assert post(dict(base, sdpType="application/sdp", sdpData="!!!!")).status_code == 400
    huge = "QUFB" * (70 * 1024 // 3)
    assert post(dict(base, sdpType="application/sdp", sdpData=huge)).status_code == 400
    assert post(dict(base, sdpType="application/sdp",
                     sdpData="QUFB" * (200 * 1024 // 3))).status_code == 400    # body too long
    text = fe1.apache.log_text()
    assert text.count("UCWA00600") >= 3 and "UCWA00433" in text


def test_front_end_killed_while_ringing_and_in_a_call(people, pools):
    """Last: carol's Front End p2fe1 dies (no goodbye) while carol is in a call with alice
    and her other application rings for alice's other one: pool02's reaper (p2fe2, within
    the lease of 4 s) tells pool01 (fe-gone, gone), and both of alice's sides end at once,
    not by a clock (the ring would last 20 s; the connected call would never end)."""
    alice, carol = people
    fes = pools[0]
    connect(alice, carol, sdp("k-offer"), sdp("k-answer"))
    carol2 = callable_app(fes[1].user(CAROL))
    alice2 = callable_app(fes[0].user(ALICE))
    drain(carol, carol2, alice2)
    r = call(alice2, CAROL, sdp("k-ring"))
    assert r.status_code == 201, r.text
    assert seq(step(alice2)) == CALLER_STARTED
    assert seq(step(carol2)) == RINGING
    killed = time.monotonic()
    assert fes[1].apache.kill() > 1
    assert seq(step(alice, timeout=15)) == OTHER_HUNG_UP
    assert seq(step(alice2, timeout=15)) == CALLER_FAILED
    took = time.monotonic() - killed
    assert took < 12, took
    alice2.delete()
