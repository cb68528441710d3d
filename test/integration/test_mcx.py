"""MCX (docs/mcx-protocol.md) as a Lync 2010 phone uses it, through the project's own
client (mod_mcx/client/mcx_client.py): sign-in, presence both ways with UCWA users,
contacts, conversations between MCX and UCWA users and between two MCX users, the
notification channel (Sequence/Next, resync, a parked request answered at once, a
graceful restart and a killed child losing nothing), session lifetimes, Mcx Off as in
Skype for Business Server 2019, the mobility policy, and the command line.

One Front End for the module (three child processes, Mcx On through the topology's
mcx=on); a second and third instance for the lifetimes and for Mcx Off."""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest
import requests
from lxml import etree

import conftest
import mobility
from ucwa_client import (FAST, Fe, clean_log, events_of, in_thread, state_with_tags, stop_fe,
                         wait_log, wait_parked)

CLIENT = mobility.REPO / "mod_mcx" / "client" / "mcx_client.py"
sys.path.insert(0, str(CLIENT.parent))
from mcx_client import McxClient, McxError, McxFault, envelope  # noqa: E402

ALICE, BOB, DAVE, ERIN, FRANK = (f"{u}@contoso.test"
                                  for u in ("alice", "bob", "dave", "erin", "frank"))
ALICE_SIP, BOB_SIP = "sip:" + ALICE, "sip:" + BOB
PW = mobility.DEMO_PASSWORD
ROOT = "/Autodiscover/AutodiscoverService.svc/root"
AD_XML = "application/vnd.microsoft.rtc.autodiscover+xml;v=1"
SHORT, LONG = 3, 6        # McxSessionLifetime of the lifetime instance
PILOT = "<UcwaMobilityPolicy Pilot>\n    RequireWiFiForIPAudio Off\n</UcwaMobilityPolicy>"


def start_mcx_fe(workdir, st, name, extra="", mcx="on", **kw):
    """ucwa_client.start_fe with the topology's mcx= setting (Mcx ${MCX} in the sites)."""
    topo = mobility.Topology(offset=mobility.free_offset(start=30000), mcx=mcx)
    apache = mobility.front_end(workdir / name, st, topo, extra=extra, **kw)
    apache.topo = topo
    apache.start()
    return Fe(apache, st)


@pytest.fixture(scope="module")
def st(workdir, state):
    # dave's policy has EnableMobility Off; erin is for the session limit; frank's
    # policy (Pilot) changes
    st = state_with_tags(workdir, state, "state-mcx",
                         {DAVE: "NoMobility", ERIN: None, FRANK: "Pilot"})
    mobility.make_directory(st, mobility.Topology())   # the children write contact lists
    return st


@pytest.fixture(scope="module")
def fe(workdir, st):
    f = start_mcx_fe(workdir, st, "mcx", extra=f"{FAST}\n{PILOT}", servers=3)
    yield f
    stop_fe(f)


@pytest.fixture(autouse=True)
def logs(fe, allowed_log):
    yield from clean_log(fe, allowed_log)


def new_client(fe, user=ALICE, **kw):
    c = McxClient(fe.origin, str(fe.ca))
    c.sign_in(user, PW, **kw)
    return c


@pytest.fixture
def mcx(fe):
    """Signs MCX sessions in; signs them out when the test ends."""
    made = []

    def sign_in(user=ALICE, **kw):
        c = new_client(fe, user, **kw)
        made.append(c)
        return c
    yield sign_in
    for c in made:
        try:
            c.sign_out()
        except (McxError, OSError):
            pass


def fault(fn, *args, **kw):
    """The McxFault fn raises."""
    with pytest.raises(McxFault) as e:
        fn(*args, **kw)
    return e.value


def client_fault(f, code, http_status=500):
    assert (f.code, f.http_status) == (code, http_status), (f.code, f.http_status, f.message)
    assert f.faultcode and f.faultcode.endswith(":Client"), f.faultcode
    assert f.message, "the faultstring is empty"


# --- UCWA side helpers ---------------------------------------------------------------------

def embedded(ev):
    (_, res), = ev["_embedded"].items()
    return res


def data_text(uri):
    return urllib.parse.unquote_plus(uri.split(",", 1)[1])


def ucwa_text(ev):
    link = embedded(ev)["_links"].get("plainMessage")
    return data_text(link["href"]) if link else None


def ucwa_wait(app, rel, type_, where=lambda ev: True, timeout=15):
    """The first event (link rel, type) that where() accepts, polling as needed; the
    others stay in app.backlog."""
    backlog = app.__dict__.setdefault("backlog", [])
    deadline = time.monotonic() + timeout
    while True:
        for i, (_, t, r, ev) in enumerate(backlog):
            if (r, t) == (rel, type_) and where(ev):
                return backlog.pop(i)[3]
        assert time.monotonic() < deadline, \
            f"no {rel} {type_}; got {[(e[2], e[1]) for e in backlog]}"
        backlog += events_of(app.poll("timeout=1"))


def available(users, user=BOB):
    app = users(user).create()
    app.available()
    return app


# --- MCX side helpers ----------------------------------------------------------------------

def texts(notes, cid=None):
    return [n["text"] for n in notes
            if n["kind"] == "Message" and cid in (None, n.get("ConversationId"))]


def drain(c):
    """Reads the channel until a batch brings nothing."""
    c.backlog = []
    while c.get_notifications(timeout=1)[1]:
        pass


