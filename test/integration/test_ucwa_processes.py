"""The session store is shared by every child process and survives restarts: a request
served by one child wakes a poll parked in another, a graceful restart answers parked polls
at once and keeps every session and event, and a child killed with SIGKILL loses no
event. The access log's last field (%P) says which child served each request."""
import json
import os
import signal
import statistics
import time

import pytest

from ucwa_client import (FAST, SPREAD, Conn, events_of, in_thread, new_http, pid_of, start_fe,
                         stop_fe, two_children, wait_log, wait_parked)


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-procs", extra=f"{FAST}\n{SPREAD}", servers=4)
    yield f
    stop_fe(f)


def test_a_request_in_one_child_wakes_a_poll_parked_in_another(fe):
    alice = fe.user()
    phone, tablet = alice.create(), alice.create()
    phone.available()
    tablet.available()
    for job in [in_thread(a.poll, "timeout=1", http=new_http(fe.ca)) for a in (phone, tablet)]:
        job.result()
    (c1, pid1), (c2, pid2) = two_children(fe, alice, phone)

    # 1. Signing out on one child ends a poll parked in another at once: the futex
    # wake-up crosses processes (a parked request only looks around every 0.5 s on its
    # own, so a median in milliseconds proves the wake-up).
    latencies = []
    for i in range(5):
        gone = alice.create()
        poll = in_thread(c1.request, "GET", gone.events + f"&timeout=30&trial={i}")
        wait_parked(fe, 1)
        t0 = time.monotonic()
        status, _, _ = c2.request("DELETE", gone.self + f"?trial={i}")
        assert status == 204
        (status, _, body), _ = poll.result(5)
        latencies.append(poll.finished_at() - t0)
        assert status == 404 and b"ApplicationNotFound" in body
        assert wait_log(fe, f"&trial={i} ") == [pid1]
        assert wait_log(fe, f"?trial={i} ") == [pid2]
    assert max(latencies) < 1 and statistics.median(latencies) < 0.15, latencies

    # 2. A presence change on the tablet (child 2) reaches the phone's poll (child 1).
    # Presence events are medium priority: they are held for the medium window (5 s)
    # from the moment they are posted, then sent at once; measured from the end of the
    # POST, the package comes 5 s later (plus at most a few hundred ms).
    poll = in_thread(c1.request, "GET", phone.events + "&timeout=30&cross=1")
    wait_parked(fe, 1)
    sent = time.monotonic()
    status, _, _ = c2.request("POST", tablet.self + "/me/presence?cross=2",
                              body={"availability": "Busy"})
    answered = time.monotonic()
    assert status == 204
    (status, _, body), _ = poll.result(10)
    assert status == 200
    # the event was posted between sent and answered: the window ends 5 s after it
    assert poll.finished_at() - sent >= 4.95, poll.finished_at() - sent
    assert poll.finished_at() - answered < 5.5, poll.finished_at() - answered
    pkg = json.loads(body)
    assert [e[:3] for e in events_of(pkg)] == [("me", "updated", "presence")]
    assert wait_log(fe, "&cross=1 ") == [pid1] and wait_log(fe, "?cross=2 ") == [pid2]
    assert phone.get("/me/presence").json()["availability"] == "Busy"
    for c in (c1, c2):
        c.close()
    for a in (phone, tablet):
        assert a.delete().status_code == 204


def test_graceful_restart_answers_parked_polls_and_keeps_everything(fe):
    alice, bob = fe.user(), fe.user("bob@contoso.test")
    before = fe.status()
    apps = [alice.create(), alice.create(), bob.create()]
    for a in apps:
        a.available()
    for job in [in_thread(a.poll, "timeout=1", http=new_http(fe.ca)) for a in apps]:
        job.result()
    polls = [in_thread(a.poll_raw, params="timeout=60", http=new_http(fe.ca)) for a in apps]
    wait_parked(fe, 3)
    # events the restart must not lose: held for the medium window when it comes
    assert apps[0].post("/me/presence", {"availability": "DoNotDisturb"}).status_code == 204
    assert apps[2].post("/me/location", {"location": "Building 7"}).status_code == 204
    children = set(fe.children())
    t0 = time.monotonic()
    fe.apache.graceful()
    first = []
    for a, job in zip(apps, polls):
        r, _ = job.result(10)
        assert job.finished_at() - t0 < 2, job.finished_at() - t0
        assert r.status_code == 200, r.text
        first.append(r.json())
    assert [e[1:3] for e in events_of(first[0])] == [("updated", "presence")]
    assert [e[1:3] for e in events_of(first[1])] == [("updated", "presence")]
    assert [e[1:3] for e in events_of(first[2])] == [("added", "location")]
    # the restart really happened: a new generation of children serves now
    deadline = time.time() + 5
    while time.time() < deadline and not (set(fe.children()) - children):
        time.sleep(0.05)
    assert set(fe.children()) - children
    # a client that lost the answer in the restart polls the same ack: every event again
    for a, pkg in zip(apps, first):
        r = a.poll_raw(params="timeout=1")
        assert r.status_code == 200 and r.json() == pkg
        a.events = pkg["_links"]["next"]["href"]
    # the sessions survive: documents, presence, location, the event sequence
    assert apps[1].get("/me/presence").json()["availability"] == "DoNotDisturb"
    assert apps[2].get("/me/location").json()["location"] == "Building 7"
    for a in apps:
        assert a.get().status_code == 200
    for job in [in_thread(a.poll, "timeout=1", http=new_http(fe.ca)) for a in apps]:
        pkg, _ = job.result()
        assert pkg["sender"] == []             # nothing twice
    st = fe.status()
    assert st["consistent"] and st["parked"] == 0
    assert st["applications"] - before["applications"] == 3
    assert st["available"] - before["available"] == 3
    for a in apps:
        assert a.delete().status_code == 204


def test_sigkill_of_the_child_holding_a_poll_loses_no_event(fe):
    alice = fe.user()
    before = fe.status()
    phone, tablet = alice.create(), alice.create()
    phone.available()
    tablet.available()
    for job in [in_thread(a.poll, "timeout=1", http=new_http(fe.ca)) for a in (phone, tablet)]:
        job.result()
    conn = Conn(fe, alice)
    victim = pid_of(fe, conn, phone)

    def parked_poll():
        try:
            return conn.request("GET", phone.events + "&timeout=30")
        except Exception as e:    # the child dies under it
            return e
    poll = in_thread(parked_poll)
    wait_parked(fe, 1)
    # three changes from the tablet, held for the medium window, then the child dies
    for sub, body in (("/me/presence", {"availability": "Away"}),
                      ("/me/note", {"message": "back at 3"}),
                      ("/me/location", {"location": "Lab"})):
        assert tablet.post(sub, body).status_code == 204
    os.kill(victim, signal.SIGKILL)
    result, _ = poll.result(10)
    assert isinstance(result, Exception), result
    assert victim not in fe.children()
    # the phone reconnects and polls the same ack: nothing was lost
    pkg = phone.poll("timeout=1")
    assert [e[2] for e in events_of(pkg)] == ["presence", "note", "location"]
    assert phone.get("/me/note").json()["message"] == "back at 3"
    # (that the dead request does not keep the phone's application alive for ever is
    # test_ucwa_expiry's business)
    st = fe.status()
    assert st["consistent"] and st["applications"] - before["applications"] == 2
    for a in (phone, tablet):
        assert a.delete().status_code == 204
