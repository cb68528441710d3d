"""The push queue of a pool of two Front Ends (UcwaPoolFrontEnd fe1, fe2) on one private
PostgreSQL: a notification queued on a Front End moves into the pool's table
(ucwa_pool_push), the dispatchers of both Front Ends take due jobs from it with
FOR UPDATE SKIP LOCKED, and a Front End that dies holding a job leaves it to the other
once its lease ran out. The push service is the FCM mock of push_services.py (each
Front End fetches its own access token, so a message tells which one sent it)."""
import os
import re
import shutil
import time

import pytest

import mobility
from push_services import apns, apns_mock, fcm, fcm_mock, keys  # noqa: F401 (fixtures)
from test_pool import mobility_allowed, pg, wait_for  # noqa: F401
from test_ucwa_messaging import connect
from test_ucwa_push import background, invite, push_config, register, vapid_key  # noqa: F401
from ucwa_client import start_fe, stop_fe

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
LEASE = 4
# the dispatcher says once that the pool's database is away (while it is stopped)
PUSH_LOG = [re.compile(r"UCWA00470|UCWA00254")]

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


@pytest.fixture(scope="module")
def pool(workdir, topo, pg, keys, vapid_key, apns, fcm):  # noqa: F811
    st = workdir / "pool-push-state"
    if st.exists():
        shutil.rmtree(st)
    mobility.make_state(st, topo)
    pg.load_directory(st)
    pg.directory_conf(workdir / "directory-pool-push.conf")
    push = push_config(workdir, keys, vapid_key, apns, fcm, providers=("APNs", "FCM"))
    fes = []
    try:
        for n in (1, 2):
            fes.append(start_fe(workdir, st, f"pool-push-fe{n}", servers=2, directory=None,
                                extra=f'Include "{workdir / "directory-pool-push.conf"}"\n'
                                      f"{push}\nUcwaPoolFrontEnd fe{n}\n"
                                      f"UcwaPoolLease {LEASE}\n"))
        # both joined the pool (a dispatcher takes nothing before its Front End has)
        wait_for(lambda: pg.sql("SELECT count(*) FROM ucwa_pool_fe WHERE lease_until > now()")
                 .strip() == "2", what="both Front Ends in the pool")
        yield fes
    finally:
        for f in fes:
            if f.apache.proc and f.apache.proc.poll() is None:
                stop_fe(f, allowed=mobility_allowed() + PUSH_LOG)


def device(fe, user, name, token, provider="FCM"):
    """An application of user on device name, registered for FCM (or APNs) with token,
    available and in the background."""
    app = fe.user(user).create(endpointId=name)
    app.available({"SupportedModalities": ["Messaging"]})
    app.poll("timeout=1")
    register(app, {"provider": provider, "token": token})
    background(app)
    return app


def messages(fcm_mock, token=None):
    return [m for m in fcm_mock["control"]("GET", "/mock/messages")
            if token is None or m["token"] == token]


def sender_of(m):
    """The Front End's access token the message was sent with."""
    return m["headers"]["authorization"]


def table(pg, cols="count(*)"):
    return pg.sql(f"SELECT {cols} FROM ucwa_pool_push").strip()


def test_each_notification_is_sent_once_by_one_front_end(pool, pg, fcm_mock):
    fe1, fe2 = pool
    tokens = [f"fcm-token-of-bobs-device-{i}:APA91b" for i in range(6)]
    # three of bob's devices on each Front End, all in the background
    bobs = [device(fe1 if i % 2 == 0 else fe2, BOB, f"bob-dev-{i}", t)
            for i, t in enumerate(tokens)]
    # the first attempt for one device fails: its job goes back to the pool's table,
    # due a second later, for whichever dispatcher looks first
    fcm_mock["control"]("POST", "/mock/fail", {"token": tokens[1], "status": 503,
                                               "retry_after": 1})
    alice = fe1.user(ALICE).create()
    alice.available()
    t0 = time.monotonic()
    invite(alice, "sip:" + BOB)
    wait_for(lambda: {m["token"] for m in messages(fcm_mock)} >= set(tokens) - {tokens[1]},
             what="a notification to bob's devices that did not fail")
    first = time.monotonic() - t0
    wait_for(lambda: {m["token"] for m in messages(fcm_mock)} == set(tokens), timeout=15,
             what="a notification to each of bob's devices")
    print(f"\n5 devices on 2 Front Ends notified {first * 1000:.0f} ms after the invitation")
    wait_for(lambda: table(pg) == "0", what="an empty pool table")
    time.sleep(1.5)   # both dispatchers looked again: nothing sent twice
    got = messages(fcm_mock)
    assert sorted(m["token"] for m in got) == sorted(tokens), got
    assert all(m["message"]["data"]["event"] == "invitation" for m in got), got
    # bob's devices go first: alice leaving would be a missed conversation to push
    for a in bobs + [alice]:
        a.delete()