def collect_texts(c, cid, n, timeout=20):
    """The texts of the next n messages of conversation cid, and of one more poll (which
    must bring none: nothing twice)."""
    got = texts(c.backlog, cid)
    c.backlog = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, got
        got += texts(c.get_notifications(timeout=1)[1], cid)
    got += texts(c.get_notifications(timeout=1)[1], cid)
    return got


def connect(alice, bob, text="Hi"):
    """alice invites bob (both MCX) with a first message; bob accepts. Returns the
    conversation id of each side."""
    cid, iid = alice.start_conversation(BOB_SIP, message=text)
    inv = bob.wait_for("Invitation", From=ALICE_SIP, text=text)
    bcid = bob.accept(inv["InvitationId"])
    assert alice.wait_for("InvitationResult", InvitationId=iid)["Result"] == "Connected"
    return cid, bcid


# --- sign-in and presence ----------------------------------------------------------------

def test_sign_in_presence_and_sign_out(fe, mcx, users):
    before = fe.status()["applications"]
    alice = mcx(device_id="alice-phone")
    me = alice.me
    assert me["SessionKind"] == "AlwaysConnected" and me["Lifetime"] == 3600
    assert me["Uri"] == ALICE_SIP and me["Name"] == "Alice Anderson"
    assert me["SessionId"] and isinstance(me["Sequence"], int)
    # the same device signs in again: the same session, nothing new in the store
    again = mcx(device_id="alice-phone")
    assert again.session_id == alice.session_id
    assert fe.status()["applications"] == before + 1
    # signed in: available for IM, as UCWA users see her
    b = users(BOB).create()
    assert b.get("/people/alice@contoso.test/presence").json()["availability"] == "Online"
    assert "Messaging" in b.get("/people/alice@contoso.test/supportedMedia").json()["modalities"]
    p = alice.get_presence()
    assert (p["Availability"], p["Note"]) == ("Online", "")

    alice.publish_presence(note="In the lab & <busy>")
    p = alice.get_presence()
    assert (p["Availability"], p["Note"]) == ("Online", "In the lab & <busy>")
    alice.publish_presence("DoNotDisturb")
    assert alice.get_presence()["Note"] == "In the lab & <busy>"       # untouched
    assert b.get("/people/alice@contoso.test/presence").json()["availability"] == "DoNotDisturb"
    assert b.get("/people/alice@contoso.test/note").json()["message"] == "In the lab & <busy>"
    alice.publish_presence(note="")
    assert alice.get_presence()["Note"] == ""
    alice.publish_presence(note="n" * 500)
    for bad in ({}, {"availability": "Sleeping"}, {"availability": "Offline"},
                {"note": "n" * 501}):
        client_fault(fault(alice.publish_presence, **bad), "InvalidParameter")
    assert alice.get_presence()["Availability"] == "DoNotDisturb"
    alice.publish_presence("Online", "")

    alice.sign_out()
    assert b.get("/people/alice@contoso.test/presence").json()["availability"] == "Offline"
    # a signed-out session is gone at once (an expired one says SessionExpired first)
    for op in (alice.get_presence, alice.keep_alive, alice.get_notifications,
               again.get_presence):         # (again is the same session)
        client_fault(fault(op), "SessionNotFound")


def test_presence_both_ways_with_a_ucwa_user(fe, mcx, users):
    b = available(users)
    alice = mcx()
    # bob (UCWA) watches alice (MCX)
    r = b.post("/people/presenceSubscriptions", {"duration": 11, "uris": [ALICE_SIP]})
    assert r.status_code == 201, r.text
    a_url = b.self + "/people/" + ALICE
    ucwa_wait(b, "contactPresence", "updated", lambda ev: ev["link"]["href"] == a_url + "/presence")
    b.backlog = []
    t0 = time.monotonic()
    alice.publish_presence("Busy", "In a meeting until 3")
    ucwa_wait(b, "contactPresence", "updated", lambda ev: ev["link"]["href"] == a_url + "/presence")
    ucwa_wait(b, "contactNote", "updated", lambda ev: ev["link"]["href"] == a_url + "/note")
    assert time.monotonic() - t0 < 8
    assert b.get("/people/alice@contoso.test/presence").json()["availability"] == "Busy"
    assert b.get("/people/alice@contoso.test/note").json()["message"] == "In a meeting until 3"

    # alice (MCX) watches bob (UCWA) and an address nobody has
    subs = alice.subscribe_presence([BOB_SIP, "sip:nobody@contoso.test"])
    assert [(p["Uri"], p["Availability"], p.get("Note", "")) for p in subs] == [
        (BOB_SIP, "Online", ""), ("sip:nobody@contoso.test", "Offline", "")]
    drain(alice)
    t0 = time.monotonic()
    assert b.post("/me/presence", {"availability": "Away"}).status_code == 204
    alice.wait_for("Presence", timeout=10, Uri=BOB_SIP, Availability="Away")
    assert time.monotonic() - t0 < 8, "a presence change comes within 5 s"
    assert b.post("/me/note", {"message": "Back at 3 & <soon>"}).status_code == 204
    n = alice.wait_for("Presence", timeout=10, Uri=BOB_SIP, Note="Back at 3 & <soon>")
    assert n["Availability"] == "Away"
    alice.publish_presence("Online", "")
    for sub in ("/me/presence", "/me/note"):
        assert b.post(sub, {}).status_code == 204


