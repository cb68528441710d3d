"""Instant messaging (1:1) as clients drive it: startMessaging with a first message, the
invitation on the other side, accept, messages both ways in plain text and HTML, typing,
stopMessaging and leaving, on a Front End with three child processes; a user on two
devices (the first accept wins); decline and cancel; every documented event, in order,
one package per step: the assertions are on (sender rel, link rel, type) of each poll.

The event sequences are the ones docs/extensions.md ("Instant messaging") lists and
common/ucwa/ucwa_conv.h implements."""
import json
import threading
import time
import urllib.parse

import pytest

import mobility

from ucwa_client import (FAST, XML, NS, assert_error, events_of, start_fe, stop_fe,
                         state_with_tags)

IM_RELS = {"messagingInvitation", "conversation", "localParticipant", "participant",
           "messaging", "participantMessaging", "message"}
COMM, CONV = "communication", "conversation"


def im(pkg):
    """[(sender rel, link rel, type, event)] of the IM events of a package (the presence
    and communication events of makeMeAvailable are left out)."""
    return [(s, rel, t, e) for s, t, rel, e in events_of(pkg) if rel in IM_RELS]


def step(app, timeout=10):
    """The IM events of the next package that has any."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evs = im(app.poll("timeout=1"))
        if evs:
            return evs
    raise AssertionError(f"no IM event for {app.id}")


def seq(evs):
    return [(s, rel, t) for s, rel, t, _ in evs]


def quiet(app):
    """No IM event is waiting (one poll of a second)."""
    evs = im(app.poll("timeout=1"))
    assert evs == [], seq(evs)


def embedded(ev):
    (rel, res), = ev["_embedded"].items()
    return res


def data_text(uri):
    head, data = uri.split(",", 1)
    assert head in ("data:text/plain;charset=utf-8", "data:text/html;charset=utf-8"), head
    return urllib.parse.unquote_plus(data)


def signed_in(user, **available):
    app = user.create()
    app.available(available or None)
    return app


@pytest.fixture(scope="module")
def st(workdir, state):
    # a third user homed on pool01, for "another user's conversation"
    st = state_with_tags(workdir, state, "state-im", {"dave@contoso.test": None})
    # the children write to the directory (contact lists): give the copy the layout and
    # owner make_directory gives the demo state
    mobility.make_directory(st, mobility.Topology())
    return st


@pytest.fixture(scope="module")
def fe(workdir, st):
    f = start_fe(workdir, st, "ucwa-im", servers=3, extra=FAST)
    yield f
    stop_fe(f)


def start(app, to="sip:bob@contoso.test", **body):
    body.setdefault("to", to)
    r = app.post("/communication/messagingInvitations", body)
    assert r.status_code == 201, r.text
    assert r.content == b"" and r.headers["Content-Length"] == "0"
    assert r.headers["Location"].startswith(app.self + "/communication/messagingInvitations/")
    return r.headers["Location"]


SENDER_STARTED = [(COMM, "messagingInvitation", "started"), (COMM, "conversation", "added"),
                  (CONV, "localParticipant", "added"), (CONV, "messaging", "updated")]
INCOMING = [(COMM, "messagingInvitation", "started"), (COMM, "conversation", "added"),
            (CONV, "localParticipant", "added"), (CONV, "participant", "added")]
ACCEPTER = [(COMM, "messagingInvitation", "updated"), (CONV, "messaging", "updated"),
            (COMM, "conversation", "updated"), (CONV, "participantMessaging", "added"),
            (CONV, "participantMessaging", "added"), (CONV, "participant", "updated"),
            (COMM, "messagingInvitation", "completed")]
SENDER_CONNECTED = [(COMM, "conversation", "updated"), (CONV, "participant", "added"),
                    (CONV, "participantMessaging", "added"),
                    (CONV, "participantMessaging", "added"), (CONV, "messaging", "updated"),
                    (COMM, "messagingInvitation", "completed")]
SENDER_FAILED = [(CONV, "messaging", "updated"), (COMM, "messagingInvitation", "completed"),
                 (COMM, "conversation", "deleted")]
CLOSED = [(COMM, "messagingInvitation", "completed"), (COMM, "conversation", "deleted")]
LEFT = [(CONV, "messaging", "updated"), (COMM, "conversation", "deleted")]
OTHER_LEFT = [(CONV, "participant", "deleted"), (CONV, "messaging", "updated"),
              (COMM, "conversation", "deleted")]


def connect(alice_app, bob_app, **body):
    """alice invites bob, bob accepts; returns (alice's conversation href, bob's)."""
    start(alice_app, to="sip:" + bob_app.user.name, **body)
    a = step(alice_app)
    assert seq(a) == SENDER_STARTED
    b = step(bob_app)
    assert seq(b) == INCOMING
    inv = embedded(b[0][3])
    assert bob_app.post(inv["_links"]["accept"]["href"][len(bob_app.self):]).status_code == 204
    b = step(bob_app)
    assert seq(b)[:7] == ACCEPTER
    a = step(alice_app)
    assert seq(a)[:6] == SENDER_CONNECTED
    return a[0][3]["link"]["href"], b[2][3]["link"]["href"]


def incoming_text(app):
    """The text of the next incoming message on app's event channel."""
    for _ in range(5):
        for _, rel, t, e in step(app):
            if rel == "message" and t == "completed" and embedded(e)["direction"] == "Incoming":
                return data_text(embedded(e)["_links"]["plainMessage"]["href"])
    raise AssertionError("no incoming message")