def test_front_ends_share_the_apns_provider_token(pool, pg, apns_mock):
    """APNs refuses a provider token renewed within 20 minutes of the last (429
    TooManyProviderTokenUpdates), whichever server signed it: the pool's Front Ends sign
    one and share it through the database."""
    fe1, fe2 = pool
    pg.sql("DELETE FROM ucwa_pool_push_credential")
    tokens = ["a1" * 32, "b2" * 32]
    bobs = [device(fe, BOB, f"bob-iphone-{i}", t, provider="APNs")
            for i, (fe, t) in enumerate(zip(pool, tokens))]
    alice = fe1.user(ALICE).create()
    alice.available()
    marks = [len(fe.apache.log_text()) for fe in pool]
    invite(alice, "sip:" + BOB)
    # each Front End sends to the device whose job it queued (it takes it first)
    pushes = wait_for(lambda: (lambda got: got if {p["token"] for p in got} == set(tokens)
                               else None)(apns_mock["control"]("GET", "/mock/pushes")),
                      timeout=5, what="a push to each of bob's iPhones")
    assert len(pushes) == 2, pushes
    assert len({p["headers"]["authorization"] for p in pushes}) == 1, pushes
    # with a token each, one Front End's first send is refused (429), and its job waits
    # for a retry that the other Front End may take, or not (up to 8 attempts)
    refused = [line for fe, m in zip(pool, marks) for line in fe.apache.log_text()[m:]
               .splitlines() if "UCWA00253" in line and " 429 " in line]
    assert refused == []
    for a in bobs + [alice]:
        a.delete()


def test_a_notification_waits_while_the_database_is_away(pool, pg, fcm_mock):
    fe1 = pool[0]
    token = "fcm-token-of-bobs-tablet:APA91b"
    bob = fe1.user(BOB).create(endpointId="bobs-tablet")
    bob.available({"SupportedModalities": ["Messaging"]})
    register(bob, {"provider": "FCM", "token": token})
    alice = fe1.user(ALICE).create()
    alice.available()
    a_conv, _ = connect(alice, bob)
    background(bob)

    def pushed():
        return [m for m in messages(fcm_mock, token) if m["message"]["data"]["event"] == "message"]
    pg.stop()
    try:
        # a conversation on one Front End needs no database: the job waits in the store
        r = alice.post(a_conv[len(alice.self):] + "/messaging/messages", data="while away",
                       headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        time.sleep(1.5)
        assert pushed() == []
    finally:
        pg.start()
    # the dispatcher's connection was reset with the database: its statements are
    # prepared again on the new backend, and the job moves, is taken and sent
    got = wait_for(pushed, timeout=15, what="the notification after the database came back")
    assert len(got) == 1, got
    wait_for(lambda: table(pg) == "0", what="an empty pool table")
    bob.delete()
    alice.delete()


def kill(fe):
    """SIGKILL to the Front End's parent and children: no goodbye."""
    assert fe.apache.kill() > 1


def test_a_job_held_by_a_dead_front_end_is_sent_by_the_other(pool, pg, fcm_mock):
    fe1, fe2 = pool
    token = "fcm-token-of-bobs-phone:APA91b"
    # FCM hangs on the first send: the Front End that takes the job holds it
    fcm_mock["control"]("POST", "/mock/fail", {"token": token, "status": 503, "delay": 30})
    bob = device(fe1, BOB, "bobs-phone", token)
    alice = fe1.user(ALICE).create()
    alice.available()
    invite(alice, "sip:" + BOB)
    holder = wait_for(lambda: table(pg, "taken_by") or None, what="the job taken")
    assert holder in ("fe1", "fe2"), holder
    # whoever holds it dies (fe1 in practice: it queued the job and took it at once)
    dead, alive = (fe1, fe2) if holder == "fe1" else (fe2, fe1)
    killed = time.monotonic()
    kill(dead)
    got = wait_for(lambda: messages(fcm_mock, token), timeout=LEASE + 10,
                   what="the notification sent by the surviving Front End")
    took = time.monotonic() - killed
    assert len(got) == 1 and got[0]["message"]["data"]["event"] == "invitation", got
    # not before the dead one's lease ran out (renewed every LEASE/5 until the kill)
    assert took >= LEASE * 0.8 - 0.5, took
    wait_for(lambda: table(pg) == "0", what="an empty pool table")
    time.sleep(1)
    assert len(messages(fcm_mock, token)) == 1
    print(f"\nheld by {holder}; sent by the other {took:.1f} s after the kill "
          f"(UcwaPoolLease {LEASE})")
    if alive is fe1:
        bob.delete()
        alice.delete()