def test_my_presence_from_another_device(mcx, users):
    phone, tablet = mcx(device_id="alice-phone-2"), mcx(device_id="alice-tablet-2")
    drain(tablet)
    phone.publish_presence("BeRightBack")
    tablet.wait_for("MyPresence", timeout=10, Availability="BeRightBack")
    assert tablet.get_presence()["Availability"] == "BeRightBack"
    desktop = users(ALICE).create()                  # UCWA
    desktop.available()
    assert desktop.post("/me/presence", {"availability": "Away"}).status_code == 204
    tablet.wait_for("MyPresence", timeout=10, Availability="Away")
    assert desktop.post("/me/presence", {}).status_code == 204


def test_subscribe_presence_validation(mcx):
    alice = mcx()
    client_fault(fault(alice.subscribe_presence, []), "InvalidParameter")
    many = [f"sip:user{i}@contoso.test" for i in range(101)]
    client_fault(fault(alice.subscribe_presence, many), "InvalidParameter")
    assert len(alice.subscribe_presence(many[:100])) == 100


# --- messaging -----------------------------------------------------------------------------

def test_mcx_user_and_ucwa_user_talk(fe, mcx, users):
    bob = users(BOB)
    b = bob.create()
    b.available()
    alice = mcx()

    # 1. alice (MCX) invites bob (UCWA) with a subject and a first message
    cid, iid = alice.start_conversation(BOB_SIP, message="Hi Bob, lunch?", subject="Lunch")
    assert cid and iid
    inv = embedded(ucwa_wait(b, "messagingInvitation", "started"))
    assert inv["direction"] == "Incoming" and inv["subject"] == "Lunch"
    assert data_text(inv["_links"]["message"]["href"]) == "Hi Bob, lunch?"
    frm = inv["_embedded"]["from"]
    assert (frm["uri"], frm["name"]) == (ALICE_SIP, "Alice Anderson")
    client_fault(fault(alice.send_message, cid, "too early"), "Conflict")
    assert bob.request("POST", inv["_links"]["accept"]["href"]).status_code == 204
    res = alice.wait_for("InvitationResult", InvitationId=iid)
    assert (res["Result"], res["ConversationId"]) == ("Connected", cid)
    b_conv = inv["_links"]["conversation"]["href"]
    # bob gets the first message as a message of the conversation
    got = ucwa_wait(b, "message", "completed",
                    lambda ev: embedded(ev)["direction"] == "Incoming")
    assert ucwa_text(got) == "Hi Bob, lunch?"

    # 2. bob types, then writes: alice sees both
    assert bob.request("POST", b_conv + "/messaging/typing").status_code == 204
    alice.wait_for("Typing", ConversationId=cid, From=BOB_SIP)
    text = "Hello Alice ☺ — 100% sure & <b>plain</b>\r\nsecond line"
    r = bob.request("POST", b_conv + "/messaging/messages", data=text.encode(),
                    headers={"Content-Type": "text/plain; charset=UTF-8"})
    assert r.status_code == 201, r.text
    m = alice.wait_for("Message", ConversationId=cid)
    assert (m["text"], m["From"], m["Name"]) == (text, BOB_SIP, "Bob Brown")
    assert int(m["Number"]) >= 2

    # 3. alice types, then answers: bob sees both
    alice.set_typing(cid)
    ucwa_wait(b, "participant", "added",
              lambda ev: ev.get("in", {}).get("rel") == "typingParticipants")
    number = alice.send_message(cid, "See you at noon ✓")
    assert number > int(m["Number"])
    got = ucwa_wait(b, "message", "completed",
                    lambda ev: embedded(ev)["direction"] == "Incoming")
    assert ucwa_text(got) == "See you at noon ✓"
    assert got["link"]["href"].endswith(f"/messaging/messages/{number}")

    # 4. alice ends it: both sides see the end
    alice.end_conversation(cid)
    alice.wait_for("ConversationEnded", ConversationId=cid)
    ucwa_wait(b, "conversation", "deleted")
    assert bob.request("GET", b_conv).status_code == 404
    f = fault(alice.send_message, cid, "after the end")
    assert f.code in ("NotFound", "Conflict"), f.code

    # 5. bob (UCWA) invites alice (MCX), she accepts, he leaves
    r = b.post("/communication/messagingInvitations", {
        "to": ALICE_SIP, "subject": "Again",
        "_links": {"message": {"href": "data:text/plain;charset=utf-8,Are+you+there%3F"}}})
    assert r.status_code == 201, r.text
    inv = alice.wait_for("Invitation", From=BOB_SIP)
    assert (inv["text"], inv["Name"], inv["Subject"]) == ("Are you there?", "Bob Brown", "Again")
    cid2 = alice.accept(inv["InvitationId"])
    assert cid2 == inv["ConversationId"]
    done = ucwa_wait(b, "messagingInvitation", "completed")
    assert done["status"] == "Success"
    alice.send_message(cid2, "Yes")
    assert ucwa_text(ucwa_wait(b, "message", "completed",
                               lambda ev: embedded(ev)["direction"] == "Incoming")) == "Yes"
    conv = b.get("/communication/conversations").json()["_links"]["conversation"][0]["href"]
    assert bob.request("POST", conv + "/messaging/terminate").status_code == 204
    alice.wait_for("ConversationEnded", ConversationId=cid2)
    client_fault(fault(alice.accept, inv["InvitationId"]), "Conflict")


