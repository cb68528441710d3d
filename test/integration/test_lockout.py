"""Lockout that ends, that a retrying phone does not feed, and that a spray from
elsewhere cannot keep the owner out with (docs/directives.md, AutodiscoverAccountLockout).
One Front End for the module, with short locks: 3 counted failures lock for LOCK s.
Each test signs in a different demo user, so they do not share counts."""
import time
from http.cookiejar import DefaultCookiePolicy

import pytest
import requests

import mobility
from pool import bind_source
from conftest import unexpected_log_lines, ALLOWED_LOG

LOCK = 3
PROXY = "127.0.0.2"        # the reverse proxy's address: the only one trusted for XFF
HOME = "198.51.100.7"      # where the owner signed in before (familiar)


@pytest.fixture(scope="module")
def fe(workdir, state):
    topo = mobility.Topology(offset=mobility.free_offset(start=30000))
    fe = mobility.front_end(workdir / "lockout-rules", state, topo,
                            extra=f"AutodiscoverAccountLockout 3 {LOCK}\n"
                                  "AutodiscoverFailureDelay 10")
    fe.topo = topo
    fe.start()
    yield fe
    fe.stop()
    bad = unexpected_log_lines(fe.log_text(), ALLOWED_LOG)
    assert not bad, "unexpected lines in the error log:\n" + "\n".join(bad)


def client(http, source=None):
    """A session that keeps no cookies: each test says which device identity it sends."""
    s = requests.Session()
    s.trust_env = False
    s.verify = http.verify
    s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    if source:
        bind_source(s, source)
    return s


@pytest.fixture(scope="module")
def internal(fe, http):
    s = client(http)
    url = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_https}/WebTicket/oauthtoken"

    def post(user, password=mobility.DEMO_PASSWORD):
        return s.post(url, data={"grant_type": "password", "username": user,
                                 "password": password})
    yield post
    s.close()


@pytest.fixture(scope="module")
def via_proxy(fe, http):
    """Token requests to the external site as the reverse proxy makes them: from its
    address, with the client's address in X-Forwarded-For."""
    s = client(http, PROXY)
    # the Front End's external site (lyncdiscoverinternal only names its address here)
    url = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_ext_https}/WebTicket/oauthtoken"

    def post(address, user, password=mobility.DEMO_PASSWORD, device=None):
        return s.post(url, data={"grant_type": "password", "username": user,
                                 "password": password},
                      headers={"X-Forwarded-For": address},
                      cookies={"MobilityDevice": device} if device else None)
    yield post
    s.close()


def view(r):
    headers = {k: v for k, v in r.headers.items() if k not in ("Date", "Keep-Alive", "Connection")}
    return r.status_code, headers, r.content


def test_owner_retrying_gets_in_once_the_lock_has_run_out(fe, internal):
    """40 wrong passwords, then the owner's phone retries the right one every 0.5 s: it
    gets in once LOCK s have passed since the lock, although it kept trying (each try
    used to start the lock again)."""
    for i in range(40):
        r = internal("bob@contoso.test", f"guess-{i}")
        assert r.status_code == 400
        if i == 2:
            locked_at = time.monotonic()   # the third counted failure locks
    assert "AD00015" in fe.log_text()
    while True:
        r = internal("bob@contoso.test")
        waited = time.monotonic() - locked_at
        if r.status_code == 200 or waited > 3 * LOCK:
            break
        time.sleep(0.5)
    assert r.status_code == 200, f"still locked {waited:.1f} s after the lock began"
    assert LOCK - 0.5 < waited < LOCK + 2


def test_identical_wrong_passwords_count_once(fe, internal):
    """A phone retrying a stale saved password 40 times costs one failure: the owner,
    who then types the right one, is not locked."""
    for _ in range(40):
        assert internal("carol@contoso.test", "Old-Passw0rd").status_code == 400
    assert internal("carol@contoso.test").status_code == 200
    assert "AD00017" in fe.log_text()


def test_spray_from_elsewhere_does_not_lock_the_owner_out(fe, via_proxy):
    """The owner signed in from HOME before. Wrong passwords for his account from other
    addresses lock every unfamiliar address out of it, not him at HOME."""
    home = via_proxy(HOME, "alice@contoso.test")
    assert home.status_code == 200
    device = home.cookies["MobilityDevice"]
    sprayed = time.monotonic()
    for i in range(20):
        r = via_proxy(f"203.0.113.{i + 1}", "alice@contoso.test", f"Spring{2000 + i}!")
        assert r.status_code == 400
    # an unfamiliar address is locked, even with the right password, and is answered
    # as an unknown user is
    locked = via_proxy("192.0.2.55", "alice@contoso.test")
    unknown = via_proxy("192.0.2.55", "nobody@contoso.test", "Spring2000!")
    assert view(locked) == view(unknown)
    assert locked.json() == {"error": "invalid_grant"}
    # the owner, at home, is not; nor is his phone that moved to another network, by the
    # device identity it got when it signed in
    assert via_proxy(HOME, "alice@contoso.test").status_code == 200
    assert via_proxy("100.64.0.9", "alice@contoso.test", device=device).status_code == 200
    # a device identity it did not get from us is not familiar
    assert via_proxy("100.64.0.10", "alice@contoso.test", device="0" * 32).status_code == 400
    assert time.monotonic() - sprayed < LOCK, "too slow to see the lock: raise LOCK"
    assert "every address and device that has not signed it in before" in fe.log_text()
