"""Conversation logs and missed items (issue 12): a 1:1 IM invitation nobody answers
(a shortened UcwaInvitationTimeout), that the inviter cancels or leaves by ending his
application gives the invited user a Missed MessageLog, counted by missedItems, with the
events (conversationLog added, missedItems updated) on every application of his; an
accepted one an Archived log for both users (told nobody: they took part). Calls the same,
as AudioLog or VideoLog. markAsRead, DELETE, another user's log ids (404 like ids that
never existed), limit, PostgreSQL, and a full restart that keeps the logs (SQL in the
directory database). One Front End with two child processes for the module."""
import os
import re
import time

import pytest

import conftest

import mobility
import pool

from ucwa_client import FAST, assert_error, events_of, start_fe, state_with_tags, stop_fe
import test_calls as calls
from test_ucwa_messaging import (INCOMING, SENDER_FAILED, SENDER_STARTED, embedded, seq,
                                 signed_in, start, step)

USERS = [f"user{i}@contoso.test" for i in range(1, 13)]
# what a database down for a moment leaves in the log: the entry not recorded yet, and
# mod_dbd's failed connection (AH00639) when a child opened one meanwhile
DB_DOWN_LOG = [re.compile(r"UCWA0053[01]|AH00639")]
LOG_RELS = {"conversationLog", "missedItems"}
COMM = "communication"
ADDED = [(COMM, "conversationLog", "added"), (COMM, "missedItems", "updated")]


@pytest.fixture(scope="module")
def st(workdir, state):
    # the children write the logs: state_with_tags gives the copy a writable directory
    return state_with_tags(workdir, state, "state-logs", {u: None for u in USERS})


@pytest.fixture(scope="module")
def fe(workdir, st):
    f = start_fe(workdir, st, "ucwa-logs", servers=2,
                 extra="\n".join([FAST, "UcwaInvitationTimeout 2", "UcwaCallRingTimeout 2"]))
    yield f
    stop_fe(f)