def test_two_mcx_users_talk_and_decline(mcx):
    alice, bob = mcx(), mcx(BOB)
    cid, iid = alice.start_conversation(BOB_SIP, message="Ping", subject="Test")
    inv = bob.wait_for("Invitation", From=ALICE_SIP)
    assert (inv["text"], inv["Subject"], inv["Name"]) == ("Ping", "Test", "Alice Anderson")
    bcid = bob.accept(inv["InvitationId"])
    assert bcid == inv["ConversationId"]
    assert alice.wait_for("InvitationResult", InvitationId=iid)["Result"] == "Connected"
    client_fault(fault(bob.accept, inv["InvitationId"]), "Conflict")
    client_fault(fault(bob.decline, inv["InvitationId"]), "Conflict")

    for t in ("Pong 1", "Pong 2"):
        bob.send_message(bcid, t)
    assert [alice.wait_for("Message", ConversationId=cid)["text"] for _ in range(2)] == \
        ["Pong 1", "Pong 2"]
    alice.send_message(cid, "Thanks ☺")
    m = bob.wait_for("Message", ConversationId=bcid, text="Thanks ☺")
    assert (m["From"], m["Name"]) == (ALICE_SIP, "Alice Anderson")
    # a message an event cannot carry (UcwaEventSize 4096) is refused; a long one is fine
    client_fault(fault(bob.send_message, bcid, "x" * 10000), "MessageTooLarge")
    bob.send_message(bcid, "y" * 1000)
    assert alice.wait_for("Message", ConversationId=cid)["text"] == "y" * 1000
    bob.set_typing(bcid)
    alice.wait_for("Typing", ConversationId=cid, From=BOB_SIP)
    bob.end_conversation(bcid)
    alice.wait_for("ConversationEnded", ConversationId=cid)
    bob.wait_for("ConversationEnded", ConversationId=bcid)
    f = fault(bob.send_message, bcid, "gone")
    assert f.code in ("NotFound", "Conflict"), f.code

    # declined
    cid2, iid2 = alice.start_conversation(BOB_SIP, message="Again?")
    inv2 = bob.wait_for("Invitation", From=ALICE_SIP, text="Again?")
    bob.decline(inv2["InvitationId"])
    res = alice.wait_for("InvitationResult", InvitationId=iid2)
    assert (res["Result"], res["ConversationId"]) == ("Declined", cid2)
    client_fault(fault(bob.accept, inv2["InvitationId"]), "Conflict")
    # ids that do not exist (in this session)
    client_fault(fault(bob.accept, "no-such-invitation"), "NotFound")
    client_fault(fault(bob.send_message, "no-such-conversation", "x"), "NotFound")
    client_fault(fault(bob.end_conversation, "no-such-conversation"), "NotFound")


def test_the_first_device_to_accept_wins(mcx):
    alice = mcx()
    phone, tablet = mcx(BOB, device_id="bob-phone"), mcx(BOB, device_id="bob-tablet")
    assert phone.session_id != tablet.session_id
    cid, iid = alice.start_conversation(BOB_SIP, message="Who answers?")
    p = phone.wait_for("Invitation", From=ALICE_SIP)
    t = tablet.wait_for("Invitation", From=ALICE_SIP)
    tablet.accept(t["InvitationId"])
    assert alice.wait_for("InvitationResult", InvitationId=iid)["Result"] == "Connected"
    r = phone.wait_for("InvitationResult", InvitationId=p["InvitationId"])
    assert r["Result"] == "ConnectedElsewhere"
    client_fault(fault(phone.accept, p["InvitationId"]), "Conflict")
    alice.send_message(cid, "to the tablet")
    assert tablet.wait_for("Message", text="to the tablet")["From"] == ALICE_SIP
    assert texts(phone.backlog + phone.get_notifications(timeout=1)[1]) == []


def test_offline_and_unknown_users_are_alike(mcx):
    alice = mcx()
    results = {}
    for who in (BOB_SIP, "sip:nobody@contoso.test"):       # bob is signed out
        cid, iid = alice.start_conversation(who, message="anyone?")
        res = alice.wait_for("InvitationResult", timeout=40, InvitationId=iid)
        results[who] = res["Result"]
        assert res["ConversationId"] == cid
    assert results == {BOB_SIP: "Unreachable", "sip:nobody@contoso.test": "Unreachable"}


# --- contacts ------------------------------------------------------------------------------

@pytest.fixture
def alice_contacts(fe):
    """bob in alice's group Team, carol in her Other Contacts (via UCWA); emptied after."""
    u = fe.user()
    app = u.create()
    r = app.post("/people/groups", {"displayName": "Team"})
    assert r.status_code in (201, 204), r.text
    team = r.headers["Location"].rsplit("/", 1)[1]
    r = app.post("/people/groupMemberships", {"contactUri": BOB_SIP, "groupId": team})
    assert r.status_code == 201, r.text
    r = app.post("/people/groupMemberships", {"contactUri": "sip:carol@contoso.test"})
    assert r.status_code == 201, r.text
    yield team
    for g in app.get("/people/groups").json()["_embedded"]["group"]:
        u.request("DELETE", g["_links"]["self"]["href"])
    for c in app.get("/people/contacts?expand=false").json()["_links"]["contact"]:
        app.post("/people/groupMemberships/removeContactFromAllGroups",
                 {"contactUri": "sip:" + c["href"].rsplit("/", 1)[1]})
    app.delete()


def contact_table(groups):
    return {g["Name"]: [(c["Uri"], c.get("Name"), c["Availability"]) for c in g["Contacts"]]
            for g in groups}


