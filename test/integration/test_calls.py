"""Calls between applications (UCWA 2.0 audioVideo) as clients drive them: the offer in its
three forms (JSON with a data URI, application/sdp with the parameters in the query,
multipart/alternative), relayed byte for byte to every ringing endpoint of the callee;
acceptWithAnswer and the answer relayed byte for byte to the caller in
audioVideoNegotiation; the first answer wins; decline, cancel, no answer (missed), hang-up;
renegotiation (hold and resume); an offer too big for an event slot (link-only event, the
invitation GET carries it); the mobility policy without calls; hostile input.

The event sequences are those docs/extensions.md ("Calls") lists and
common/ucwa/ucwa_conv.h with common/ucwa/ucwa_av.h implement. The media stacks (aiortc,
Chromium) are in test_calls_media.py and test_calls_chromium.py."""
import base64
import time
import urllib.parse

import pytest

from ucwa_client import FAST, assert_error, events_of, start_fe, stop_fe, state_with_tags

AV_RELS = {"audioVideoInvitation", "conversation", "localParticipant", "participant",
           "audioVideo", "audioVideoNegotiation", "audioVideoRenegotiation"}
# a side that does not poll for UcwaCallSuspendAfter (2 s here) gets audioVideoSession
# updated (Suspended): only test_suspended_... looks for it
COMM, CONV, INV = "communication", "conversation", "audioVideoInvitation"

NOCALLS = "<UcwaMobilityPolicy NoCalls>\n    EnableIPAudioVideo Off\n</UcwaMobilityPolicy>"


def sdp(tag, video=False, pad=0):
    """A small offer or answer, unique by tag (CRLF lines as real stacks send)."""
    lines = ["v=0", f"o=- {abs(hash(tag)) % 10**9} 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
             "a=group:BUNDLE 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
             "c=IN IP4 0.0.0.0", f"a=ice-ufrag:{tag[:8]}", "a=ice-pwd:" + "p" * 24,
             "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=sendrecv", "a=mid:0"]
    lines += [f"a=candidate:{i} 1 udp 2122260223 10.0.0.{i % 250} {40000 + i} typ host"
              for i in range(pad)]
    if video:
        lines += ["m=video 9 UDP/TLS/RTP/SAVPF 102", "c=IN IP4 0.0.0.0",
                  "a=rtpmap:102 H264/90000", "a=sendrecv", "a=mid:1"]
    return ("\r\n".join(lines) + "\r\n").encode()


def data_uri(body, ctype="application/sdp"):
    return f"data:{ctype};base64," + base64.b64encode(body).decode()


def from_uri(uri):
    head, data = uri.split(",", 1)
    assert head.startswith("data:") and head.endswith(";base64"), head
    return head[5:-7], base64.b64decode(data)


def av(pkg):
    return [(s, rel, t, e) for s, t, rel, e in events_of(pkg) if rel in AV_RELS]


