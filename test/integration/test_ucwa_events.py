"""The event channel (pending GET) as a client follows it: ack/next sequencing, empty
packages on timeout, the timeout range, replacement of a parked request (and priority),
resync, at-least-once delivery, the medium-priority window (through the reverse proxy),
ordering, the XML form and a full ring (resume)."""
import time

import pytest
from lxml import etree

from ucwa_client import (FAST, NS, XML, Fe, User, ack_of, assert_error, events_of, in_thread,
                         new_http, start_fe, stop_fe, wait_parked)


@pytest.fixture(scope="module")
def fe(workdir, state):
    """Polls may ask for timeout=1 here; two child processes."""
    f = start_fe(workdir, state, "ucwa-events", extra=FAST, servers=2)
    yield f
    stop_fe(f)


def test_ack_next_sequencing_and_empty_package_on_timeout(fe):
    alice = fe.user()
    app = alice.create()
    assert ack_of(app.events) == 1
    app.available()
    r = app.poll_raw(params="timeout=1")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    pkg = r.json()
    assert pkg["_links"] == {"self": {"href": app.self + "/events?ack=1"},
                             "next": {"href": app.self + "/events?ack=2"}}
    assert events_of(pkg)
    app.events = pkg["_links"]["next"]["href"]
    # nothing more: the request waits for its timeout, then an empty package
    t0 = time.monotonic()
    pkg = app.poll("timeout=1")
    took = time.monotonic() - t0
    assert 0.9 <= took < 2.5, took
    assert pkg == {"_links": {"self": {"href": app.self + "/events?ack=2"},
                              "next": {"href": app.self + "/events?ack=3"}},
                   "sender": []}
    assert app.delete().status_code == 204


def test_timeout_is_clamped_to_the_configured_range(variant, state, check_logs):
    f = Fe(variant("ucwa-range", extra="UcwaEventTimeoutRange 2 3"), state)
    alice = f.user()
    low, high, default = alice.create(), alice.create(), alice.create()

    def polls(app, *params):
        times = []
        for p in params:
            t0 = time.monotonic()
            app.poll(p)
            times.append(time.monotonic() - t0)
        return times
    jobs = [in_thread(polls, low, "timeout=1", ""),        # 1 -> 2, then 2 again (sticky)
            in_thread(polls, high, "timeout=100000"),      # 100000 -> 3
            in_thread(polls, default, "")]                 # the default, 180 -> 3
    (l1, l2), _ = jobs[0].result()
    (h1,), _ = jobs[1].result()
    (d1,), _ = jobs[2].result()
    for took, expected in ((l1, 2), (l2, 2), (h1, 3), (d1, 3)):
        assert expected - 0.1 <= took < expected + 0.9, (took, expected)


def test_second_poll_replaces_a_parked_one_and_priority_decides(fe):
    alice = fe.user()
    app = alice.create()
    href = app.events + "&timeout=60"
    first = in_thread(alice.request, "GET", href, http=new_http(fe.ca))
    wait_parked(fe, 1)
    second = in_thread(alice.request, "GET", href, http=new_http(fe.ca))
    r, took = first.result(5)
    assert_error(r, 409, "Conflict", "PGetReplaced")
    assert second.alive()
    wait_parked(fe, 1)
    # a higher priority replaces it; a lower one cannot replace that
    high = in_thread(alice.request, "GET", href + "&priority=5", http=new_http(fe.ca))
    r, _ = second.result(5)
    assert_error(r, 409, "Conflict", "PGetReplaced")
    wait_parked(fe, 1)
    t0 = time.monotonic()
    r = alice.request("GET", href + "&priority=1", http=new_http(fe.ca))
    assert_error(r, 409, "Conflict", "PGetReplaced")
    assert time.monotonic() - t0 < 1
    assert high.alive()
    # an equal priority replaces (the later one wins)
    equal = in_thread(alice.request, "GET", app.events + "&timeout=2&priority=5",
                      http=new_http(fe.ca))
    r, _ = high.result(5)
    assert_error(r, 409, "Conflict", "PGetReplaced")
    wait_parked(fe, 1)
    # the survivor is a working event request: it gets what happens next
    app.available()
    r, _ = equal.result(10)
    assert r.status_code == 200
    assert ("me", "updated", "me") in [e[:3] for e in events_of(r.json())]
    wait_parked(fe, 0)
    assert app.delete().status_code == 204