def test_get_contacts_with_presence(fe, mcx, users, alice_contacts):
    b = available(users)
    alice = mcx()
    groups = alice.get_contacts()
    ids = [g["Id"] for g in groups]
    assert all(ids) and len(set(ids)) == len(ids), ids
    table = contact_table(groups)
    assert table["Team"] == [(BOB_SIP, "Bob Brown", "Online")]
    assert table["Other Contacts"] == [("sip:carol@contoso.test", "Carol Clark", "Offline")]
    assert all(not v for k, v in table.items() if k not in ("Team", "Other Contacts")), table
    assert b.post("/me/presence", {"availability": "Busy"}).status_code == 204
    assert contact_table(alice.get_contacts())["Team"] == [(BOB_SIP, "Bob Brown", "Busy")]
    assert b.post("/me/presence", {}).status_code == 204


# --- the notification channel --------------------------------------------------------------

def test_sequence_next_same_batch_and_resync(mcx):
    alice, bob = mcx(), mcx(BOB)
    cid, bcid = connect(alice, bob)
    drain(alice)
    s = alice.sequence
    bob.send_message(bcid, "one")
    b1, n1 = alice.get_notifications(timeout=5)
    assert b1["sequence"] == s and not b1["resync"] and not b1["resume"]
    assert texts(n1) == ["one"]
    nxt = b1["next"]
    assert nxt != s
    # the answer was lost: the same Sequence, the same batch (not what came since)
    bob.send_message(bcid, "two")
    for _ in range(2):
        again = alice.get_notifications(sequence=s, timeout=1)
        assert again == (b1, n1)
    # Next acknowledges it
    b2, n2 = alice.get_notifications(sequence=nxt, timeout=5)
    assert b2["sequence"] == nxt and texts(n2) == ["two"] and not b2["resync"]
    # an acknowledged batch, or one far ahead: Resync, continue at the current batch
    for stale in (s, nxt + 1000):
        batch, notes = alice.get_notifications(sequence=stale, timeout=1)
        assert batch["resync"] and notes == [], (batch, notes)
        assert batch["next"] == nxt, batch
    # following it, the current batch is still there
    assert texts(alice.get_notifications(sequence=nxt, timeout=1)[1]) == ["two"]
    assert collect_texts(alice, cid, 0) == []
    client_fault(fault(alice.get_notifications, sequence="abc"), "InvalidParameter")


def test_a_parked_request_is_answered_at_once_and_can_be_replaced(fe, mcx):
    alice, bob = mcx(), mcx(BOB)
    cid, bcid = connect(alice, bob)
    drain(alice)
    # nothing to tell: an empty batch after Timeout
    t0 = time.monotonic()
    batch, notes = alice.get_notifications(timeout=1)
    assert notes == [] and 0.9 <= time.monotonic() - t0 < 2.5
    assert batch["next"] == alice.sequence
    for i in range(3):
        poll = in_thread(alice.get_notifications, timeout=30)
        wait_parked(fe, 1)
        t0 = time.monotonic()
        bob.send_message(bcid, f"m{i}")
        (batch, notes), _ = poll.result(10)
        assert poll.finished_at() - t0 < 1, poll.finished_at() - t0
        assert texts(notes) == [f"m{i}"]
    # a newer request replaces a waiting one, which gets Conflict
    first = in_thread(alice.get_notifications, timeout=30)
    wait_parked(fe, 1)
    second = in_thread(alice.get_notifications, timeout=30)
    with pytest.raises(McxFault) as e:
        first.result(5)
    client_fault(e.value, "Conflict")
    assert second.alive()
    bob.send_message(bcid, "to the second")
    (_, notes), _ = second.result(10)
    assert texts(notes) == ["to the second"]
    wait_parked(fe, 0)


def test_a_full_queue_says_resume(workdir, st):
    f = start_mcx_fe(workdir, st, "mcx-ring", extra=f"{FAST}\nUcwaEventsPerApplication 16",
                     servers=2)
    try:
        alice, bob = new_client(f), new_client(f, BOB)
        cid, bcid = connect(alice, bob)
        drain(alice)
        sent = [f"r{i}" for i in range(40)]
        for t in sent:
            bob.send_message(bcid, t)
        batch, notes = alice.get_notifications(timeout=1)
        assert batch["resume"] and not batch["resync"], batch
        later, more = alice.get_notifications(timeout=1)
        assert not later["resume"]
        got = texts(notes, cid) + texts(more, cid)
        # some were dropped; what is kept is the latest, in order
        assert got and len(got) < len(sent) and got == sent[-len(got):], got
        # read the contacts' presence again, and go on
        alice.subscribe_presence([BOB_SIP])
        bob.send_message(bcid, "after")
        assert alice.wait_for("Message", ConversationId=cid)["text"] == "after"
        for c in (alice, bob):
            c.sign_out()
    finally:
        stop_fe(f)


def test_the_channel_survives_a_graceful_restart(fe, mcx):
    alice, bob = mcx(), mcx(BOB)
    cid, bcid = connect(alice, bob)
    drain(alice)
    apps = fe.status()["applications"]
    poll = in_thread(alice.get_notifications, timeout=60)
    wait_parked(fe, 1)
    old = set(fe.children())
    t0 = time.monotonic()
    fe.apache.graceful()
    sent = []
    for i in range(4):                    # while the restart goes on
        bob.send_message(bcid, f"g{i}")
        sent.append(f"g{i}")
    (batch, notes), _ = poll.result(10)   # answered by the restart (or by g0)
    assert poll.finished_at() - t0 < 3, poll.finished_at() - t0
    early = texts(notes, cid)
    deadline = time.time() + 5
    while time.time() < deadline and not (set(fe.children()) - old):
        time.sleep(0.05)
    assert set(fe.children()) - old, "no new generation of children"
    for i in range(4, 7):
        bob.send_message(bcid, f"g{i}")
        sent.append(f"g{i}")
    assert early + collect_texts(alice, cid, len(sent) - len(early)) == sent
    # both sessions go on as before
    alice.send_message(cid, "still here")
    bob.wait_for("Message", ConversationId=bcid, text="still here")
    st = fe.status()
    assert st["consistent"] and st["applications"] == apps