def test_a_lurker_starts_a_conversation(users):
    """A bot on a public UCWA library calls startMessaging right after creating its
    application, before makeMeAvailable, as real Lync allowed: it talks with bob, and the
    answers come on its own event channel; it still cannot be invited."""
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    bot, b_app = alice.create(), signed_in(bob)
    assert "makeMeAvailable" in bot.get("/me").json()["_links"]
    assert "startMessaging" in bot.get("/communication").json()["_links"]
    a_conv, b_conv = connect(bot, b_app, _links={"message": {
        "href": "data:text/plain;charset=utf-8,Build+failed"}})
    r = bot.post(a_conv[len(bot.self):] + "/messaging/messages", data="second",
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    assert incoming_text(b_app) == "second"
    r = b_app.post(b_conv[len(b_app.self):] + "/messaging/messages", data="thanks",
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    assert incoming_text(bot) == "thanks"
    assert bot.post(a_conv[len(bot.self):] + "/messaging/terminate").status_code == 204
    assert seq(step(bot)) == LEFT
    # (bob's own "message completed" of his answer may come in the same package)
    assert [e for e in seq(step(b_app)) if e[1] != "message"] == OTHER_LEFT
    # still a lurker: nobody can alert it, and it has no presence of its own
    assert "makeMeAvailable" in bot.get("/me").json()["_links"]
    other = signed_in(bob)
    start(other, to="sip:alice@contoso.test")
    assert seq(step(other)) == SENDER_STARTED + SENDER_FAILED   # nobody to alert
    quiet(bot)
    quiet(b_app)


def test_alice_and_bob_exchange_messages(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)

    # 1. startMessaging with a subject, an operationId and a first message
    op = "5028e824-2268-4b14-9e59-1abad65ff393"
    location = start(a_app, subject="Task Sample", operationId=op, importance="urgent",
                     _links={"message": {"href": "data:text/plain;charset=utf-8,Hi+Bob%0d%0a"}})
    evs = step(a_app)
    assert seq(evs) == SENDER_STARTED
    inv = embedded(evs[0][3])
    assert evs[0][3]["link"] == {"rel": "messagingInvitation", "href": location}
    assert inv["direction"] == "Outgoing" and inv["state"] == "Connecting"
    assert inv["operationId"] == op and inv["subject"] == "Task Sample"
    assert inv["importance"] == "Urgent" and len(inv["threadId"]) == 32
    conv_href = inv["_links"]["conversation"]["href"]
    assert conv_href.startswith(a_app.self + "/communication/conversations/")
    assert set(inv["_links"]) == {"self", "from", "to", "cancel", "conversation", "messaging",
                                  "message"}
    assert inv["_links"]["from"] == {"href": conv_href + "/participants/alice@contoso.test",
                                     "title": "Alice Anderson"}
    assert inv["_links"]["to"] == {"href": a_app.self + "/people/bob@contoso.test"}
    assert inv["_links"]["cancel"] == {"href": conv_href + "/messaging/terminate"}
    conv = embedded(evs[1][3])
    assert conv["state"] == "Connecting" and conv["activeModalities"] == []
    assert conv["threadId"] == inv["threadId"] and conv["importance"] == "Urgent"
    local = embedded(evs[2][3])
    assert local["rel"] == "participant" and local["name"] == "Alice Anderson"
    assert local["uri"] == "sip:alice@contoso.test"
    assert set(local["_links"]) == {"self", "conversation", "me"}
    assert evs[2][3]["link"]["title"] == "Alice Anderson"
    msg = embedded(evs[3][3])
    assert msg["state"] == "Connecting"
    assert set(msg["_links"]) == {"self", "conversation", "stopMessaging"}
    r = a_app.get(location[len(a_app.self):])
    assert r.status_code == 200 and r.json() == inv

    # 2. bob's device gets the invitation, with the text and who sends it
    evs = step(b_app)
    assert seq(evs) == INCOMING
    binv = embedded(evs[0][3])
    assert binv["direction"] == "Incoming" and binv["state"] == "Connecting"
    assert "operationId" not in binv and binv["subject"] == "Task Sample"
    assert binv["threadId"] == inv["threadId"]
    b_conv = binv["_links"]["conversation"]["href"]
    assert b_conv.startswith(b_app.self + "/communication/conversations/")
    assert b_conv.rsplit("/", 1)[1] == conv_href.rsplit("/", 1)[1]   # the same conversation
    assert binv["_links"]["message"] == {"href": "data:text/plain;charset=utf-8,Hi+Bob%0d%0a"}
    assert {"accept", "decline", "to", "messaging"} <= set(binv["_links"])
    frm = binv["_embedded"]["from"]
    assert frm["name"] == "Alice Anderson" and frm["uri"] == "sip:alice@contoso.test"
    assert set(frm["_links"]) == {"self", "conversation", "contact", "contactPresence",
                                  "contactPhoto"}
    bconv = embedded(evs[1][3])
    assert bconv["state"] == "Incoming" and bconv["activeModalities"] == ["Messaging"]
    assert evs[3][3]["link"] == {"rel": "participant", "title": "Alice Anderson",
                                 "href": b_conv + "/participants/alice@contoso.test"}
    assert b_app.get(b_conv[len(b_app.self):]).json()["state"] == "Incoming"
    parts = b_app.get(b_conv[len(b_app.self):] + "/participants").json()
    assert [p["href"].rsplit("/", 1)[1] for p in parts["_links"]["participant"]] == [
        "bob@contoso.test", "alice@contoso.test"]
    # the sender's participant list has only her until bob accepts
    parts = a_app.get(conv_href[len(a_app.self):] + "/participants").json()
    assert len(parts["_links"]["participant"]) == 1
    # messages wait for Connected
    assert_error(a_app.post(conv_href[len(a_app.self):] + "/messaging/messages", data="x",
                            headers={"Content-Type": "text/plain"}), 409, "Conflict")
    assert_error(b_app.post(b_conv[len(b_app.self):] + "/messaging/typing"), 409, "Conflict")

    # 3. bob accepts (with the sample's sessionContext)
    r = b_app.post(binv["_links"]["accept"]["href"][len(b_app.self):] +
                   "?sessionContext=2687ba8f-048e-4ffa-83b3-0849c6b9004c")
    assert r.status_code == 204 and r.content == b""
    evs = step(b_app)
    assert seq(evs) == ACCEPTER + [(CONV, "message", "completed")]
    assert "accept" not in embedded(evs[0][3])["_links"]
    m = embedded(evs[1][3])
    assert m["state"] == "Connected" and m["negotiatedMessageFormats"] == ["Plain"]
    assert set(m["_links"]) == {"self", "conversation", "stopMessaging", "sendMessage",
                                "setIsTyping", "typingParticipants"}
    c = embedded(evs[2][3])
    assert c["state"] == "Connected" and c["activeModalities"] == ["Messaging"]
    assert c["_links"]["localParticipant"]["title"] == "Bob Brown"
    assert evs[3][3]["in"]["rel"] == "localParticipant" and "_embedded" in evs[3][3]
    assert evs[4][3]["in"]["rel"] == "participant" and "_embedded" not in evs[4][3]
    assert evs[6][3]["status"] == "Success"
    assert embedded(evs[6][3])["state"] == "Connected"
    first = evs[7][3]
    assert first["status"] == "Success"
    fm = embedded(first)
    assert fm["direction"] == "Incoming" and fm["timeStamp"].startswith("/Date(")
    assert data_text(fm["_links"]["plainMessage"]["href"]) == "Hi Bob\r\n"
    assert fm["_links"]["participant"]["title"] == "Alice Anderson"

    evs = step(a_app)
    assert seq(evs) == SENDER_CONNECTED + [(CONV, "message", "completed")]
    assert evs[1][3]["link"]["href"] == conv_href + "/participants/bob@contoso.test"
    done = evs[5][3]
    assert done["status"] == "Success"
    dinv = embedded(done)
    assert dinv["state"] == "Connected" and dinv["operationId"] == op
    assert "cancel" not in dinv["_links"]
    assert dinv["_embedded"]["acceptedByParticipant"][0]["uri"] == "sip:bob@contoso.test"
    out = embedded(evs[6][3])
    assert out["direction"] == "Outgoing" and out["operationId"] == op
    assert "plainMessage" not in out["_links"]

    # 4. bob types, then answers: alice sees him typing, then the message
    a_conv, b_conv_path = conv_href[len(a_app.self):], b_conv[len(b_app.self):]
    assert b_app.post(b_conv_path + "/messaging/typing").status_code == 204
    evs = step(a_app)
    assert seq(evs) == [(CONV, "participant", "added")]
    assert evs[0][3]["in"] == {"rel": "typingParticipants",
                               "href": conv_href + "/messaging/typingParticipants"}
    typing = a_app.get(a_conv + "/messaging/typingParticipants").json()
    assert typing["_links"]["participant"] == [{"href": conv_href + "/participants/bob@contoso.test",
                                                "title": "Bob Brown"}]
    text = "Hi Alice ☺ — 100% sure & <b>plain</b>\r\nsecond line"
    r = b_app.post(b_conv_path + "/messaging/messages?operationId=op-2",
                   data=text.encode(), headers={"Content-Type": "text/plain; charset=UTF-8"})
    assert r.status_code == 201 and r.content == b""
    assert r.headers["Location"] == b_conv + "/messaging/messages/2"
    evs = step(b_app)
    assert seq(evs) == [(CONV, "message", "completed")]
    assert embedded(evs[0][3])["direction"] == "Outgoing"
    assert embedded(evs[0][3])["operationId"] == "op-2"
    evs = step(a_app)
    assert seq(evs) == [(CONV, "participant", "deleted"), (CONV, "message", "completed")]
    got = embedded(evs[1][3])
    assert got["direction"] == "Incoming"
    assert got["_links"]["self"]["href"] == conv_href + "/messaging/messages/2"
    assert data_text(got["_links"]["plainMessage"]["href"]) == text
    assert "participant" not in a_app.get(a_conv + "/messaging/typingParticipants").json()["_links"]

    # 5. alice types and stops: the indicator ends by itself after 5 to 6 s
    assert a_app.post(a_conv + "/messaging/typing").status_code == 204
    t0 = time.monotonic()
    assert seq(step(b_app)) == [(CONV, "participant", "added")]
    assert a_app.post(a_conv + "/messaging/typing").status_code == 204   # no second event
    evs = step(b_app, timeout=12)
    took = time.monotonic() - t0
    assert seq(evs) == [(CONV, "participant", "deleted")] and 4.5 <= took < 9, took

    # 6. messages both ways, several of them, in order
    for i in range(3):
        assert a_app.post(a_conv + "/messaging/messages", data=f"a{i}",
                          headers={"Content-Type": "text/plain"}).status_code == 201
        assert b_app.post(b_conv_path + "/messaging/messages", data=f"b{i}",
                          headers={"Content-Type": "text/plain"}).status_code == 201
    got_b = [data_text(embedded(e)["_links"]["plainMessage"]["href"])
             for _, rel, _, e in step(b_app) if rel == "message" and
             embedded(e)["direction"] == "Incoming"]
    got_a = [data_text(embedded(e)["_links"]["plainMessage"]["href"])
             for _, rel, _, e in step(a_app) if rel == "message" and
             embedded(e)["direction"] == "Incoming"]
    assert got_b == ["a0", "a1", "a2"] and got_a == ["b0", "b1", "b2"]

    # 7. the resources, as GETs see them now
    conv = a_app.get(a_conv).json()
    assert conv["state"] == "Connected" and conv["subject"] == "Task Sample"
    assert conv["_links"]["localParticipant"]["href"].endswith("/participants/alice@contoso.test")
    lst = a_app.get("/communication/conversations?filter=active").json()
    assert lst["rel"] == "conversations"
    assert lst["_links"]["conversation"] == [{"href": conv_href}]
    bob_p = a_app.get(a_conv + "/participants/Bob@Contoso.test").json()
    assert bob_p["name"] == "Bob Brown" and bob_p["_links"]["participantMessaging"]
    assert a_app.get(a_conv + "/participants/bob@contoso.test/messaging").status_code == 200
    assert a_app.get(a_conv + "/messaging").json()["state"] == "Connected"

    # 8. bob stops messaging: the conversation ends on both sides
    assert b_app.post(b_conv_path + "/messaging/terminate").status_code == 204
    evs = step(b_app)
    assert seq(evs) == LEFT and embedded(evs[0][3])["state"] == "Disconnected"
    evs = step(a_app)
    assert seq(evs) == OTHER_LEFT
    assert evs[0][3]["link"]["href"] == conv_href + "/participants/bob@contoso.test"
    assert embedded(evs[1][3])["state"] == "Disconnected"
    assert_error(a_app.get(a_conv), 404, "NotFound", "ConversationNotFound")
    assert_error(b_app.get(b_conv_path), 404, "NotFound", "ConversationNotFound")
    assert "conversation" not in a_app.get("/communication/conversations").json()["_links"]
    # the invitation stays readable a while, in its final state
    assert a_app.get(location[len(a_app.self):]).json()["state"] == "Connected"
    quiet(a_app)
    quiet(b_app)


def test_bob_on_two_devices_the_first_accept_wins(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app = signed_in(alice)
    phone, tablet = signed_in(bob), signed_in(bob)
    lurker = bob.create()                                             # no makeMeAvailable
    audio_only = signed_in(bob, SupportedModalities=["PhoneAudio"])   # not for Messaging
    start(a_app, _links={"message": {"href": "data:text/plain;charset=utf-8,ping"}})
    assert seq(step(a_app)) == SENDER_STARTED
    invs = {}
    for dev in (phone, tablet):
        evs = step(dev)
        assert seq(evs) == INCOMING
        invs[dev.id] = embedded(evs[0][3])
    # the same invitation and conversation ids, under each device's own application
    ids = {d: (i["_links"]["self"]["href"].rsplit("/", 1)[1],
               i["_links"]["conversation"]["href"].rsplit("/", 1)[1]) for d, i in invs.items()}
    assert ids[phone.id] == ids[tablet.id]
    for dev in (lurker, audio_only):
        assert all(rel not in IM_RELS for _, _, rel, _ in events_of(dev.poll("timeout=1")))

    accept = invs[tablet.id]["_links"]["accept"]["href"][len(tablet.self):]
    assert tablet.post(accept).status_code == 204
    assert seq(step(tablet)) == ACCEPTER + [(CONV, "message", "completed")]
    assert seq(step(a_app))[:6] == SENDER_CONNECTED
    evs = step(phone)
    assert seq(evs) == CLOSED
    done = evs[0][3]
    assert done["status"] == "Failure"
    assert done["reason"]["code"] == "Informational"
    assert done["reason"]["subcode"] == "ConnectedElsewhere"
    assert embedded(done)["state"] == "Cancelled"
    assert "accept" not in embedded(done)["_links"]
    # the phone no longer sees the conversation; its answers come too late
    p_conv = invs[phone.id]["_links"]["conversation"]["href"][len(phone.self):]
    assert_error(phone.get(p_conv), 404, "NotFound", "ConversationNotFound")
    p_inv = invs[phone.id]["_links"]["self"]["href"][len(phone.self):]
    assert phone.get(p_inv).json()["state"] == "Cancelled"
    assert_error(phone.post(p_inv + "/accept"), 409, "Conflict")
    assert_error(phone.post(p_inv + "/decline"), 409, "Conflict")
    assert_error(tablet.post(accept), 409, "Conflict")
    # the tablet talks with alice; the phone hears nothing of it
    t_conv = invs[tablet.id]["_links"]["conversation"]["href"][len(tablet.self):]
    assert tablet.post(t_conv + "/messaging/messages", data="from the tablet",
                       headers={"Content-Type": "text/plain"}).status_code == 201
    assert seq(step(tablet)) == [(CONV, "message", "completed")]
    evs = step(a_app)
    assert data_text(embedded(evs[-1][3])["_links"]["plainMessage"]["href"]) == "from the tablet"
    quiet(phone)
    # alice leaves: the tablet sees her go
    a_conv = evs[-1][3]["link"]["href"].split("/messaging/")[0]
    assert alice.request("DELETE", a_conv).status_code == 204
    assert seq(step(a_app)) == LEFT
    assert seq(step(tablet)) == OTHER_LEFT


@pytest.mark.parametrize("how", ["decline", "decline-reason", "delete", "terminate"])
def test_decline(users, how):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, phone, tablet = signed_in(alice), signed_in(bob), signed_in(bob)
    start(a_app)
    step(a_app)
    inv = embedded(step(phone)[0][3])
    step(tablet)
    if how.startswith("decline"):
        r = phone.post(inv["_links"]["decline"]["href"][len(phone.self):],
                       {"reason": "Local"} if how == "decline-reason" else None)
    elif how == "delete":
        r = bob.request("DELETE", inv["_links"]["conversation"]["href"])
    else:
        r = phone.post(inv["_links"]["messaging"]["href"][len(phone.self):] + "/terminate")
    assert r.status_code == 204, r.text
    evs = step(a_app)
    assert seq(evs) == SENDER_FAILED
    done = evs[1][3]
    assert done["status"] == "Failure" and embedded(done)["state"] == "Failed"
    assert done["reason"]["code"] == "RemoteFailure" and done["reason"]["subcode"] == "Declined"
    assert embedded(evs[0][3])["state"] == "Disconnected"
    for dev in (phone, tablet):
        evs = step(dev)
        assert seq(evs) == CLOSED
        assert evs[0][3]["reason"]["subcode"] == "Declined"
        assert embedded(evs[0][3])["state"] == "Declined"
    assert "conversation" not in a_app.get("/communication/conversations").json()["_links"]


def test_cancel_and_leaving_by_signing_out(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)
    # the sender cancels: bob missed it
    start(a_app)
    inv = embedded(step(a_app)[0][3])
    step(b_app)
    assert a_app.post(inv["_links"]["cancel"]["href"][len(a_app.self):]).status_code == 204
    evs = step(a_app)
    assert seq(evs) == SENDER_FAILED
    assert evs[1][3]["reason"]["subcode"] == "Canceled"
    assert embedded(evs[1][3])["state"] == "Cancelled"
    evs = step(b_app)
    assert seq(evs) == CLOSED and evs[0][3]["reason"]["subcode"] == "Missed"
    # the sender signs out while inviting: the same for bob
    a2 = signed_in(alice)
    start(a2)
    step(b_app)
    assert a2.delete().status_code == 204
    evs = step(b_app)
    assert seq(evs) == CLOSED and evs[0][3]["reason"]["subcode"] == "Missed"
    # connected, then bob signs out: alice sees him leave
    connect(a_app, b_app)
    assert b_app.delete().status_code == 204
    assert seq(step(a_app)) == OTHER_LEFT
    # bob's only endpoint signs out before answering: the invitation fails at once
    b2 = signed_in(bob)
    start(a_app)
    step(a_app)
    step(b2)
    assert b2.delete().status_code == 204
    evs = step(a_app)
    assert seq(evs) == SENDER_FAILED and evs[1][3]["reason"]["subcode"] == "Unreachable"


def test_html_messages_when_both_sides_take_html(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    fmt = {"SupportedModalities": ["Messaging"], "SupportedMessageFormats": ["Plain", "Html"]}
    a_app, b_app = signed_in(alice, **fmt), signed_in(bob, **fmt)
    a_conv, b_conv = connect(a_app, b_app)
    m = a_app.get(a_conv[len(a_app.self):] + "/messaging").json()
    assert m["negotiatedMessageFormats"] == ["Plain", "Html"]
    html = "<p>Hello <b>Bob</b></p>"
    assert a_app.post(a_conv[len(a_app.self):] + "/messaging/messages", data=html,
                      headers={"Content-Type": "text/html"}).status_code == 201
    got = embedded(step(b_app)[-1][3])
    assert data_text(got["_links"]["htmlMessage"]["href"]) == html
    assert "plainMessage" not in got["_links"]
    step(a_app)
    # plain-only bob: Html is refused
    b2 = signed_in(bob)
    a_conv, _ = connect(a_app, b2)
    assert_error(a_app.post(a_conv[len(a_app.self):] + "/messaging/messages", data=html,
                            headers={"Content-Type": "text/html; charset=utf-8"}),
                 415, "UnsupportedMediaType")


def test_a_first_message_in_base64_is_passed_on_in_form_style(users):
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)
    import base64
    text = "Grüße, 1+1=2 ☺"
    start(a_app, _links={"message": {
        "href": "data:text/plain;base64," + base64.b64encode(text.encode()).decode()}})
    inv = embedded(step(b_app)[0][3])
    uri = inv["_links"]["message"]["href"]
    assert uri.startswith("data:text/plain;charset=utf-8,Gr%c3%bc%c3%9fe%2c+1%2b1%3d2+")
    assert data_text(uri) == text


def test_xml_event_channel_carries_the_invitation(users):
    from lxml import etree
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)
    b_app.poll("timeout=1")
    start(a_app, subject="xml")
    r = b_app.poll_raw(params="timeout=1", headers={"Accept": XML})
    assert r.status_code == 200, r.text
    doc = etree.fromstring(r.content)
    started = doc.findall(f".//{NS}started")
    assert started and started[0].get("rel") == "messagingInvitation"
    res = started[0].find(f"{NS}resource")
    assert res.get("rel") == "messagingInvitation"
    assert any(p.get("name") == "direction" and p.text == "Incoming"
               for p in res.findall(f"{NS}property"))


def test_a_message_sent_in_one_child_wakes_a_poll_parked_in_another(fe, users):
    from ucwa_client import Conn, in_thread, other_child, pid_of, wait_log, wait_parked
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)
    a_conv, b_conv = connect(a_app, b_app)
    c1 = Conn(fe, alice)
    pid1 = pid_of(fe, c1, a_app)
    c2, pid2 = other_child(fe, bob, b_app, pid1)
    for i in range(3):
        poll = in_thread(c1.request, "GET", a_app.events + f"&timeout=30&cross={i}")
        wait_parked(fe, 1)
        t0 = time.monotonic()
        # Conn.request sends JSON bodies only: the text goes through its http.client
        c2.c.request("POST", b_conv + f"/messaging/messages?cross={i}", body=f"m{i}".encode(),
                     headers=bob.headers({"Content-Type": "text/plain"}))
        r = c2.c.getresponse()
        r.read()
        assert r.status == 201
        (status, _, body), _ = poll.result(10)
        assert status == 200 and poll.finished_at() - t0 < 1, poll.finished_at() - t0
        pkg = json.loads(body)
        a_app.events = pkg["_links"]["next"]["href"]
        evs = im(pkg)
        assert seq(evs) == [(CONV, "message", "completed")]
        assert data_text(embedded(evs[0][3])["_links"]["plainMessage"]["href"]) == f"m{i}"
        assert wait_log(fe, f"&cross={i} ") == [pid1]   # the access log line comes last
        assert wait_log(fe, f"?cross={i} ") == [pid2]
    step(b_app)   # bob's own message events
    c1.close()
    c2.close()


def test_two_devices_accepting_at_once(fe, users):
    """Both of bob's devices accept at the same moment, through different connections:
    exactly one wins."""
    from ucwa_client import in_thread, new_http
    alice, bob = users("alice@contoso.test"), users("bob@contoso.test")
    a_app = signed_in(alice)
    phone, tablet = signed_in(bob), signed_in(bob)
    sessions = {phone.id: new_http(fe.ca), tablet.id: new_http(fe.ca)}
    for round_ in range(5):
        start(a_app)
        step(a_app)
        hrefs = {}
        for dev in (phone, tablet):
            hrefs[dev.id] = embedded(step(dev)[0][3])["_links"]["accept"]["href"]
        barrier = threading.Barrier(2)

        def accept(dev):
            barrier.wait()
            return bob.request("POST", hrefs[dev.id], http=sessions[dev.id]).status_code
        jobs = [in_thread(accept, dev) for dev in (phone, tablet)]
        codes = sorted(j.result()[0] for j in jobs)
        assert codes == [204, 409], codes
        winner_evs = {}
        for dev in (phone, tablet):
            winner_evs[dev.id] = seq(step(dev))
        assert sorted(map(len, winner_evs.values())) == [len(CLOSED), len(ACCEPTER)]
        won = [d for d in (phone, tablet) if winner_evs[d.id] == ACCEPTER][0]
        assert seq(step(a_app)) == SENDER_CONNECTED
        conv = [h for h in won.get("/communication/conversations").json()["_links"]["conversation"]]
        assert bob.request("DELETE", conv[0]["href"]).status_code == 204
        step(won)
        assert seq(step(a_app)) == OTHER_LEFT
