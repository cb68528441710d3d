"""Instant messaging when it does not work out: an unanswered invitation (a shortened
UcwaInvitationTimeout), recipients who are offline, unknown or not available for Messaging
(all answered alike, so nothing tells whether a user exists), inviting oneself, bad input
of every kind, message sizes against UcwaEventSize, another user's conversations, and
the store staying consistent after a barrage of conversations in several processes."""
import json
import re
import statistics
import threading
import time

import pytest

import mobility

from ucwa_client import (FAST, assert_error, events_of, get_token, new_http, start_fe,
                         state_with_tags, stop_fe)
from test_ucwa_messaging import (CLOSED, COMM, CONV, INCOMING, SENDER_FAILED, SENDER_STARTED,
                                 OTHER_LEFT, LEFT, connect, data_text, embedded, im, quiet,
                                 seq, signed_in, start, step)

EXTRA_USERS = [f"user{i}@contoso.test" for i in range(1, 7)] + ["dave@contoso.test",
                                                                 "erin@contoso.test"]


@pytest.fixture(scope="module")
def st(workdir, state):
    st = state_with_tags(workdir, state, "state-im-failures", {u: None for u in EXTRA_USERS})
    mobility.make_directory(st, mobility.Topology())   # writable by the children
    return st


@pytest.fixture(scope="module")
def fe(workdir, st):
    f = start_fe(workdir, st, "ucwa-im-failures", servers=3,
                 extra="\n".join([FAST, "UcwaInvitationTimeout 2"]))
    yield f
    stop_fe(f)