def test_the_channel_survives_a_killed_child(fe, mcx):
    alice, bob = mcx(), mcx(BOB)
    cid, bcid = connect(alice, bob)
    drain(alice)
    # the channel's request goes on a kept-alive connection whose child a probe names
    ka = McxClient(fe.origin, str(fe.ca), persistent=True)
    ka.ticket, ka.session_id, ka.sequence = alice.ticket, alice.session_id, alice.sequence
    probe = envelope("KeepAlive", [("SessionId", alice.session_id)]).encode()

    def park():
        status, _, _ = ka.raw_post(probe, path=ka.path + "?probe=kill")
        assert status == 200
        try:
            return ka.get_notifications(timeout=5)
        except Exception as e:    # the child dies under it
            return e
    poll = in_thread(park)
    victim = wait_log(fe, "?probe=kill")[0]
    wait_parked(fe, 1)
    os.kill(victim, signal.SIGKILL)
    result, _ = poll.result(10)
    assert isinstance(result, Exception), result
    sent = [f"k{i}" for i in range(4)]
    for t in sent:                          # while alice has no channel
        bob.send_message(bcid, t)
    assert victim not in fe.children()
    # alice asks her Sequence again, from another child: everything, in order, once
    assert alice.sequence == ka.sequence
    assert collect_texts(alice, cid, len(sent)) == sent
    alice.send_message(cid, "after the kill")
    bob.wait_for("Message", ConversationId=bcid, text="after the kill")
    # the dead request counts as parked until the UCWA sweeper gives it up (its Timeout,
    # 5 s, plus 5 s)
    deadline = time.time() + 15
    while fe.status()["parked"] and time.time() < deadline:
        time.sleep(0.1)
    st = fe.status()
    assert st["consistent"] and st["parked"] == 0, st


# --- limits, policy, Mcx Off, push -------------------------------------------------------

def test_request_size_limit_default(fe, mcx):
    alice = mcx()

    def keepalive_of(size):
        head = envelope("KeepAlive", [("SessionId", alice.session_id), ("Padding", "")])
        body = head.replace("<m:Padding></m:Padding>",
                            "<m:Padding>" + "x" * (size - len(head.encode())) + "</m:Padding>")
        body = body.encode()
        assert len(body) == size
        return body
    status, _, body = alice.raw_post(keepalive_of(65536))
    assert status == 200, body[:300]
    status, headers, body = alice.raw_post(keepalive_of(65537))
    from mcx_client import parse_fault
    client_fault(parse_fault(status, headers, body), "RequestTooLarge", 413)
    assert alice.keep_alive() == 3600


def test_a_changed_policy_reaches_the_session(fe, mcx):
    frank, bob = mcx(FRANK), mcx(BOB)
    drain(frank)
    drain(bob)
    # the admin changes the Pilot policy and reloads (apachectl graceful)
    fe.apache.body = fe.apache.body.replace(PILOT, PILOT.replace(" Off", " On"))
    fe.apache.graceful()
    frank.wait_for("PolicyChanged", timeout=10)
    # bob's policy (global) did not change
    assert "PolicyChanged" not in [n["kind"] for n in
                                   bob.backlog + bob.get_notifications(timeout=1)[1]]


def test_a_full_store_is_service_busy(workdir, st):
    f = start_mcx_fe(workdir, st, "mcx-full", extra=f"{FAST}\nUcwaMaxApplications 2",
                     servers=2)
    try:
        first = [new_client(f, u) for u in (ALICE, BOB)]
        busy = fault(new_client, f, ERIN)
        assert (busy.code, busy.http_status) == ("ServiceBusy", 503), busy
        assert busy.faultcode.endswith(":Server") and busy.message
        assert busy.headers.get("Retry-After", "").isdigit(), dict(busy.headers)
        # the sessions already signed in are untouched; a place freed is taken again
        first[0].get_presence()
        first[1].sign_out()
        new_client(f, ERIN).sign_out()
        first[0].sign_out()
    finally:
        # the full store is worth a warning (UCWA00041, and MCX00011 for the fault)
        stop_fe(f, conftest.ALLOWED_LOG + [re.compile(r"UCWA00041|MCX00011: SignIn: fault "
                                                      r"ServiceBusy")])


def test_mobility_disabled_by_policy(fe):
    before = fe.status()["applications"]
    for _ in range(2):
        f = fault(new_client, fe, DAVE)
        client_fault(f, "MobilityDisabled")
    assert fe.status()["applications"] == before


def test_too_many_sessions(fe):
    sessions = [new_client(fe, ERIN, device_id=f"erin-{i}") for i in range(10)]
    try:
        client_fault(fault(new_client, fe, ERIN, device_id="erin-10"), "TooManySessions")
    finally:
        for c in sessions:
            c.sign_out()
    new_client(fe, ERIN, device_id="erin-11").sign_out()


