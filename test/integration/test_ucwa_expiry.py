"""Application lifetime: an application whose event channel nobody polls for
UcwaApplicationIdleTimeout (15 minutes in production, 10 s here; the sweeper runs every
second) ends, and every later request gets 410 InactiveApplicationExpired; a parked
poll keeps an application alive however long it waits; other requests do not."""
import os
import signal
import time

from ucwa_client import FAST, SPREAD, Fe, assert_error, in_thread, two_children, wait_parked


def wait_gone(app, t_created, until):
    """Polls the application's document until it answers 410; returns the time since
    its creation. GET requests do not keep an application alive."""
    while True:
        r = app.get()
        if r.status_code == 410:
            return time.monotonic() - t_created, r
        assert r.status_code == 200, r.text
        assert time.monotonic() - t_created < until, "the application did not expire"
        time.sleep(0.25)


def _swallow(fn, *args):
    try:
        return fn(*args)
    except Exception as e:      # the child died under the request
        return e


def test_idle_application_expires_and_a_parked_poll_keeps_one_alive(variant, state,
                                                                    check_logs):
    fe = Fe(variant("ucwa-idle", extra=f"UcwaApplicationIdleTimeout 10\n{FAST}\n{SPREAD}",
                    servers=2), state)
    alice = fe.user()
    t0 = time.monotonic()
    idle = alice.create(endpointId="idle-phone")
    waiting = alice.create(endpointId="waiting-phone")
    crashed = alice.create(endpointId="crashed-phone")
    idle.available()
    waiting.available()
    (keep, _), (conn, victim) = two_children(fe, alice, waiting)
    # the waiting phone's poll stays parked well past the idle timeout
    poll = in_thread(keep.request, "GET", waiting.events + "&timeout=13")
    # the crashed phone parked a short poll in a child process that then died
    dead = in_thread(lambda: _swallow(conn.request, "GET", crashed.events + "&timeout=2"))
    wait_parked(fe, 2)
    os.kill(victim, signal.SIGKILL)
    dead.result(5)

    took, r = wait_gone(idle, t0, until=13)
    assert took >= 9.9, took                   # not before its time
    assert_error(r, 410, "Gone", "InactiveApplicationExpired")
    for method, sub, body in (("GET", "/me", None), ("GET", "/events?ack=1", None),
                              ("POST", "/me/presence", {"availability": "Busy"}),
                              ("GET", "/policies", None), ("DELETE", "", None)):
        r = alice.request(method, idle.href(sub), json=body)
        assert_error(r, 410, "Gone", "InactiveApplicationExpired")
    # the parked poll kept its application alive (and the user online)
    assert waiting.get().status_code == 200
    assert waiting.get("/me/presence").json()["availability"] == "Online"
    (status, _, _), _ = poll.result(5)
    assert status == 200
    # the expired phone signs in again: a new application
    again = alice.create(endpointId="idle-phone")
    assert again.id != idle.id
    st = fe.status()
    assert st["consistent"] and st["expired"] >= 1
    # a poll that died with its child process does not keep the application alive
    # forever (its deadline was 2 s; the idle timeout runs from there at the latest)
    took, r = wait_gone(crashed, t0, until=15)
    assert_error(r, 410, "Gone", "InactiveApplicationExpired")
    assert fe.status()["parked"] == 0