def step(app, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evs = av(app.poll("timeout=1"))
        if evs:
            return evs
    raise AssertionError(f"no call event for {app.id}")


def seq(evs):
    return [(s, rel, t) for s, rel, t, _ in evs]


def quiet(app):
    evs = av(app.poll("timeout=1"))
    assert evs == [], seq(evs)


def embedded(ev):
    (rel, res), = ev["_embedded"].items()
    return res


def sub(app, href):
    assert href.startswith(app.self), href
    return href[len(app.self):]


def callable_app(user, modalities=("Messaging", "Audio", "Video")):
    app = user.create()
    app.available({"SupportedModalities": list(modalities)})
    return app


@pytest.fixture(scope="module")
def st(workdir, state):
    return state_with_tags(workdir, state, "state-calls", {"dave@contoso.test": "NoCalls",
                                                           "erin@contoso.test": None})


@pytest.fixture(scope="module")
def fe(workdir, st):
    f = start_fe(workdir, st, "ucwa-calls", servers=2,
                 extra=FAST + "\nUcwaCallRingTimeout 3\nUcwaCallSuspendAfter 2\n" + NOCALLS)
    yield f
    stop_fe(f)


CALLER_STARTED = [(COMM, INV, "started"), (COMM, "conversation", "added"),
                  (CONV, "localParticipant", "added"), (CONV, "audioVideo", "updated")]
RINGING = [(COMM, INV, "started"), (COMM, "conversation", "added"),
           (CONV, "localParticipant", "added"), (CONV, "participant", "added")]
ANSWERER = [(COMM, INV, "updated"), (CONV, "audioVideo", "updated"),
            (COMM, "conversation", "updated"), (CONV, "participant", "updated"),
            (COMM, INV, "completed")]
CALLER_CONNECTED = [(INV, "audioVideoNegotiation", "updated"), (COMM, "conversation", "updated"),
                    (CONV, "participant", "added"), (CONV, "audioVideo", "updated"),
                    (COMM, INV, "completed")]
CLOSED = [(COMM, INV, "completed"), (COMM, "conversation", "deleted")]
CALLER_FAILED = [(CONV, "audioVideo", "updated"), (COMM, INV, "completed"),
                 (COMM, "conversation", "deleted")]
HUNG_UP = [(CONV, "audioVideo", "updated"), (COMM, "conversation", "deleted")]
OTHER_HUNG_UP = [(CONV, "participant", "deleted"), (CONV, "audioVideo", "updated"),
                 (COMM, "conversation", "deleted")]


def call(caller, callee_name, offer, form="json", **params):
    """Starts a call; returns the response."""
    params.setdefault("operationId", "op-1")
    params.setdefault("sessionContext", "ctx-caller")
    href = caller.doc["_embedded"]["communication"]["_links"]["startAudioVideo"]["href"]
    to = "sip:" + callee_name
    if form == "json":
        body = dict(params, to=to, _links={"mediaOffer": {"href": data_uri(offer)}})
        return caller.post(sub(caller, href), body)
    ctype = "application/sdp" if form == "sdp" else form
    query = urllib.parse.urlencode(dict(params, to=to))
    return caller.user.request("POST", href + "?" + query, data=offer,
                               headers={"Content-Type": ctype})


def ring(caller, callee_apps, offer, **kw):
    r = call(caller, callee_apps[0].user.name, offer, **kw)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith(caller.self + "/communication/audioVideoInvitations/")
    a = step(caller)
    assert seq(a) == CALLER_STARTED
    invs = []
    for app in callee_apps:
        b = step(app)
        assert seq(b) == RINGING
        invs.append(b[0][3])
    return r.headers["Location"], invs


def invitation_of(app, ev):
    """The incoming invitation resource: embedded when it fit, else GET its link."""
    if "_embedded" in ev:
        return embedded(ev)
    r = app.user.request("GET", ev["link"]["href"])
    assert r.status_code == 200, r.text
    return r.json()


def answer(app, inv, body, ctx="ctx-callee", link="acceptWithAnswer"):
    href = inv["_links"][link]["href"] + "?" + urllib.parse.urlencode({"sessionContext": ctx})
    return app.user.request("POST", href, data=body, headers={"Content-Type": "application/sdp"})


def connected(alice, bob, offer=None, answer_sdp=None):
    offer = offer or sdp("offer-a")
    answer_sdp = answer_sdp or sdp("answer-b")
    _, (ev,) = ring(alice, [bob], offer)
    inv = invitation_of(bob, ev)
    assert answer(bob, inv, answer_sdp).status_code == 204
    b = step(bob)
    assert seq(b) == ANSWERER
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    return a, b


def test_call_answered_sdp_relayed_byte_for_byte(users):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    # the communication resource offers calls, and says what this application takes
    comm = alice.doc["_embedded"]["communication"]["_links"]
    assert comm["startAudio"]["href"] == comm["startAudioVideo"]["href"] \
        == alice.self + "/communication/audioVideoInvitations"
    r = alice.get("/communication")
    assert set(r.json()["supportedModalities"]) == {"Messaging", "Audio", "Video"}

    offer, ans = sdp("offer-1", video=True), sdp("answer-1", video=True)
    location, (ev,) = ring(alice, [bob], offer)
    inv = invitation_of(bob, ev)
    assert inv["direction"] == "Incoming" and inv["state"] == "Connecting"
    assert inv["_embedded"]["from"]["uri"] == "sip:alice@contoso.test"
    assert from_uri(inv["_links"]["mediaOffer"]["href"]) == ("application/sdp", offer)
    # the caller's invitation: Outgoing, cancel, its own sessionContext and operationId
    mine = alice.user.request("GET", location).json()
    assert (mine["direction"], mine["state"], mine["operationId"], mine["sessionContext"]) == \
        ("Outgoing", "Connecting", "op-1", "ctx-caller")
    assert "cancel" in mine["_links"] and "audioVideoNegotiation" not in mine["_links"]

    assert answer(bob, inv, ans).status_code == 204
    b = step(bob)
    assert seq(b) == ANSWERER
    assert embedded(b[-1][3])["state"] == "Connected" and b[-1][3]["status"] == "Success"
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    neg = a[0][3]
    assert neg["link"]["href"] == location + "/audioVideoNegotiation"
    assert from_uri(embedded(neg)["_links"]["mediaAnswer"]["href"]) == ("application/sdp", ans)
    assert embedded(neg)["sessionContext"] == "ctx-caller"
    assert a[-1][3]["status"] == "Success"
    assert embedded(a[3][3])["state"] == "Connected"
    # the resources agree with the events
    neg2 = alice.user.request("GET", location + "/audioVideoNegotiation").json()
    assert from_uri(neg2["_links"]["mediaAnswer"]["href"])[1] == ans
    conv = a[1][3]["link"]["href"]
    doc = alice.user.request("GET", conv).json()
    assert doc["state"] == "Connected" and doc["activeModalities"] == ["Audio", "Video"]
    avr = alice.user.request("GET", conv + "/audioVideo").json()
    assert avr["state"] == "Connected" and "audioVideoSession" in avr["_links"]
    # hang-up by the callee ends the call on both sides
    bconv = b[2][3]["link"]["href"]
    bav = bob.user.request("GET", bconv + "/audioVideo").json()
    r = bob.user.request("POST", bav["_links"]["stopAudioVideo"]["href"], json={})
    assert r.status_code == 204, r.text
    assert seq(step(bob)) == HUNG_UP
    assert seq(step(alice)) == OTHER_HUNG_UP
    # the conversation is gone (deleted), as an ended IM conversation
    assert alice.user.request("GET", conv + "/audioVideo").status_code == 404


@pytest.mark.parametrize("form", ["sdp", "multipart/alternative; boundary=b1"])
def test_offer_in_the_body(users, form):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    if form == "sdp":
        offer, ctype = sdp("offer-body"), "application/sdp"
    else:
        offer = (b"--b1\r\nContent-Type: application/sdp\r\nContent-ID: <v6>\r\n\r\n"
                 + sdp("part-1") + b"\r\n--b1\r\nContent-Type: application/sdp\r\n"
                 b"Content-ID: <v19>\r\n\r\n" + sdp("part-2") + b"\r\n--b1--\r\n")
        ctype = "multipart/alternative;boundary=b1"
    location, (ev,) = ring(alice, [bob], offer, form=form)
    inv = invitation_of(bob, ev)
    got_type, got = from_uri(inv["_links"]["mediaOffer"]["href"])
    assert got == offer and got_type.replace(" ", "") == ctype
    # the callee picks a part: the caller learns which
    href = inv["_links"]["acceptWithAnswer"]["href"] + "?sessionContext=c&processedOfferId=v19"
    r = bob.user.request("POST", href, data=sdp("ans"), headers={"Content-Type": "application/sdp"})
    assert r.status_code == 204, r.text
    step(bob)
    a = step(alice)
    assert seq(a) == CALLER_CONNECTED
    if form != "sdp":
        assert embedded(a[0][3])["msAcceptedContentId"] == "v19"
    assert alice.user.request("DELETE", a[1][3]["link"]["href"]).status_code == 204


def test_two_devices_first_answer_wins(users):
    alice = callable_app(users("alice@contoso.test"))
    bob = users("bob@contoso.test")
    phone, tablet = callable_app(bob), callable_app(bob)
    im_only = callable_app(bob, ("Messaging",))
    _, (ev1, ev2) = ring(alice, [phone, tablet], sdp("fork"))
    quiet(im_only)    # an application that did not declare Audio/Video does not ring
    inv2 = invitation_of(tablet, ev2)
    assert answer(tablet, inv2, sdp("tablet")).status_code == 204
    assert seq(step(tablet)) == ANSWERER
    closed = step(phone)
    assert seq(closed) == CLOSED
    assert closed[0][3]["reason"]["subcode"] == "ConnectedElsewhere"
    # too late for the phone: its invitation no longer offers an answer, and one is refused
    inv1 = phone.user.request("GET", ev1["link"]["href"]).json()
    assert inv1["state"] == "Cancelled" and "acceptWithAnswer" not in inv1["_links"]
    r = phone.user.request("POST", ev1["link"]["href"] + "/acceptWithAnswer", data=sdp("late"),
                           headers={"Content-Type": "application/sdp"})
    assert_error(r, 409, "Conflict")
    a = step(alice)
    assert from_uri(embedded(a[0][3])["_links"]["mediaAnswer"]["href"])[1] == sdp("tablet")


def test_decline_cancel_and_missed(users):
    decline_cancel_and_missed(callable_app(users("alice@contoso.test")),
                              callable_app(users("bob@contoso.test")))


def decline_cancel_and_missed(alice, bob):
    """alice calls bob three times: he declines, she cancels, nobody answers (the server's
    UcwaCallRingTimeout is 3 s)."""
    declined_and_canceled(alice, bob)
    # nobody answers within UcwaCallRingTimeout (3 s here)
    ring(alice, [bob], sdp("t"))
    a = step(alice, timeout=15)
    assert seq(a) == CALLER_FAILED and a[1][3]["reason"]["subcode"] == "Timeout"
    b = step(bob)
    assert seq(b) == CLOSED and b[0][3]["reason"]["subcode"] == "Missed"
    assert b[0][3]["reason"]["message"] == "You missed a call."


def declined_and_canceled(alice, bob):
    """alice calls bob twice: he declines, she cancels (he missed it)."""
    # declined
    location, (ev,) = ring(alice, [bob], sdp("d"))
    inv = invitation_of(bob, ev)
    assert bob.user.request("POST", inv["_links"]["decline"]["href"], json={}).status_code == 204
    a = step(alice)
    assert seq(a) == CALLER_FAILED
    assert a[1][3]["status"] == "Failure" and a[1][3]["reason"]["subcode"] == "Declined"
    assert seq(step(bob)) == CLOSED
    # canceled by the caller
    location, _ = ring(alice, [bob], sdp("c"))
    mine = alice.user.request("GET", location).json()
    assert alice.user.request("POST", mine["_links"]["cancel"]["href"], json={}).status_code == 204
    assert step(alice)[1][3]["reason"]["subcode"] == "Canceled"
    b = step(bob)
    assert seq(b) == CLOSED and b[0][3]["reason"]["subcode"] == "Missed"


def test_nobody_to_ring(users):
    alice = callable_app(users("alice@contoso.test"))
    callable_app(users("bob@contoso.test"), ("Messaging",))
    r = call(alice, "bob@contoso.test", sdp("x"))
    assert r.status_code == 201
    a = step(alice)
    assert seq(a) == CALLER_STARTED + CALLER_FAILED or \
        seq(a + step(alice)) == CALLER_STARTED + CALLER_FAILED


def renegotiate(by, peer, conv, offer, ans, while_open=None):
    """by renegotiates connected call conv (its href) with offer, peer answers ans: the
    SDP byte for byte both ways. while_open(by, renegotiations href): before the answer."""
    session = by.user.request("GET", conv + "/audioVideo").json()["_links"]["audioVideoSession"]
    renegs = by.user.request("GET", session["href"]).json()["_links"]["renegotiations"]["href"]
    r = by.user.request("POST", renegs + "?operationId=h1", data=offer,
                        headers={"Content-Type": "application/sdp"})
    assert r.status_code == 201, r.text
    if while_open:
        while_open(by, renegs)
    (ev,) = [e for e in step(peer) if e[1] == "audioVideoRenegotiation"]
    assert ev[2] == "started"
    reneg_answered(by, peer, ev[3], offer, ans)


def reneg_answered(by, peer, ev, offer, ans):
    """peer answers renegotiation started event ev (by's offer) with ans: by gets it
    completed Success, the SDP byte for byte both ways."""
    rn = invitation_of(peer, ev)
    assert rn["direction"] == "Incoming"
    assert from_uri(rn["_links"]["mediaOffer"]["href"])[1] == offer
    r = peer.user.request("POST", rn["_links"]["answer"]["href"], data=ans,
                          headers={"Content-Type": "application/sdp"})
    assert r.status_code == 204, r.text
    (done,) = step(by)
    assert done[1:3] == ("audioVideoRenegotiation", "completed")
    assert done[3]["status"] == "Success"
    assert from_uri(invitation_of(by, done[3])["_links"]["mediaAnswer"]["href"])[1] == ans


def test_hold_and_resume_by_renegotiation(users):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    a, b = connected(alice, bob)
    conv = a[1][3]["link"]["href"]
    hold = sdp("hold").replace(b"a=sendrecv", b"a=sendonly")

    def second(app, renegs):
        # a second one while this one is open: 409 AlreadyExists
        r2 = app.user.request("POST", renegs, data=hold,
                              headers={"Content-Type": "application/sdp"})
        assert_error(r2, 409, "Conflict", "AlreadyExists")
    for offer, ans in ((hold, sdp("held").replace(b"a=sendrecv", b"a=recvonly")),
                       (sdp("resume"), sdp("resumed"))):
        renegotiate(alice, bob, conv, offer, ans, while_open=second)


def test_renegotiations_at_once_on_one_front_end(users):
    """Both parties renegotiate at once on one Front End: nothing crosses, the second POST
    (whoever's) is 409 AlreadyExists, the first goes on (across Front Ends: test_pool_calls)."""
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    a, b = connected(alice, bob)
    conv, b_conv = a[1][3]["link"]["href"], b[2][3]["link"]["href"]

    def bob_too(app, renegs):
        session = bob.user.request("GET", b_conv + "/audioVideo").json()
        href = bob.user.request("GET", session["_links"]["audioVideoSession"]["href"]).json()
        r = bob.user.request("POST", href["_links"]["renegotiations"]["href"] + "?operationId=b",
                             data=sdp("b-video", video=True),
                             headers={"Content-Type": "application/sdp"})
        assert_error(r, 409, "Conflict", "AlreadyExists")
    renegotiate(alice, bob, conv, sdp("a-hold").replace(b"a=sendrecv", b"a=sendonly"),
                sdp("b-held").replace(b"a=sendrecv", b"a=recvonly"), while_open=bob_too)


def test_large_offer_goes_by_link(users):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    offer = sdp("big", video=True, pad=160)     # about 9 KiB: more than an event slot
    assert len(offer) > 8000
    _, (ev,) = ring(alice, [bob], offer)
    assert "_embedded" not in ev
    inv = invitation_of(bob, ev)
    assert from_uri(inv["_links"]["mediaOffer"]["href"])[1] == offer
    assert answer(bob, inv, sdp("small")).status_code == 204


def test_policy_without_calls(users):
    dave = callable_app(users("dave@contoso.test"))
    links = dave.doc["_embedded"]["communication"]["_links"]
    assert not {"startAudio", "startVideo", "startAudioVideo"} & set(links)
    r = dave.post("/communication/audioVideoInvitations",
                  {"to": "sip:bob@contoso.test",
                   "_links": {"mediaOffer": {"href": data_uri(sdp("no"))}}})
    assert_error(r, 403, "Forbidden")
    # and dave's applications never ring
    alice = callable_app(users("alice@contoso.test"))
    assert call(alice, "dave@contoso.test", sdp("to-dave")).status_code == 201
    a = step(alice)
    a = a if len(a) > 4 else a + step(alice)
    assert seq(a) == CALLER_STARTED + CALLER_FAILED
    assert a[5][3]["reason"]["subcode"] == "Unreachable"
    quiet(dave)


@pytest.mark.parametrize("body,ctype,status", [
    (b"", "application/sdp", 400),
    (b"x=0\r\nm=audio 9 RTP/AVP 0\r\n", "application/sdp", 400),
    (b"v=0\r\n\x00m=audio 9 RTP/AVP 0\r\n", "application/sdp", 400),
    (b"v=0\r\nm=audio 9 RTP/AVP 0\r\n", "text/plain", 415),
    (b"v=0\r\n" + b"a=x\r\n" * 20000, "application/sdp", 413),
    (b"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n", "multipart/alternative; boundary=b",
     400),
])
def test_hostile_offers(users, fe, body, ctype, status):
    alice = callable_app(users("alice@contoso.test"))
    href = alice.self + "/communication/audioVideoInvitations?to=sip:bob@contoso.test"
    r = alice.user.request("POST", href, data=body, headers={"Content-Type": ctype})
    assert r.status_code == status, r.text
    for bad in ("data:application/sdp;base64,!!!", "http://example.com/x.sdp", 42):
        r = alice.post("/communication/audioVideoInvitations",
                       {"to": "sip:bob@contoso.test", "_links": {"mediaOffer": {"href": bad}}})
        assert r.status_code == 400, r.text
    # someone else's invitation and conversation do not exist for this user
    carol = callable_app(users("erin@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    location, (ev,) = ring(alice, [bob], sdp("mine"))
    path = location[len(alice.self):]
    assert_error(carol.user.request("POST", carol.self + path + "/acceptWithAnswer",
                                    data=sdp("steal"),
                                    headers={"Content-Type": "application/sdp"}), 404, "NotFound")
    # the caller cannot answer its own call, nor the callee cancel it
    assert alice.user.request("POST", location + "/acceptWithAnswer", data=sdp("self"),
                              headers={"Content-Type": "application/sdp"}).status_code == 404
    inv = invitation_of(bob, ev)
    assert bob.user.request("POST", inv["_links"]["self"]["href"] + "/cancel",
                            json={}).status_code == 404
    # an answer after the cancel
    alice.user.request("POST", location + "/cancel", json={})
    assert answer(bob, inv, sdp("after")).status_code == 409


IM_RELS = {"messagingInvitation", "messaging", "participantMessaging", "message"}


def conv_step(app, timeout=10):
    """The next package's IM and call events."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evs = [(s, rel, t, e) for s, t, rel, e in events_of(app.poll("timeout=1"))
               if rel in AV_RELS | IM_RELS]
        if evs:
            return evs
    raise AssertionError(f"no conversation event for {app.id}")


def call_step(app):
    """The next call events, skipping messages (each side sees its own as Outgoing)."""
    for _ in range(5):
        evs = [e for e in conv_step(app) if e[1] != "message"]
        if evs:
            return evs
    raise AssertionError(f"no call event for {app.id}")


def im_connected(alice, bob):
    """alice and bob in a connected IM conversation: their conversation hrefs."""
    r = alice.post("/communication/messagingInvitations", {"to": "sip:" + bob.user.name})
    assert r.status_code == 201, r.text
    conv_step(alice)
    inv = embedded(conv_step(bob)[0][3])
    assert bob.user.request("POST", inv["_links"]["accept"]["href"], json={}).status_code == 204
    b = conv_step(bob)
    a = conv_step(alice)
    return ([e[3]["link"]["href"] for e in a if e[1] == "conversation"][0],
            [e[3]["link"]["href"] for e in b if e[1] == "conversation"][0])


def say(app, conv, text):
    r = app.user.request("POST", conv + "/messaging/messages", data=text.encode(),
                         headers={"Content-Type": "text/plain"})
    return r.status_code


def add_call(app, conv, offer):
    avr = app.user.request("GET", conv + "/audioVideo").json()
    assert avr["state"] == "Disconnected"
    href = avr["_links"]["addAudioVideo"]["href"] + "?sessionContext=add-1&operationId=op-add"
    return app.user.request("POST", href, data=offer, headers={"Content-Type": "application/sdp"})


ADDER = [(COMM, INV, "started"), (CONV, "audioVideo", "updated")]
ADD_ANSWERER = [(COMM, INV, "completed"), (CONV, "audioVideo", "updated"),
                (COMM, "conversation", "updated")]
ADDER_CONNECTED = [(INV, "audioVideoNegotiation", "updated"), (COMM, INV, "completed"),
                   (CONV, "audioVideo", "updated"), (COMM, "conversation", "updated")]
ADDED_STOPPED = [(CONV, "audioVideo", "updated"), (COMM, "conversation", "updated")]


def add_and_ring(alice, bob, aconv, bconv, offer):
    """alice adds a call with offer to their IM conversation: bob's application rings with
    the offer byte for byte. The add's response and bob's invitation."""
    r = add_call(alice, aconv, offer)
    assert r.status_code == 201, r.text
    assert seq(conv_step(alice)) == ADDER
    b = conv_step(bob)
    assert seq(b) == ADDER
    inv = invitation_of(bob, b[0][3])
    assert inv["direction"] == "Incoming" and inv["_links"]["conversation"]["href"] == bconv
    assert from_uri(inv["_links"]["mediaOffer"]["href"])[1] == offer
    assert inv["_embedded"]["from"]["uri"] == "sip:" + alice.user.name
    return r, inv


def added_answered(alice, bob, aconv, inv, ans):
    """bob answers alice's added call (with video) with ans: both connected, the answer
    byte for byte at alice's."""
    assert answer(bob, inv, ans).status_code == 204
    assert seq(conv_step(bob)) == ADD_ANSWERER
    a = conv_step(alice)
    assert seq(a) == ADDER_CONNECTED
    assert from_uri(embedded(a[0][3])["_links"]["mediaAnswer"]["href"])[1] == ans
    assert embedded(a[0][3])["sessionContext"] == "add-1"
    doc = alice.user.request("GET", aconv).json()
    assert doc["state"] == "Connected" and doc["activeModalities"] == ["Messaging", "Audio", "Video"]


def callee_hangs_up_added(alice, bob, aconv, bconv):
    """bob hangs up the call added to their IM conversation: it ends for both, the
    conversation goes on (bob's next message reaches alice)."""
    stop = bob.user.request("GET", bconv + "/audioVideo").json()["_links"]["stopAudioVideo"]
    assert bob.user.request("POST", stop["href"], json={}).status_code == 204
    assert seq(conv_step(bob)) == ADDED_STOPPED
    assert seq(conv_step(alice)) == ADDED_STOPPED
    doc = alice.user.request("GET", aconv).json()
    assert doc["state"] == "Connected" and doc["activeModalities"] == ["Messaging"]
    assert say(bob, bconv, "call over") == 201
    assert [e[1] for e in conv_step(alice)] == ["message"]
    conv_step(bob)


def test_a_call_added_to_an_im_conversation_and_removed(users):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    aconv, bconv = im_connected(alice, bob)
    offer, ans = sdp("add-offer", video=True), sdp("add-answer", video=True)
    r, inv = add_and_ring(alice, bob, aconv, bconv, offer)
    assert r.headers["Location"].startswith(alice.self + "/communication/audioVideoInvitations/")
    # a second call while this one rings: refused
    r = bob.user.request("POST", bconv + "/audioVideo/addAudioVideo", data=sdp("again"),
                         headers={"Content-Type": "application/sdp"})
    assert_error(r, 409, "Conflict")
    added_answered(alice, bob, aconv, inv, ans)
    # messages still flow beside the call
    assert say(alice, aconv, "still here") == 201
    assert [e[1] for e in conv_step(bob)] == ["message"]
    conv_step(alice)
    # the callee hangs up: the call ends, the conversation goes on
    callee_hangs_up_added(alice, bob, aconv, bconv)
    # a call again; this time bob declines it
    assert add_call(alice, aconv, sdp("second")).status_code == 201
    call_step(alice)
    inv = invitation_of(bob, call_step(bob)[0][3])
    assert bob.user.request("POST", inv["_links"]["decline"]["href"], json={}).status_code == 204
    a = call_step(alice)
    assert seq(a) == [(CONV, "audioVideo", "updated"), (COMM, INV, "completed")]
    assert a[1][3]["status"] == "Failure" and a[1][3]["reason"]["subcode"] == "Declined"
    b = call_step(bob)
    assert seq(b) == [(COMM, INV, "completed")] and b[0][3]["reason"]["subcode"] == "Declined"
    # a third, answered; then messaging stops and the call goes on alone, then ends all
    messaging_stopped_beside_a_call(alice, bob, aconv, bconv, sdp("third"),
                                    sdp("third-answer"))


def messaging_stopped_beside_a_call(alice, bob, aconv, bconv, offer, ans):
    """alice adds a call to their IM conversation, bob answers; alice stops messaging: it
    ends for both and the call goes on alone; alice hangs up and the conversation ends."""
    assert add_call(alice, aconv, offer).status_code == 201
    call_step(alice)
    inv = invitation_of(bob, call_step(bob)[0][3])
    assert answer(bob, inv, ans).status_code == 204
    conv_step(bob)
    conv_step(alice)
    r = alice.user.request("POST", aconv + "/messaging/terminate", json={})
    assert r.status_code == 204, r.text
    for app in (alice, bob):
        evs = conv_step(app)
        assert seq(evs) == [(CONV, "messaging", "updated"), (COMM, "conversation", "updated")]
        assert embedded(evs[0][3])["state"] == "Disconnected"
    doc = bob.user.request("GET", bconv).json()
    assert doc["state"] == "Connected" and doc["activeModalities"] == ["Audio"]
    assert say(bob, bconv, "nobody reads") == 409
    stop = alice.user.request("GET", aconv + "/audioVideo").json()["_links"]["stopAudioVideo"]
    assert alice.user.request("POST", stop["href"], json={}).status_code == 204
    assert seq(conv_step(alice))[-1] == (COMM, "conversation", "deleted")
    assert seq(conv_step(bob))[-1] == (COMM, "conversation", "deleted")


def add_messaging(app, conv, op):
    m = app.user.request("GET", conv + "/messaging").json()
    assert m["state"] == "Disconnected", m
    return app.user.request("POST", m["_links"]["addMessaging"]["href"], json={"operationId": op})


def messaging_added(adder, other, aconv, op):
    """adder adds messaging to the call's conversation (aconv, its href): the invitation is
    Outgoing on its side, Incoming (from adder) on the other's; returns that one."""
    r = add_messaging(adder, aconv, op)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith(adder.self + "/communication/messagingInvitations/")
    evs = conv_step(adder)
    assert seq(evs) == [(COMM, "messagingInvitation", "started"), (CONV, "messaging", "updated")]
    out = embedded(evs[0][3])
    assert (out["direction"], out["state"], out["operationId"]) == ("Outgoing", "Connecting", op)
    assert out["_links"]["self"]["href"] == r.headers["Location"]
    assert embedded(evs[1][3])["state"] == "Connecting"
    (ev,) = conv_step(other)
    assert ev[:3] == (COMM, "messagingInvitation", "started")
    inc = embedded(ev[3])
    assert inc["direction"] == "Incoming" and inc["state"] == "Connecting"
    assert inc["_embedded"]["from"]["uri"] == "sip:" + adder.user.name
    return inc


def both_connected(alice, bob, modalities):
    for app in (alice, bob):
        evs = conv_step(app)
        assert seq(evs) == [(CONV, "messaging", "updated"), (COMM, "conversation", "updated"),
                            (CONV, "participantMessaging", "added"),
                            (CONV, "participantMessaging", "added"),
                            (COMM, "messagingInvitation", "completed")]
        assert embedded(evs[0][3])["state"] == "Connected"
        assert sorted(embedded(evs[1][3])["activeModalities"]) == modalities
        assert evs[-1][3]["status"] == "Success"


def messaging_added_to_a_call(alice, bob, aconv, bconv):
    """alice called bob (connected; aconv, bconv their conversations). bob adds messaging,
    alice declines; he adds it again, she accepts: messages both ways; stopping messaging
    leaves the call. alice adds it again, bob accepts; hanging up leaves messaging, and
    stopping messaging then ends the conversation."""
    inc = messaging_added(bob, alice, bconv, "op-im1")
    r = alice.user.request("POST", aconv + "/messaging/addMessaging", json={})
    assert_error(r, 409, "Conflict")          # one at a time
    assert alice.user.request("POST", inc["_links"]["decline"]["href"], json={}).status_code \
        == 204
    b = conv_step(bob)
    assert seq(b) == [(CONV, "messaging", "updated"), (COMM, "messagingInvitation", "completed")]
    assert embedded(b[0][3])["state"] == "Disconnected"
    assert b[1][3]["status"] == "Failure" and b[1][3]["reason"]["subcode"] == "Declined"
    (a,) = conv_step(alice)
    assert a[:3] == (COMM, "messagingInvitation", "completed") and a[3]["status"] == "Failure"

    inc = messaging_added(bob, alice, bconv, "op-im2")
    assert alice.user.request("POST", inc["_links"]["accept"]["href"], json={}).status_code \
        == 204
    both_connected(alice, bob, ["Audio", "Messaging"])
    for sender, receiver, conv in ((alice, bob, aconv), (bob, alice, bconv)):
        assert say(sender, conv, "over the call") == 201
        conv_step(sender)
        (m,) = conv_step(receiver)
        assert m[:3] == (CONV, "message", "completed")
        assert embedded(m[3])["direction"] == "Incoming"
    r = alice.user.request("POST", aconv + "/messaging/terminate", json={})
    assert r.status_code == 204, r.text
    for app in (alice, bob):
        evs = conv_step(app)
        assert seq(evs) == [(CONV, "messaging", "updated"), (COMM, "conversation", "updated")]
        assert embedded(evs[1][3])["activeModalities"] == ["Audio"]
    assert say(alice, aconv, "after") == 409
    assert alice.user.request("GET", aconv + "/audioVideo").json()["state"] == "Connected"

    inc = messaging_added(alice, bob, aconv, "op-im3")
    assert bob.user.request("POST", inc["_links"]["accept"]["href"], json={}).status_code == 204
    both_connected(alice, bob, ["Audio", "Messaging"])
    stop = alice.user.request("GET", aconv + "/audioVideo").json()["_links"]["stopAudioVideo"]
    assert alice.user.request("POST", stop["href"], json={}).status_code == 204
    for app in (alice, bob):
        evs = conv_step(app)
        assert seq(evs) == [(CONV, "audioVideo", "updated"), (COMM, "conversation", "updated")]
        assert embedded(evs[0][3])["state"] == "Disconnected"
        assert embedded(evs[1][3])["activeModalities"] == ["Messaging"]
    assert say(bob, bconv, "still here") == 201
    conv_step(bob)
    assert conv_step(alice)[0][:3] == (CONV, "message", "completed")
    r = bob.user.request("POST", bconv + "/messaging/terminate", json={})
    assert r.status_code == 204, r.text
    for app in (alice, bob):
        assert seq(conv_step(app))[-1] == (COMM, "conversation", "deleted")


def test_messaging_added_to_a_call(users):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    a, b = connected(alice, bob)
    messaging_added_to_a_call(alice, bob, a[1][3]["link"]["href"], b[2][3]["link"]["href"])


def test_supported_media_and_the_devices_call_settings(users):
    alice = callable_app(users("alice@contoso.test"))
    # a contact's supportedMedia says what its applications declared: the call buttons
    bob_user = users("bob@contoso.test")
    im_only = callable_app(bob_user, ("Messaging",))
    media = alice.get("/people/bob@contoso.test/supportedMedia").json()
    assert media["modalities"] == ["Messaging"]
    bob = bob_user.create()
    r = bob.post("/me/makeMeAvailable", {"SupportedModalities": ["Messaging", "Audio", "Video"],
                                         "phoneNumber": "+1 (425) 555-0100",
                                         "audioPreference": "PhoneAudio"})
    assert r.status_code == 204, r.text
    media = alice.get("/people/bob@contoso.test/supportedMedia").json()
    assert media["modalities"] == ["Messaging", "Audio", "Video"]
    comm = bob.get("/communication").json()
    assert comm["phoneNumber"] == "+1 (425) 555-0100" and comm["audioPreference"] == "PhoneAudio"
    assert alice.get("/communication").json()["audioPreference"] == "VoipAudio"
    # dave's policy has no calls: his applications never show Audio or Video
    dave = callable_app(users("dave@contoso.test"))
    assert set(dave.get("/communication").json()["supportedModalities"]) == {"Messaging"}
    assert alice.get("/people/dave@contoso.test/supportedMedia").json()["modalities"] == \
        ["Messaging"]
    # what makeMeAvailable refuses
    for bad in ({"phoneNumber": "call me maybe"}, {"phoneNumber": "+1" + "2" * 40},
                {"audioPreference": "Pigeon"}, {"phoneNumber": 42}):
        app = bob_user.create()
        r = app.post("/me/makeMeAvailable", dict(bad, SupportedModalities=["Audio"]))
        assert_error(r, 400, "BadRequest", "ParameterValidationFailure")
    del im_only


def test_suspended_then_resumed_after_a_network_change(users, fe):
    alice = callable_app(users("alice@contoso.test"))
    bob = callable_app(users("bob@contoso.test"))
    a, b = connected(alice, bob)
    bconv = b[2][3]["link"]["href"]
    session = bob.user.request("GET", bconv + "/audioVideo/audioVideoSession").json()
    assert session["state"] == "Established" and "resumeAudio" not in session["_links"]
    # bob's phone changes networks: no event request for UcwaCallSuspendAfter (2 s here)
    # while alice keeps polling
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        alice.poll("timeout=1")
    (ev,) = [(s, rel, t, e) for s, t, rel, e in events_of(bob.poll("timeout=1"))
             if rel == "audioVideoSession"]
    assert ev[2] == "updated" and embedded(ev[3])["state"] == "Suspended"
    session = bob.user.request("GET", bconv + "/audioVideo/audioVideoSession").json()
    assert session["state"] == "Suspended"
    # alice's side did not lose anything
    aconv = a[1][3]["link"]["href"]
    assert alice.user.request("GET", aconv + "/audioVideo/audioVideoSession").json()["state"] \
        == "Established"
    # bob comes back with an ICE restart: resumeAudio is a renegotiation
    restart = sdp("ice-restart")
    r = bob.user.request("POST", session["_links"]["resumeAudio"]["href"] + "?operationId=r1",
                         data=restart, headers={"Content-Type": "application/sdp"})
    assert r.status_code == 201, r.text
    assert bob.user.request("GET", bconv + "/audioVideo/audioVideoSession").json()["state"] \
        == "Established"
    (ev,) = [e for e in step(alice) if e[1] == "audioVideoRenegotiation"]
    rn = invitation_of(alice, ev[3])
    assert from_uri(rn["_links"]["mediaOffer"]["href"])[1] == restart
    r = alice.user.request("POST", rn["_links"]["answer"]["href"], data=sdp("restarted"),
                           headers={"Content-Type": "application/sdp"})
    assert r.status_code == 204, r.text
    (done,) = [e for e in step(bob) if e[1] == "audioVideoRenegotiation"]
    assert done[2] == "completed" and done[3]["status"] == "Success"