def test_out_of_range_ack_gets_a_resync_link(fe):
    alice = fe.user()
    app = alice.create()
    for ack in (2, 5, 4294967295):
        r = alice.request("GET", app.href(f"/events?ack={ack}&timeout=1"))
        assert r.status_code == 200, r.text
        assert r.json() == {"_links": {"self": {"href": app.href(f"/events?ack={ack}")},
                                       "resync": {"href": app.href("/events?ack=1")}},
                            "sender": []}
    app.available()
    app.poll("timeout=1")                      # package 1, with the makeMeAvailable events
    app.poll("timeout=1")                      # package 2
    for ack in (1, 4, 1000):                   # behind the last package, or ahead of it
        r = alice.request("GET", app.href(f"/events?ack={ack}&timeout=1"))
        links = r.json()["_links"]
        assert set(links) == {"self", "resync"}, links
        assert links["resync"]["href"] == app.href("/events?ack=2")
    # following resync gets the channel going again
    app.events = app.href("/events?ack=2")
    assert ack_of(app.poll("timeout=1")["_links"]["next"]["href"]) == 3
    assert app.delete().status_code == 204


def test_polling_the_same_ack_again_returns_the_same_package(fe):
    alice = fe.user()
    app = alice.create()
    app.available()
    first = app.poll_raw(params="timeout=1")
    assert events_of(first.json())
    # the answer was lost (client timeout, a restart): the same URL, the same package,
    # even after new events were posted
    assert app.post("/me/presence", {"availability": "Away"}).status_code == 204
    for _ in range(2):
        again = app.poll_raw(params="timeout=1")
        assert again.json() == first.json()
    # the presence change was not lost either: it is in the package after that one
    app.events = first.json()["_links"]["next"]["href"]
    pkg = app.poll("timeout=1")
    assert [e[:3] for e in events_of(pkg)] == [("me", "updated", "presence")]
    assert app.delete().status_code == 204


def test_events_keep_their_order(fe):
    alice = fe.user()
    app = alice.create()
    app.available()
    pkg = app.poll("timeout=1")
    # leaving lurker mode, as the documentation lists it, in one package
    assert [s["rel"] for s in pkg["sender"]] == ["me", "communication"]
    assert [e[:3] for e in events_of(pkg)] == [
        ("me", "updated", "me"), ("me", "added", "presence"), ("me", "added", "note"),
        ("me", "added", "location"), ("communication", "updated", "communication")]
    comm = events_of(pkg)[4][3]["_embedded"]["communication"]
    assert comm["supportedModalities"] == ["Messaging"]
    # (the note and location are the user's: a delete first makes the types certain)
    for sub, body in (("/me/note", {}), ("/me/location", {"location": ""}),
                      ("/me/note", {"message": "one"}), ("/me/location", {"location": "Here"}),
                      ("/me/note", {"message": "two"}), ("/me/presence", {"availability": "Busy"}),
                      ("/me/location", {})):
        assert app.post(sub, body).status_code == 204
    pkg = app.poll("timeout=1")
    assert [e[1:3] for e in events_of(pkg)] == [
        ("deleted", "note"), ("deleted", "location"), ("added", "note"), ("added", "location"),
        ("updated", "note"), ("updated", "presence"), ("deleted", "location")]
    assert len(pkg["sender"]) == 1       # consecutive events of one sender share an entry
    assert pkg["sender"][0]["href"] == app.self + "/me"
    assert app.delete().status_code == 204