def log_events(app, n, timeout=8):
    """The next n conversationLog / missedItems events of app's channel (other events
    are passed over), as [(sender rel, link rel, type, event)]."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out += [(s, rel, t, e) for s, t, rel, e in events_of(app.poll("timeout=1"))
                if rel in LOG_RELS]
    assert len(out) >= n, seq(out)
    return out


def no_log_events(app):
    evs = [(s, rel, t) for s, t, rel, _ in events_of(app.poll("timeout=1")) if rel in LOG_RELS]
    assert evs == [], evs


def missed_items(app):
    r = app.get("/communication/missedItems")
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["rel"] == "missedItems" and m["voiceMailsCount"] == 0
    assert m["unreadVoicemailsCount"] == 0
    assert m["_links"]["self"]["href"] == app.self + "/communication/missedItems"
    return m


def log_hrefs(app, query=""):
    r = app.get("/communication/conversationLogs" + query)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rel"] == "conversationLogs"
    return [link["href"] for link in body["_links"].get("conversationLog", [])]


def get_log(app, href):
    r = app.get(href[len(app.self):])
    assert r.status_code == 200, r.text
    return r.json()


def unanswered(inviter, invited_apps, first=None, end=None):
    """inviter invites the user of invited_apps, who ring and do not answer; end(location)
    ends it early (a cancel), else the invitation times out."""
    body = {"_links": {"message": {"href": "data:text/plain;charset=utf-8," + first}}} \
        if first else {}
    location = start(inviter, to="sip:" + invited_apps[0].user.name, **body)
    assert seq(step(inviter)) == SENDER_STARTED
    for app in invited_apps:
        assert seq(step(app)) == INCOMING
    if end:
        end(location)
    else:
        assert seq(step(inviter)) == SENDER_FAILED   # the timeout (2 s)
    return location


def test_communication_links_them(users):
    app = users("user8@contoso.test").create()
    links = app.get("/communication").json()["_links"]
    assert links["missedItems"]["href"] == app.self + "/communication/missedItems"
    assert links["conversationLogs"]["href"] == app.self + "/communication/conversationLogs"
    m = missed_items(app)
    assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"],
            m["conversationLogsCount"]) == (0, 0, 0)
    assert log_hrefs(app) == []


def test_a_missed_invitation_is_logged_and_counted(users):
    alice, bob = users("user1@contoso.test"), users("user2@contoso.test")
    a_app, phone, tablet = signed_in(alice), signed_in(bob), signed_in(bob)
    t0 = time.monotonic()
    unanswered(a_app, [phone, tablet], first="Are+you+there%3F+%3Cb%3Ehi%3C%2Fb%3E")
    # every application of bob learns it, once the invitation timed out (2 s)
    for dev in (phone, tablet):
        evs = log_events(dev, 2)
        assert seq(evs) == ADDED
        assert evs[1][3]["link"]["href"] == dev.self + "/communication/missedItems"
    assert time.monotonic() - t0 < 6
    m = missed_items(phone)
    assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"],
            m["conversationLogsCount"]) == (1, 1, 1)
    href, = log_hrefs(phone)
    assert evs[0][3]["link"] == {"rel": "conversationLog", "href": href.replace(
        phone.self, tablet.self)}
    log = get_log(phone, href)
    assert log["rel"] == "conversationLog"
    assert (log["type"], log["status"], log["direction"]) == ("MessageLog", "Missed", "Incoming")
    assert log["modalities"] == ["Messaging"]
    assert log["previewMessage"] == "Are you there? <b>hi</b>"   # plain text stays as typed
    assert log["creationTime"].startswith("/Date(") and log["importance"] == "Normal"
    assert log["_links"]["self"]["href"] == href
    assert log["_links"]["markAsRead"]["href"] == href + "/markAsRead"
    rcpt, = log["_embedded"]["conversationLogRecipient"]
    assert rcpt["sipUri"] == "sip:user1@contoso.test" and rcpt["displayName"] == "User1"
    assert rcpt["_links"]["contact"]["href"] == phone.self + "/people/user1@contoso.test"
    # the inviter gets no log of it
    m = missed_items(a_app)
    assert (m["missedConversationsCount"], m["conversationLogsCount"]) == (0, 0)
    no_log_events(a_app)

    # markAsRead: both devices see it once
    assert phone.post(href[len(phone.self):] + "/markAsRead").status_code == 204
    for dev in (phone, tablet):
        assert seq(log_events(dev, 2)) == [(COMM, "conversationLog", "updated"),
                                           (COMM, "missedItems", "updated")]
    m = missed_items(tablet)
    assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"]) == (1, 0)
    assert "markAsRead" not in get_log(phone, href)["_links"]
    assert phone.post(href[len(phone.self):] + "/markAsRead").status_code == 204
    no_log_events(phone)

    # DELETE
    assert phone.user.request("DELETE", href).status_code == 204
    for dev in (phone, tablet):
        assert seq(log_events(dev, 2)) == [(COMM, "conversationLog", "deleted"),
                                           (COMM, "missedItems", "updated")]
    assert_error(phone.get(href[len(phone.self):]), 404, "NotFound", "ResourceNotFound")
    assert_error(phone.user.request("DELETE", href), 404, "NotFound")
    m = missed_items(phone)
    assert (m["missedConversationsCount"], m["conversationLogsCount"]) == (0, 0)


def test_a_cancel_or_an_inviter_gone_is_missed_and_an_accept_archived(users):
    alice, bob = users("user3@contoso.test"), users("user4@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)

    def cancel(location):
        inv = a_app.get(location[len(a_app.self):]).json()
        assert a_app.post(inv["_links"]["cancel"]["href"][len(a_app.self):]).status_code == 204
        assert seq(step(a_app)) == SENDER_FAILED
    unanswered(a_app, [b_app], end=cancel)
    assert seq(log_events(b_app, 2)) == ADDED

    gone = signed_in(alice)
    unanswered(gone, [b_app], end=lambda _: gone.delete())
    assert seq(log_events(b_app, 2)) == ADDED
    missed = [get_log(b_app, h) for h in log_hrefs(b_app)]
    assert [(x["status"], x["direction"]) for x in missed] == [("Missed", "Incoming")] * 2
    assert "previewMessage" not in missed[0]

    # accepted: Archived for both, read already
    start(a_app, to="sip:user4@contoso.test", subject="Plans",
          _links={"message": {"href": "data:text/html;charset=utf-8,"
                                      "%3Cp%3ELunch%26nbsp%3Bat%3C%2Fp%3E%3Cp%3Enoon%3C%2Fp%3E"}})
    assert seq(step(a_app)) == SENDER_STARTED
    evs = step(b_app)
    assert seq(evs) == INCOMING
    accept = embedded(evs[0][3])["_links"]["accept"]["href"]
    assert b_app.post(accept[len(b_app.self):]).status_code == 204
    for app, direction, peer in ((a_app, "Outgoing", "user4"), (b_app, "Incoming", "user3")):
        log = get_log(app, log_hrefs(app)[0])   # written as the accept is taken
        assert (log["type"], log["status"], log["direction"]) == ("MessageLog", "Archived",
                                                                  direction)
        assert log["subject"] == "Plans" and log["previewMessage"] == "Lunch at noon"
        assert "markAsRead" not in log["_links"]
        assert log["_embedded"]["conversationLogRecipient"][0]["sipUri"] == \
            f"sip:{peer}@contoso.test"
    m = missed_items(b_app)
    assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"],
            m["conversationLogsCount"]) == (2, 2, 3)
    m = missed_items(a_app)
    assert (m["missedConversationsCount"], m["conversationLogsCount"]) == (0, 1)
    # an Archived entry is told nobody: they took part
    no_log_events(a_app)
    no_log_events(b_app)


def test_another_users_log_is_not_found(users):
    alice, bob, eve = (users("user5@contoso.test"), users("user6@contoso.test"),
                       users("user7@contoso.test"))
    a_app, b_app, e_app = signed_in(alice), signed_in(bob), signed_in(eve)
    unanswered(a_app, [b_app])
    assert seq(log_events(b_app, 2)) == ADDED
    href, = log_hrefs(b_app)
    theirs = href[len(b_app.self):]
    never = "/communication/conversationLogs/" + "0" * 24
    for path in (theirs, never):
        a = assert_error(e_app.get(path), 404, "NotFound", "ResourceNotFound")
        b = assert_error(e_app.user.request("DELETE", e_app.self + path), 404, "NotFound",
                         "ResourceNotFound")
        c = assert_error(e_app.post(path + "/markAsRead"), 404, "NotFound", "ResourceNotFound")
        assert a == b == c
    for bad in ("xyz", "0" * 25, "G" * 24, "%7E" * 24):
        assert_error(e_app.get("/communication/conversationLogs/" + bad), 404, "NotFound")
    assert_error(e_app.user.request("PUT", e_app.self + theirs, json={}), 405, "MethodNotAllowed")
    no_log_events(e_app)
    # bob's is untouched
    assert get_log(b_app, href)["_links"]["markAsRead"]
    # limit
    unanswered(a_app, [b_app])
    assert seq(log_events(b_app, 2)) == ADDED
    both = log_hrefs(b_app)
    assert len(both) == 2 and both[1] == href          # newest first
    assert log_hrefs(b_app, "?limit=1") == both[:1]
    assert log_hrefs(b_app, "?limit=500") == both
    body = b_app.get("/communication/conversationLogs?limit=1").json()
    assert body["_links"]["self"]["href"] == \
        b_app.self + "/communication/conversationLogs?limit=1"
    for bad in ("0", "-1", "x", "1.5", "99999999999"):
        assert_error(b_app.get("/communication/conversationLogs?limit=" + bad), 400,
                     "BadRequest", "ParameterValidationFailure")


def test_calls_are_logged_as_audio_and_video(users):
    """Calls share the invitation state machine of messaging: the same marks make an
    AudioLog or VideoLog (the offer had video), without a previewMessage."""
    alice = calls.callable_app(users("user9@contoso.test"))
    bob = calls.callable_app(users("user10@contoso.test"))
    # nobody answers an audio call within UcwaCallRingTimeout (2 s here)
    calls.ring(alice, [bob], calls.sdp("t"))
    assert calls.seq(calls.step(alice, timeout=10)) == calls.CALLER_FAILED
    assert seq(log_events(bob, 2)) == ADDED
    # the caller cancels a video call
    location, _ = calls.ring(alice, [bob], calls.sdp("c", video=True))
    mine = alice.user.request("GET", location).json()
    assert alice.user.request("POST", mine["_links"]["cancel"]["href"], json={}).status_code \
        == 204
    assert calls.seq(calls.step(alice)) == calls.CALLER_FAILED
    assert seq(log_events(bob, 2)) == ADDED
    # answered: Archived for both, written as the answer is taken, told nobody
    calls.connected(alice, bob)
    no_log_events(bob)
    logs = [get_log(bob, h) for h in log_hrefs(bob)]
    assert [(x["type"], x["status"], x["direction"], x["modalities"]) for x in logs] == [
        ("AudioLog", "Archived", "Incoming", ["Audio"]),
        ("VideoLog", "Missed", "Incoming", ["Audio", "Video"]),
        ("AudioLog", "Missed", "Incoming", ["Audio"])]
    assert all("previewMessage" not in x for x in logs)
    mine, = [get_log(alice, h) for h in log_hrefs(alice)]
    assert (mine["type"], mine["status"], mine["direction"]) == ("AudioLog", "Archived",
                                                                 "Outgoing")
    m = missed_items(bob)
    assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"]) == (2, 2)


def test_a_call_added_to_an_im_conversation_has_its_own_entry(users):
    alice = calls.callable_app(users("user11@contoso.test"))
    bob = calls.callable_app(users("user12@contoso.test"))
    aconv, bconv = calls.im_connected(alice, bob)    # Archived MessageLogs, told nobody
    # a video call added, unanswered (UcwaCallRingTimeout 2)
    assert calls.add_call(alice, aconv, calls.sdp("v", video=True)).status_code == 201
    assert seq(log_events(bob, 2)) == ADDED
    # an audio call added and answered
    assert calls.add_call(alice, aconv, calls.sdp("a")).status_code == 201
    calls.call_step(alice)
    inv = calls.invitation_of(bob, calls.call_step(bob)[0][3])
    assert calls.answer(bob, inv, calls.sdp("a-answer")).status_code == 204
    logs = [get_log(bob, h) for h in log_hrefs(bob)]
    assert [(x["type"], x["status"], x["direction"]) for x in logs] == [
        ("AudioLog", "Archived", "Incoming"), ("VideoLog", "Missed", "Incoming"),
        ("MessageLog", "Archived", "Incoming")]
    assert [(x["type"], x["direction"]) for x in
            (get_log(alice, h) for h in log_hrefs(alice))] == [("AudioLog", "Outgoing"),
                                                               ("MessageLog", "Outgoing")]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to run PostgreSQL as postgres)")
def test_on_postgresql(workdir, topo):
    """The same statements on PostgreSQL (a pool's database): missed, archived, counts,
    markAsRead, limit, DELETE, the bound of 100 per user left to the unit tests."""
    pg = pool.Postgres(workdir / "pgsql-logs").start()
    f = None
    try:
        st = workdir / "pgsql-logs-state"
        mobility.clean(st)
        mobility.make_state(st, topo)
        pg.load_directory(st, "")
        conf = pg.directory_conf(workdir / "directory-pgsql-logs.conf")
        f = start_fe(workdir, st, "ucwa-logs-pgsql", servers=2, directory=None,
                     extra=f'Include "{conf}"\n{FAST}\nUcwaInvitationTimeout 2')
        alice, bob = f.user("alice@contoso.test"), f.user("bob@contoso.test")
        a_app, b_app = signed_in(alice), signed_in(bob)
        unanswered(a_app, [b_app], first="one")
        assert seq(log_events(b_app, 2)) == ADDED
        unanswered(a_app, [b_app], first="two")
        assert seq(log_events(b_app, 2)) == ADDED
        start(a_app, to="sip:bob@contoso.test")
        assert seq(step(a_app)) == SENDER_STARTED
        evs = step(b_app)
        accept = embedded(evs[0][3])["_links"]["accept"]["href"]
        assert b_app.post(accept[len(b_app.self):]).status_code == 204
        m = missed_items(b_app)
        assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"],
                m["conversationLogsCount"]) == (2, 2, 3)
        hrefs = log_hrefs(b_app)
        logs = [get_log(b_app, h) for h in hrefs]
        assert [(x["status"], x.get("previewMessage")) for x in logs] == \
            [("Archived", None), ("Missed", "two"), ("Missed", "one")]
        assert log_hrefs(b_app, "?limit=2") == hrefs[:2]
        assert b_app.post(hrefs[1][len(b_app.self):] + "/markAsRead").status_code == 204
        assert b_app.user.request("DELETE", hrefs[2]).status_code == 204
        m = missed_items(b_app)
        assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"],
                m["conversationLogsCount"]) == (1, 0, 2)
        assert_error(a_app.get(hrefs[1][len(b_app.self):]), 404, "NotFound")

        # the database is down when an invitation is missed: the entry is not lost, it is
        # recorded (and told) once the database is back, while the conversation is kept
        a_app.delete()
        b_app.delete()
        a_app, b_app = signed_in(alice), signed_in(bob)
        start(a_app, to="sip:bob@contoso.test", _links={"message": {
            "href": "data:text/plain;charset=utf-8,while down"}})
        assert seq(step(a_app)) == SENDER_STARTED
        assert seq(step(b_app)) == INCOMING
        pg.stop()
        assert seq(step(a_app)) == SENDER_FAILED      # the timeout (2 s)
        no_log_events(b_app)
        time.sleep(1.5)                                # the watchdog tries again, and fails
        pg.start()
        assert seq(log_events(b_app, 2, timeout=20)) == ADDED
        m = missed_items(b_app)
        assert (m["missedConversationsCount"], m["unreadMissedConversationsCount"]) == (2, 1)
        assert get_log(b_app, log_hrefs(b_app)[0]).get("previewMessage") == "while down"
        no_log_events(b_app)                           # once
        a_app.delete()
        b_app.delete()
    finally:
        if f:
            stop_fe(f, allowed=conftest.ALLOWED_LOG + DB_DOWN_LOG)
        pg.stop()


def test_a_full_restart_keeps_the_logs(workdir, st, fe, users):
    """The last test of the module: it stops the module's Front End and starts a new
    Apache on the same state (the applications end with the first; the logs are in the
    directory database)."""
    carl = users("user6@contoso.test")
    app = carl.create()
    hrefs = [h[len(app.self):] for h in log_hrefs(app)]
    assert len(hrefs) == 2
    carl.created.clear()
    stop_fe(fe)
    again = start_fe(workdir, st, "ucwa-logs-2", servers=1, extra=FAST)
    try:
        app = again.user("user6@contoso.test").create()
        assert [h[len(app.self):] for h in log_hrefs(app)] == hrefs
        assert missed_items(app)["unreadMissedConversationsCount"] == 2
        app.delete()
    finally:
        stop_fe(again)