def test_an_unanswered_invitation_times_out(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, phone, tablet = signed_in(alice), signed_in(bob), signed_in(bob)
    t0 = time.monotonic()
    start(a_app, operationId="op-timeout")
    assert seq(step(a_app)) == SENDER_STARTED
    for dev in (phone, tablet):
        assert seq(step(dev)) == INCOMING
    evs = step(a_app)
    took = time.monotonic() - t0
    # UcwaInvitationTimeout 2, and the sweeper looks once a second
    assert seq(evs) == SENDER_FAILED and 1.9 <= took < 4.5, took
    done = evs[1][3]
    assert done["status"] == "Failure"
    assert done["reason"] == {"code": "RemoteFailure", "subcode": "Timeout",
                              "message": done["reason"]["message"]}
    assert embedded(done)["state"] == "Failed" and embedded(done)["operationId"] == "op-timeout"
    for dev in (phone, tablet):
        evs = step(dev)
        assert seq(evs) == CLOSED
        assert evs[0][3]["reason"]["code"] == "Informational"
        assert evs[0][3]["reason"]["subcode"] == "Missed"
        # too late to answer now
        inv = evs[0][3]["link"]["href"][len(dev.self):]
        assert_error(dev.post(inv + "/accept"), 409, "Conflict")


def normalized(r, evs, to):
    """What the sender learns from one invitation, with the ids, the date and the
    invited address replaced."""
    text = json.dumps({"status": r.status_code, "body": r.text,
                       "headers": sorted(k for k in r.headers if k not in ("Date",)),
                       "events": [e for _, _, _, e in evs]}, sort_keys=True)
    text = re.sub(r"[0-9a-f]{32}", "ID", text)
    text = re.sub(r"/Date\(\d+\)/", "DATE", text)
    return text.replace(to, "TO")


def test_offline_unknown_and_unavailable_recipients_look_the_same(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app = signed_in(alice)
    lurker = bob.create()   # bob is signed in, but not available for Messaging
    audio = signed_in(users("dave@contoso.test"), SupportedModalities=["PhoneAudio"])
    targets = {
        "offline": "user1@contoso.test",          # exists, never signed in
        "other pool": "carol@contoso.test",       # exists, homed elsewhere
        "unknown": "nobody@contoso.test",         # no such user
        "other domain": "someone@fabrikam.example",
        "lurker": "bob@contoso.test",
        "phone only": "dave@contoso.test",
    }
    seen, times = {}, {k: [] for k in targets}
    for rnd in range(5):
        for what, to in targets.items():
            t0 = time.monotonic()
            r = a_app.post("/communication/messagingInvitations",
                           {"to": "sip:" + to, "operationId": "op", "subject": "hi"})
            times[what].append(time.monotonic() - t0)
            assert r.status_code == 201, r.text
            evs = step(a_app)
            assert seq(evs) == SENDER_STARTED + SENDER_FAILED, (what, seq(evs))
            assert evs[5][3]["reason"]["subcode"] == "Unreachable"
            assert evs[5][3]["reason"]["code"] == "RemoteFailure"
            seen.setdefault(what, normalized(r, evs, to))
            assert normalized(r, evs, to) == seen[what]
    first = next(iter(seen.values()))
    assert all(v == first for v in seen.values()), seen
    medians = {k: statistics.median(v) for k, v in times.items()}
    assert max(medians.values()) < 0.5 and max(medians.values()) - min(medians.values()) < 0.1, \
        medians
    # nobody was alerted
    for app in (lurker, audio):
        assert all(rel not in ("messagingInvitation", "conversation")
                   for _, _, rel, _ in events_of(app.poll("timeout=1")))
    # the failed invitation stays readable for a while
    r = a_app.post("/communication/messagingInvitations", {"to": "sip:nobody@contoso.test"})
    inv = a_app.get(r.headers["Location"][len(a_app.self):]).json()
    assert inv["state"] == "Failed" and inv["direction"] == "Outgoing"


def test_a_user_homed_on_another_pool_gets_no_application_here(fe, users):
    """Issue 10, defect 2: carol (homed on pool02) signs in at pool01's token endpoint
    and asked pool01 for an application: it answered 201, and alice's invitation reached
    it. She gets 403 UserNotHomedHere (Autodiscover sends her to pool02), in JSON and
    XML, from either prefix; no application is made; alice's invitation fails as for
    anyone nobody can alert."""
    http = new_http(fe.ca)
    token = get_token(http, fe.base, "carol@contoso.test")
    before = fe.status()["applications"]
    body = {"userAgent": "t", "endpointId": "carol-1", "culture": "en-US"}
    for prefix in ("/ucwa/oauth/v1/applications", "/ucwa/v1/applications"):
        r = http.post(fe.origin + prefix, json=body,
                      headers={"Authorization": "Bearer " + token, "Accept": "application/json"})
        assert_error(r, 403, "Forbidden", "UserNotHomedHere")
        assert "Location" not in r.headers and "Set-Cookie" not in r.headers
    r = http.post(fe.origin + "/ucwa/oauth/v1/applications", json=body,
                  headers={"Authorization": "Bearer " + token,
                           "Accept": "application/vnd.microsoft.com.ucwa+xml"})
    assert r.status_code == 403 and b"UserNotHomedHere" in r.content
    assert fe.status()["applications"] == before
    a_app = signed_in(users("alice@contoso.test"))
    start(a_app, to="sip:carol@contoso.test")
    evs = step(a_app)
    assert seq(evs) == SENDER_STARTED + SENDER_FAILED
    assert evs[5][3]["reason"]["subcode"] == "Unreachable"
    # a user homed here still gets one with the same kind of token
    r = http.post(fe.origin + "/ucwa/oauth/v1/applications", json=body,
                  headers={"Authorization": "Bearer " + get_token(http, fe.base, "dave@contoso.test")})
    assert r.status_code == 201, r.text
    assert http.delete(fe.origin + r.headers["Location"],
                       headers={"Authorization": "Bearer " + get_token(
                           http, fe.base, "dave@contoso.test")}).status_code == 204


def test_inviting_yourself_is_refused(users):
    alice = users("alice@contoso.test")
    a_app, other = signed_in(alice), signed_in(alice)
    for to in ("sip:alice@contoso.test", "SIP:Alice@Contoso.TEST", "alice@contoso.test"):
        assert_error(a_app.post("/communication/messagingInvitations", {"to": to}),
                     400, "BadRequest", "ParameterValidationFailure")
    quiet(other)


def test_bad_invitations(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app = signed_in(alice)
    b_app = signed_in(bob)
    inv = "/communication/messagingInvitations"
    for body in ({}, {"to": ""}, {"to": "bob"}, {"to": "sip:"}, {"to": "sip:a b@contoso.test"},
                 {"to": "sip:a@b@contoso.test"}, {"to": 5}, {"to": ["sip:bob@contoso.test"]},
                 {"to": "sip:bob@contoso.test", "subject": "s" * 251},
                 {"to": "sip:bob@contoso.test", "subject": "line\nbreak"},
                 {"to": "sip:bob@contoso.test", "importance": "High"},
                 {"to": "sip:bob@contoso.test", "operationId": "o" * 51},
                 {"to": "sip:bob@contoso.test", "operationId": "a b"},
                 {"to": "sip:bob@contoso.test", "threadId": "t" * 64},
                 {"to": "sip:bob@contoso.test", "_links": "x"},
                 {"to": "sip:bob@contoso.test", "_links": {"message": "data:,x"}},
                 {"to": "sip:bob@contoso.test", "_links": {"message": {"href": 3}}}):
        assert_error(a_app.post(inv, body), 400, "BadRequest", "ParameterValidationFailure")
    for uri in ("http://example.com/x", "data:image/png;base64,AAAA", "data:text/plain,%zz",
                "data:text/plain,50%", "data:text/plain;base64,!!!!", "data:text/plain;base64,QQ=",
                "data:text/plain,%ff", "data:text/plain,a%00b",
                "data:text/plain;charset=iso-8859-1,abc", "data:text/plain;base64;x=y,QQ==",
                "data:text/plain" + ";x=y" * 100 + ",a", "data:text/plain"):
        assert_error(a_app.post(inv, {"to": "sip:bob@contoso.test",
                                      "_links": {"message": {"href": uri}}}),
                     400, "BadRequest", "ParameterValidationFailure")
    # too long for a message, and too long for an event slot (UcwaEventSize 4096)
    for n in (70000, 3800):
        assert_error(a_app.post(inv, {"to": "sip:bob@contoso.test",
                                      "_links": {"message": {"href": "data:text/plain,"
                                                             + "a" * n}}}),
                     413, "EntityTooLarge")
    assert_error(a_app.post(inv, data="to=sip:bob@contoso.test",
                            headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaType")
    assert_error(a_app.post(inv, data="{", headers={"Content-Type": "application/json"}),
                 400, "BadRequest")
    assert_error(a_app.get(inv), 405, "MethodNotAllowed")
    # nothing of all that reached bob
    quiet(b_app)
    # the query form works too (startMessaging's documented query parameter)
    r = a_app.post(inv + "?to=sip%3Abob%40contoso.test")
    assert r.status_code == 201, r.text
    assert seq(step(b_app)) == INCOMING


def test_bad_messages_and_other_peoples_conversations(users):
    alice, bob, dave = (users("alice@contoso.test"), users("bob@contoso.test"),
                        users("dave@contoso.test"))
    a_app, b_app, d_app = signed_in(alice), signed_in(bob), signed_in(dave)
    a_conv, b_conv = connect(a_app, b_app)
    msgs = a_conv[len(a_app.self):] + "/messaging/messages"

    def send(data, ctype="text/plain", app=a_app, path=msgs):
        return app.post(path, data=data, headers={"Content-Type": ctype} if ctype else {})
    assert_error(send(b"x" * (64 * 1024 + 1)), 413, "EntityTooLarge")
    assert_error(send(b"a" * 3900), 413, "EntityTooLarge")        # its event would not fit
    assert send(b"a" * 2000).status_code == 201
    assert send(b"no content type", ctype=None).status_code == 201   # plain by default
    for ctype in ("application/json", "image/png", "text/plain; charset=iso-8859-1", "text",
                  "text/plain; charset=utf-16"):
        assert_error(send(b"hello", ctype), 415, "UnsupportedMediaType")
    for data in (b"", b"\xff\xfe", b"a\x00b", b"\xed\xa0\x80", b"\xc0\xaf"):
        assert_error(send(data), 400, "BadRequest", "ParameterValidationFailure")
    assert_error(send("é".encode(), "text/plain; charset=us-ascii"), 400, "BadRequest")
    assert_error(a_app.get(msgs), 405, "MethodNotAllowed")
    assert_error(a_app.post(msgs + "?operationId=" + "x" * 51, data="hi",
                            headers={"Content-Type": "text/plain"}), 400, "BadRequest")
    # what went through arrived, in order
    got = [data_text(embedded(e)["_links"]["plainMessage"]["href"])
           for _, rel, _, e in step(b_app) if rel == "message"]
    assert got == ["a" * 2000, "no content type"]
    step(a_app)

    conv_id = a_conv.rsplit("/", 1)[1]
    # unknown ids, malformed ids, and a real id under someone else's application
    for cid in ("0" * 32, "f" * 32, conv_id[:-1] + ("0" if conv_id[-1] != "0" else "1"),
                "xyz", conv_id.upper()):
        assert_error(a_app.get(f"/communication/conversations/{cid}"), 404, "NotFound",
                     "ConversationNotFound")
    for path in ("", "/messaging", "/participants", "/messaging/typingParticipants"):
        assert_error(d_app.get(f"/communication/conversations/{conv_id}{path}"), 404, "NotFound",
                     "ConversationNotFound")
    assert_error(send("hi", app=d_app, path=f"/communication/conversations/{conv_id}"
                                            "/messaging/messages"),
                 404, "NotFound", "ConversationNotFound")
    assert_error(dave.request("DELETE", d_app.self + f"/communication/conversations/{conv_id}"),
                 404, "NotFound", "ConversationNotFound")
    assert_error(d_app.post(f"/communication/conversations/{conv_id}/messaging/terminate"),
                 404, "NotFound", "ConversationNotFound")
    # a conversation id of this user's other application is not this application's
    a2 = signed_in(alice)
    assert_error(a2.get(f"/communication/conversations/{conv_id}"), 404, "NotFound")
    # invitations: someone else's, the sender's own one cannot be accepted
    a_inv = [i for i in a_app.get("/communication/conversations").json()["_links"]["conversation"]]
    assert a_inv == [{"href": a_conv}]
    assert_error(d_app.get("/communication/messagingInvitations/" + "0" * 32), 404, "NotFound")
    # other methods and names
    assert_error(alice.request("PUT", a_conv, json={}), 405, "MethodNotAllowed")
    assert_error(a_app.post(a_conv[len(a_app.self):]), 405, "MethodNotAllowed")
    assert_error(a_app.get(a_conv[len(a_app.self):] + "/messaging/typing"), 405,
                 "MethodNotAllowed")
    assert_error(a_app.get(a_conv[len(a_app.self):] + "/participants/carol@contoso.test"), 404,
                 "NotFound")
    assert_error(a_app.get(a_conv[len(a_app.self):] + "/nothing"), 404, "NotFound")
    assert_error(a_app.get("/communication/missedItems/nothing"), 404, "NotFound")
    # bob and alice were not disturbed by any of it
    quiet(a_app)
    quiet(b_app)
    quiet(d_app)


def test_messages_up_to_what_an_event_holds(workdir, st):
    """UcwaEventSize bounds a message: its text travels inside the event."""
    big = start_fe(workdir, st, "ucwa-im-big", servers=2,
                   extra="\n".join([FAST, "UcwaEventSize 65536", "UcwaMaxApplications 20"]))
    try:
        alice, bob = big.user("alice@contoso.test"), big.user("bob@contoso.test")
        a_app, b_app = signed_in(alice), signed_in(bob)
        text = ("0123456789 abcdefghij\r\n" * 1000)[:20000]
        a_conv, _ = connect(a_app, b_app, _links={"message": {
            "href": "data:text/plain;charset=utf-8," + "x" * 4000}})
        r = a_app.post(a_conv[len(a_app.self):] + "/messaging/messages", data=text,
                       headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        got = [e for _, rel, _, e in step(b_app) if rel == "message"]
        assert data_text(embedded(got[-1])["_links"]["plainMessage"]["href"]) == text
        # 30000 two-byte characters: 60000 bytes of text, 180000 once escaped
        assert_error(a_app.post(a_conv[len(a_app.self):] + "/messaging/messages",
                                data=("é" * 30000).encode(),
                                headers={"Content-Type": "text/plain"}), 413, "EntityTooLarge")
        for a in (a_app, b_app):
            a.delete()
    finally:
        stop_fe(big)


def collect(app, want, timeout=20):
    """IM events until the (sender, rel, type) triples of want have all arrived, in that
    order (others may come in between); returns every event seen."""
    seen, i = [], 0
    deadline = time.monotonic() + timeout
    while i < len(want):
        assert time.monotonic() < deadline, (want[i:], seq(seen))
        for ev in im(app.poll("timeout=1")):
            seen.append(ev)
            if i < len(want) and ev[:3] == want[i]:
                i += 1
    return seen


def pair_rounds(fe, sender, receiver, rounds, errors):
    try:
        s_user, r_user = fe.user(sender), fe.user(receiver)
        s_app, r_app = signed_in(s_user), signed_in(r_user)
        for i in range(rounds):
            s_conv, r_conv = connect(s_app, r_app, subject=f"round {i}",
                                     _links={"message": {"href": f"data:,first+{i}"}})
            for k in range(4):
                assert r_app.post(r_conv[len(r_app.self):] + "/messaging/typing").status_code == 204
                assert s_app.post(s_conv[len(s_app.self):] + "/messaging/messages",
                                  data=f"s{i}.{k}", headers={"Content-Type": "text/plain"}
                                  ).status_code == 201
                assert r_app.post(r_conv[len(r_app.self):] + "/messaging/messages",
                                  data=f"r{i}.{k}", headers={"Content-Type": "text/plain"}
                                  ).status_code == 201
            msg = (CONV, "message", "completed")
            for app, prefix in ((r_app, "s"), (s_app, "r")):
                evs = collect(app, [msg] * 8)   # 4 out and 4 in (connect took the first)
                got = [data_text(embedded(e)["_links"]["plainMessage"]["href"])
                       for _, rel, _, e in evs
                       if rel == "message" and embedded(e)["direction"] == "Incoming"]
                assert got[-4:] == [f"{prefix}{i}.{k}" for k in range(4)], got
            # an invitation to nobody in between
            r = s_app.post("/communication/messagingInvitations", {"to": "sip:ghost@contoso.test"})
            assert r.status_code == 201
            collect(s_app, SENDER_STARTED + SENDER_FAILED)
            if i % 2:
                assert s_user.request("DELETE", s_conv).status_code == 204
                collect(s_app, LEFT)
                collect(r_app, OTHER_LEFT)
            else:
                assert r_app.post(r_conv[len(r_app.self):] + "/messaging/terminate"
                                  ).status_code == 204
                collect(r_app, LEFT)
                collect(s_app, OTHER_LEFT)
        for app in (s_app, r_app):
            assert "conversation" not in app.get("/communication/conversations").json()["_links"]
            assert app.delete().status_code == 204
    except BaseException as e:   # reported by the test's thread
        errors.append(e)


def churning_recipient(fe, errors):
    """dave signs in and out over and over, accepting what he finds now and then."""
    try:
        dave = fe.user("dave@contoso.test")
        for i in range(15):
            app = signed_in(dave)
            for _, rel, typ, e in im(app.poll("timeout=1")):
                if rel == "messagingInvitation" and typ == "started" and i % 2:
                    r = app.post(embedded(e)["_links"]["accept"]["href"][len(app.self):])
                    assert r.status_code in (204, 409), r.text
            assert app.delete().status_code == 204
    except BaseException as e:
        errors.append(e)


def persistent_inviter(fe, errors, stop):
    """erin keeps inviting dave, and leaves every conversation that connects."""
    try:
        erin = fe.user("erin@contoso.test")
        app = signed_in(erin)
        while not stop.is_set():
            r = app.post("/communication/messagingInvitations", {"to": "sip:dave@contoso.test"})
            assert r.status_code in (201, 409), r.text
            for _, rel, typ, e in im(app.poll("timeout=1")):
                if rel == "conversation" and typ == "updated" and \
                        embedded(e)["state"] == "Connected":
                    r = erin.request("DELETE", e["link"]["href"])
                    assert r.status_code in (204, 404), r.text
        # every invitation ends within UcwaInvitationTimeout (2 s) and the sweeper's second
        time.sleep(3.5)
        collect_quiet(app)
        assert "conversation" not in app.get("/communication/conversations").json()["_links"]
        assert app.delete().status_code == 204
    except BaseException as e:
        errors.append(e)


def collect_quiet(app, timeout=15):
    deadline = time.monotonic() + timeout
    while im(app.poll("timeout=1")):
        assert time.monotonic() < deadline


def test_a_barrage_leaves_the_store_consistent(fe):
    errors = []
    stop = threading.Event()
    pairs = [("user1@contoso.test", "user2@contoso.test"),
             ("user3@contoso.test", "user4@contoso.test"),
             ("user5@contoso.test", "user6@contoso.test")]
    threads = [threading.Thread(target=pair_rounds, args=(fe, s, r, 4, errors)) for s, r in pairs]
    churn = threading.Thread(target=churning_recipient, args=(fe, errors))
    inviter = threading.Thread(target=persistent_inviter, args=(fe, errors, stop))
    inviter.start()
    churn.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    churn.join(300)
    stop.set()
    inviter.join(60)
    if errors:
        raise errors[0]
    st = fe.status()
    assert st["consistent"] is True, st
    assert st["parked"] == 0 and st["applications"] == 0, st