def test_medium_events_wait_for_the_medium_window(deployment, state, urls, check_logs):
    """Through the reverse proxy, on the session deployment (default timeout range,
    180..1800 s). The makeMeAvailable events are medium priority: they wait up to
    `medium` seconds (default 5, clamped to 5..1800) to be sent together, then come at
    once, long before the timeout."""
    alice = User(state / "pki" / "ca.crt", urls["internal"])
    apps = [alice.create() for _ in range(3)]
    params = ["", "medium=1", "medium=6"]
    expected = [5, 5, 6]
    jobs = [in_thread(a.poll, p, http=new_http(alice.ca)) for a, p in zip(apps, params)]
    time.sleep(0.5)                           # parked
    made = []
    for a in apps:
        sent = time.monotonic()
        a.available()
        made.append((sent, time.monotonic()))
    for a, job, (sent, answered), exp in zip(apps, jobs, made, expected):
        pkg, _ = job.result(15)
        # the events were posted between sent and answered
        assert job.finished_at() - sent >= exp - 0.05, (exp, job.finished_at() - sent)
        assert job.finished_at() - answered < exp + 0.7, (exp, job.finished_at() - answered)
        assert [e[2] for e in events_of(pkg)][:5] == ["me", "presence", "note", "location",
                                                      "communication"]
    for a in apps:
        assert a.delete().status_code == 204


def test_events_in_xml(fe):
    alice = fe.user()
    app = alice.create()
    app.available()
    r = app.poll_raw(params="timeout=1", headers={"Accept": XML})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(XML)
    doc = etree.fromstring(r.content)
    assert doc.tag == NS + "events" and doc.get("href") == app.self + "/events?ack=1"
    assert doc.find(NS + "link").attrib == {"rel": "next", "href": app.self + "/events?ack=2"}
    senders = doc.findall(NS + "sender")
    assert [(s.get("rel"), s.get("href")) for s in senders] == [
        ("me", app.self + "/me"), ("communication", app.self + "/communication")]
    assert [(e.tag[len(NS):], e.get("rel")) for e in senders[0]] == [
        ("updated", "me"), ("added", "presence"), ("added", "note"), ("added", "location")]
    updated = senders[1].find(NS + "updated")
    comm = updated.find(NS + "resource")
    assert comm.get("rel") == "communication"
    items = comm.find(f"{NS}propertyList[@name='supportedModalities']").findall(NS + "item")
    assert [i.text for i in items] == ["Messaging"]
    # a resync in XML
    r = app.poll_raw(href=app.self + "/events?ack=77", headers={"Accept": XML})
    doc = etree.fromstring(r.content)
    assert doc.get("href") == app.self + "/events?ack=77"
    assert [l.attrib for l in doc.findall(NS + "link")] == [
        {"rel": "resync", "href": app.self + "/events?ack=1"}]
    assert doc.findall(NS + "sender") == []
    assert app.delete().status_code == 204


def test_a_full_ring_drops_events_and_says_resume(variant, state, check_logs):
    f = Fe(variant("ucwa-ring", extra=f"UcwaEventsPerApplication 4\n{FAST}"), state)
    app = f.user().create()
    app.available()                           # five events: more than the ring holds
    for i in range(3):
        assert app.post("/me/note", {"message": f"note {i}"}).status_code == 204
    pkg = app.poll("timeout=1")
    links = pkg["_links"]
    # resume: transient state is stale; next too, for clients that only follow next
    assert links["resume"] == links["next"] == {"href": app.self + "/events?ack=2"}
    # the makeMeAvailable events were dropped; what came after the overflow is kept
    assert [e[1:3] for e in events_of(pkg)] == [("added", "note"), ("updated", "note"),
                                                ("updated", "note")]
    assert app.get("/me/note").json()["message"] == "note 2"
    pkg = app.poll("timeout=1")
    assert "resume" not in pkg["_links"] and pkg["sender"] == []
    assert f.status()["consistent"]