def test_push_without_push_configured(mcx):
    alice = mcx(kind="PushCapable")
    assert alice.me["SessionKind"] == "PushCapable" and alice.me["Lifetime"] == 259200
    assert alice.keep_alive() == 259200
    f = fault(alice.register_push, "WebPush", endpoint="https://push.example/abc",
              p256dh="BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
              auth="tBHItJI5svbpez7KI4CCXg", language="en-US")
    client_fault(f, "NotSupported")


def user_links(f):
    s = requests.Session()
    s.trust_env = False
    s.verify = str(f.ca)
    r = s.post(f.base + "/WebTicket/oauthtoken",
               data={"grant_type": "password", "username": ALICE, "password": PW})
    assert r.status_code == 200, r.text
    r = s.get(f.base + ROOT + "/user", headers={
        "Authorization": "Bearer " + r.json()["access_token"], "Accept": AD_XML})
    assert r.status_code == 200, r.text
    return {ln.get("token"): ln.get("href") for ln in etree.fromstring(r.content).iter("Link")}


def test_mcx_off_as_in_skype_for_business_2019(workdir, st, fe):
    links = user_links(fe)
    assert links["Internal/Mcx"] == fe.topo.internal_base + "/Mcx/McxService.svc"
    assert links["External/Mcx"] == fe.topo.external_base + "/Mcx/McxService.svc"
    off = start_mcx_fe(workdir, st, "mcx-off", extra=FAST, mcx="off", servers=2)
    try:
        c = McxClient(off.origin, str(off.ca))
        f = fault(c.sign_in, ALICE, PW)
        client_fault(f, "McxDisabled")
        assert "Skype for Business" in f.message, f.message
        c.session_id = "1"
        client_fault(fault(c.get_presence), "McxDisabled")
        assert off.status()["applications"] == 0
        links = user_links(off)
        assert "Internal/Mcx" not in links and "External/Mcx" not in links, links
        assert "Ucwa" in links
    finally:
        stop_fe(off)


# --- session lifetimes ---------------------------------------------------------------------

@pytest.fixture
def lifetime_fe(workdir, st):
    f = start_mcx_fe(workdir, st, "mcx-lifetime", servers=2,
                     extra=f"{FAST}\nMcxSessionLifetime {SHORT} {LONG}")
    yield f
    stop_fe(f)


def test_session_lifetimes(lifetime_fe):
    fe = lifetime_fe
    idle = new_client(fe, device_id="idle")
    t_idle = time.monotonic()
    kept = new_client(fe, device_id="kept")
    waiting = new_client(fe, device_id="waiting")
    push = new_client(fe, device_id="push", kind="PushCapable")
    t_push = time.monotonic()
    bob = new_client(fe, BOB)
    assert (idle.me["SessionKind"], idle.me["Lifetime"]) == ("AlwaysConnected", SHORT)
    assert (push.me["SessionKind"], push.me["Lifetime"]) == ("PushCapable", LONG)
    # the idle session is in a conversation with bob
    cid, iid = idle.start_conversation(BOB_SIP, message="hi")
    inv = bob.wait_for("Invitation", From=ALICE_SIP)
    bcid = bob.accept(inv["InvitationId"])
    # a waiting GetNotifications keeps its session alive however long it waits
    poll = in_thread(waiting.get_notifications, timeout=SHORT + 3)
    last_keep = 0
    while True:
        if time.monotonic() - last_keep >= 1:
            assert kept.keep_alive() == SHORT
            assert bob.keep_alive() == SHORT
            last_keep = time.monotonic()
        try:
            idle.get_presence()       # not activity
        except McxFault as f:
            client_fault(f, "SessionExpired")
            assert f.status == 410, f.status
            break
        took = time.monotonic() - t_idle
        assert took < SHORT + 3, f"the idle session did not expire after {took:.1f} s"
        time.sleep(0.2)
    took = time.monotonic() - t_idle
    assert took >= SHORT - 0.3, f"expired after {took:.1f} s, lifetime {SHORT}"
    for op in (idle.keep_alive, idle.get_notifications,
               lambda: idle.send_message(cid, "late")):
        client_fault(fault(op), "SessionExpired")
    # its conversation ended for bob as if it had left
    bob.wait_for("ConversationEnded", ConversationId=bcid)
    # the others live on
    kept.get_presence()
    push.get_presence()
    poll.result(SHORT + 10)
    waiting.get_presence()
    # PushCapable: the long lifetime (bob, signed out below, is kept alive too: his
    # lifetime is SHORT, and this loop lasts about that long)
    while True:
        if time.monotonic() - last_keep >= 1:
            assert kept.keep_alive() == SHORT
            assert bob.keep_alive() == SHORT
            last_keep = time.monotonic()
        try:
            push.get_presence()
        except McxFault as f:
            client_fault(f, "SessionExpired")
            break
        assert time.monotonic() - t_push < LONG + 3, "the push session did not expire"
        time.sleep(0.2)
    took = time.monotonic() - t_push
    assert took >= LONG - 0.3, f"expired after {took:.1f} s, lifetime {LONG}"
    kept.get_presence()
    for c in (kept, bob):
        c.sign_out()


# --- the command line ----------------------------------------------------------------------

def cli(fe, *args, user=ALICE, timeout=60):
    cmd = [sys.executable, str(CLIENT), "--server", fe.origin, "--ca", str(fe.ca),
           "--resolve", f"{fe.topo.pool}={fe.topo.fe_addr}", "--user", user,
           "--password", PW, *args]
    env = dict(os.environ, PYTHONUTF8="1")
    return cmd, env


