"""Where parked event requests go: more devices than one child's UcwaMaxParkedPerChild but
fewer than the server's capacity all park without a 503 (a full child sends a poll on
to a child with room), and one account's applications hold at most UcwaMaxParkedPerUser
of them. When every child is full, a poll is answered 503 with Retry-After."""
import collections
import re
import threading
import time

import pytest

import conftest
from ucwa_client import FAST, Fe, assert_error, new_http, start_fe, stop_fe, wait_parked

# 8 of 16 threads may park, so a child keeps 8 for everything else, as a real profile keeps
# 64: with 2 left (10 threads) a poll the MPM hands back to the same full child could
# find no room over the cap and be answered 503 (seen once in 10 clean runs)
THREADS = 16
CAP = 8           # per child; two children: 16 in all
OVER = 4          # half the other threads: for a client the MPM handed back to a full child
# small children, mostly parked: the MPM says so, as it should
BUSY = re.compile(r"AH10159")
PER_USER = 7


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-parking", servers=2, threads=THREADS,
                 extra=f"{FAST}\nUcwaMaxParkedPerChild {CAP}\nUcwaMaxParkedPerUser {PER_USER}")
    yield f
    stop_fe(f, allowed=conftest.ALLOWED_LOG + [BUSY])


class Device:
    """A device that follows the protocol from sign-in: it polls its event channel, follows
    next at once after a package (empty or not), and after a 503 waits its Retry-After."""

    def __init__(self, app):
        self.app = app
        self.http = new_http(app.user.ca)
        self.answers = collections.Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            r = self.app.poll_raw(http=self.http, params="timeout=60", timeout=70)
            self.answers[r.status_code] += 1
            if r.status_code == 200:
                self.app.events = r.json()["_links"]["next"]["href"]
            elif r.status_code in (503, 429):
                time.sleep(int(r.headers.get("Retry-After", "1")))
            else:
                return   # the application was deleted: the device signed out


def sign_out(devices):
    for d in [d for d in devices if not d.stop.is_set()]:
        d.stop.set()
        assert d.app.delete().status_code == 204
    for d in devices:
        d.thread.join(10)


def test_more_devices_than_a_child_holds_all_park_without_a_503(fe):
    """14 devices, each on its own connections, on two children of 8: whichever child
    accepts a poll, none is answered 503 while the other child has room. No SO_REUSEPORT
    buckets here: the MPM hands most connections to one child."""
    users = [fe.user("alice@contoso.test"), fe.user("bob@contoso.test")]
    apps = [users[i % 2].create(endpointId=f"spread-{i}") for i in range(14)]
    for a in apps:
        a.available()
    devices = [Device(a) for a in apps]
    try:
        wait_parked(fe, 14, timeout=15)
        per_child = fe.status()["parkedPerChild"]
        assert sum(per_child) == 14 and max(per_child) <= CAP + OVER, per_child
        time.sleep(1)   # a bounced device would be asleep on its Retry-After by now
        bounced = sum(d.answers[503] for d in devices)
        assert bounced == 0, [dict(d.answers) for d in devices]
        assert fe.status()["parked"] == 14
    finally:
        sign_out(devices)
    wait_parked(fe, 0)


def test_one_account_parks_at_most_its_share(fe):
    """alice's 8th application is answered 429 with Retry-After while her 7 others are
    parked; bob's device still parks; once one of hers signs out, the 8th parks."""
    alice, bob = fe.user("alice@contoso.test"), fe.user("bob@contoso.test")
    apps = [alice.create(endpointId=f"share-{i}") for i in range(PER_USER)]
    devices = [Device(a) for a in apps]
    extra = alice.create(endpointId="share-extra")
    try:
        wait_parked(fe, PER_USER, timeout=15)
        r = extra.poll_raw(params="timeout=60", timeout=10)
        assert_error(r, 429, "TooManyRequests")
        assert r.headers["Retry-After"] == "60"
        # another account is not affected
        again = Device(bob.create(endpointId="share-bob"))
        devices.append(again)
        wait_parked(fe, PER_USER + 1, timeout=15)
        assert again.answers[429] == 0
        # one of alice's signs out: her extra application may park now
        sign_out(devices[:1])
        devices.append(Device(extra))
        wait_parked(fe, PER_USER + 1, timeout=15)
        assert devices[-1].answers[429] == 0 and fe.status()["consistent"]
    finally:
        sign_out(devices)
    wait_parked(fe, 0)


def test_when_every_child_is_full_a_poll_gets_503(variant, state, allowed_log):
    """Two children of 4 threads, 3 of which may park (none over: half of one thread is
    none), all taken: the seventh device's poll is answered 503 with Retry-After and the
    connection closed, so it neither spins on an empty package nor keeps a worker."""
    allowed_log.append(BUSY)
    f = Fe(variant("ucwa-cap", extra=f"UcwaMaxParkedPerChild 3\n{FAST}", servers=2,
                   threads=4), state)
    alice = f.user()
    # every application first: a child with no idle worker closes idle connections
    apps = [alice.create(endpointId=f"cap-{i}") for i in range(7)]
    devices = [Device(a) for a in apps[:6]]
    try:
        wait_parked(f, 6, timeout=15)
        assert f.status()["parkedPerChild"] == [3, 3]
        r = apps[6].poll_raw(params="timeout=8", timeout=10, http=new_http(f.ca))
        assert_error(r, 503, "ServiceUnavailable")
        assert r.headers["Retry-After"] == "1"
        assert r.headers.get("Connection", "").lower() == "close"
        assert f.status()["parked"] == 6
    finally:
        sign_out(devices)