def run_cli(fe, *args, **kw):
    cmd, env = cli(fe, *args, **kw)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    return r


def test_cli_contacts(fe, users, alice_contacts):
    b = available(users)
    assert b.post("/me/presence", {"availability": "Busy"}).status_code == 204
    apps = fe.status()["applications"]
    r = run_cli(fe, "contacts")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Signed in as Alice Anderson <sip:alice@contoso.test>" in r.stdout
    assert re.search(r"^Team\n  Bob Brown <sip:bob@contoso.test>: Busy$", r.stdout, re.M), r.stdout
    assert "Carol Clark <sip:carol@contoso.test>: Offline" in r.stdout, r.stdout
    assert fe.status()["applications"] == apps          # it signed out
    assert b.post("/me/presence", {}).status_code == 204


def test_cli_errors(fe):
    cmd, env = cli(fe, "contacts")
    cmd[cmd.index("--password") + 1] = "wrong"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and r.stdout.startswith("Error: WebTicket"), r.stdout + r.stderr
    r = run_cli(fe, "contacts", user=DAVE)
    assert r.returncode == 2 and "Error MobilityDisabled:" in r.stdout, r.stdout + r.stderr


def test_cli_send_to_a_ucwa_user_who_accepts(fe, users):
    bob = users(BOB)
    b = bob.create()
    b.available()

    def accept():
        inv = embedded(ucwa_wait(b, "messagingInvitation", "started", timeout=30))
        assert bob.request("POST", inv["_links"]["accept"]["href"]).status_code == 204
        return data_text(inv["_links"]["message"]["href"]), inv["_embedded"]["from"]["uri"]
    job = in_thread(accept)
    r = run_cli(fe, "send", BOB_SIP, "Hello from the command line ☺")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Invitation to {BOB_SIP}: Connected" in r.stdout, r.stdout
    (text, frm), _ = job.result(30)
    assert (text, frm) == ("Hello from the command line ☺", ALICE_SIP)
    ucwa_wait(b, "conversation", "deleted")          # the client ended it


def test_cli_listen_accepts_and_prints_messages(fe, users):
    bob = users(BOB)
    b = bob.create()
    b.available()
    cmd, env = cli(fe, "listen", "--seconds", "12", "--accept")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().startswith("Signed in as Alice Anderson")
        r = b.post("/communication/messagingInvitations", {
            "to": ALICE_SIP, "_links": {"message": {"href": "data:text/plain;charset=utf-8,Hi+CLI"}}})
        assert r.status_code == 201, r.text
        assert ucwa_wait(b, "messagingInvitation", "completed", timeout=15)["status"] == "Success"
        conv = b.get("/communication/conversations").json()["_links"]["conversation"][0]["href"]
        r = bob.request("POST", conv + "/messaging/messages", data="Second ☺".encode(),
                        headers={"Content-Type": "text/plain; charset=utf-8"})
        assert r.status_code == 201, r.text
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, out + err
    assert "Invitation from Bob Brown <sip:bob@contoso.test>: Hi CLI" in out, out
    assert "Accepted the invitation from sip:bob@contoso.test" in out, out
    assert "Message from Bob Brown <sip:bob@contoso.test>: Second ☺" in out, out
    ucwa_wait(b, "conversation", "deleted", timeout=10)   # signed out at the end: she left


def test_cli_presence(fe, users, mcx):
    b = users(BOB).create()
    r = run_cli(fe, "--device-id", "cli-presence", "presence", "--set", "Busy", "--note",
                "Testing the CLI")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Availability: Busy" in r.stdout and "Note: Testing the CLI" in r.stdout, r.stdout
    assert b.get("/people/alice@contoso.test/presence").json()["availability"] == "Busy"
    assert b.get("/people/alice@contoso.test/note").json()["message"] == "Testing the CLI"
    # the session the CLI left signed in: the same device signs in to it and resets
    c = mcx(device_id="cli-presence")
    c.publish_presence("Online", "")


def test_cli_chat_with_a_ucwa_user(fe, users):
    bob = users(BOB)
    b = bob.create()
    b.available()
    cmd, env = cli(fe, "chat", BOB_SIP)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    reader = in_thread(lambda: [lines.append(line.rstrip("\n")) for line in p.stdout])

    def printed(text, timeout=15):
        deadline = time.monotonic() + timeout
        while text not in lines:
            assert time.monotonic() < deadline, (text, lines)
            time.sleep(0.05)
    try:
        p.stdin.write("First line\n")
        p.stdin.flush()
        inv = embedded(ucwa_wait(b, "messagingInvitation", "started", timeout=20))
        assert data_text(inv["_links"]["message"]["href"]) == "First line"
        assert bob.request("POST", inv["_links"]["accept"]["href"]).status_code == 204
        printed("Invitation result: Connected")
        conv = inv["_links"]["conversation"]["href"]
        r = bob.request("POST", conv + "/messaging/messages", data="Reply from bob",
                        headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        printed("Message from Bob Brown <sip:bob@contoso.test>: Reply from bob")
        p.stdin.write("Second line\n")
        p.stdin.flush()
        ucwa_wait(b, "message", "completed", lambda ev: embedded(ev)["direction"] == "Incoming"
                  and ucwa_text(ev) == "Second line")
        p.stdin.close()                 # end of input: the conversation ends
        assert p.wait(30) == 0, (lines, p.stderr.read())
        reader.result(10)
    finally:
        if p.poll() is None:
            p.kill()
    ucwa_wait(b, "conversation", "deleted")
