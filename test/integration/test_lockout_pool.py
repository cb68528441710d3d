"""Lockout counted pool-wide (issue 11): two Front Ends of one pool share a private
PostgreSQL (the directory, and the lockout table with `AutodiscoverLockoutStore dbd`).
Failed sign-ins sent to both in turn lock the account on both after the threshold (with
each Front End counting alone, an attacker had the threshold once per Front End); an
origin made familiar on one is familiar on the other; the table holds no name; and when
the table cannot be written, a Front End counts alone instead of failing.
The PostgreSQL fixture is test_ucwa_people_pgsql's (root only, as there)."""
import hashlib
import hmac
import re
import shutil
import threading
import time

import pytest
import requests
from http.cookiejar import DefaultCookiePolicy

import mobility
from pool import bind_source
from conftest import ALLOWED_LOG
from test_lockout import PROXY, HOME
from test_ucwa_people_pgsql import pg, pytestmark  # noqa: F401 (fixture)
from ucwa_client import start_fe, stop_fe

LOCK = 3
# the warning of test_database_refuses_writes, on purpose
ALLOWED = ALLOWED_LOG + [re.compile(r"AD00068")]


@pytest.fixture(scope="module")
def pool(workdir, topo, pg):
    st = workdir / "lockout-pool-state"
    if st.exists():
        shutil.rmtree(st)
    mobility.make_state(st, topo)   # one token key file: the pool's
    pg.load_directory(st)
    conf = pg.directory_conf(workdir / "lockout-pool-directory.conf")
    extra = (f'Include "{conf}"\n'
             f"AutodiscoverLockoutStore dbd\nAutodiscoverAccountLockout 3 {LOCK}\n"
             "AutodiscoverFailureDelay 10")
    fes = [start_fe(workdir, st, f"lockout-pool-fe{i}", servers=2, directory=None,
                    extra=extra) for i in (1, 2)]
    yield fes
    for fe in fes:
        stop_fe(fe, ALLOWED)


def session(fe, source=None):
    s = requests.Session()
    s.trust_env = False
    s.verify = str(fe.state / "pki" / "ca.crt")
    s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    if source:
        bind_source(s, source)
    return s


def sign_in(fe, user, password=mobility.DEMO_PASSWORD):
    """A token request to the Front End's internal site."""
    t = fe.apache.topo
    with session(fe) as s:
        return s.post(f"https://{t.lyncdiscoverinternal}:{t.fe_https}/WebTicket/oauthtoken",
                      data={"grant_type": "password", "username": user, "password": password})


def via_proxy(fe, address, user, password=mobility.DEMO_PASSWORD, device=None):
    """A token request to the Front End's external site as the reverse proxy sends it."""
    t = fe.apache.topo
    with session(fe, PROXY) as s:
        return s.post(f"https://{t.lyncdiscoverinternal}:{t.fe_ext_https}/WebTicket/oauthtoken",
                      data={"grant_type": "password", "username": user, "password": password},
                      headers={"X-Forwarded-For": address},
                      cookies={"MobilityDevice": device} if device else None)


def test_failures_on_both_front_ends_lock_the_account_on_both(pool):
    fe1, fe2 = pool
    for i, fe in enumerate((fe1, fe2, fe1)):
        assert sign_in(fe, "bob@contoso.test", f"guess-{i}").status_code == 400
    locked_at = time.monotonic()
    # the third failure, on FE1, counted the one on FE2: locked everywhere, even with the
    # right password (each Front End alone had 2 and 1 failures: not locked)
    assert "AD00015" in fe1.apache.log_text()
    assert sign_in(fe2, "bob@contoso.test").status_code == 400
    assert sign_in(fe1, "bob@contoso.test").status_code == 400
    assert time.monotonic() - locked_at < LOCK, "too slow to see the lock: raise LOCK"
    # and the lock ends on time, on both
    time.sleep(max(0, LOCK + 0.3 - (time.monotonic() - locked_at)))
    assert sign_in(fe2, "bob@contoso.test").status_code == 200


def test_repeated_password_counts_once_across_front_ends(pool):
    fe1, fe2 = pool
    for i in range(6):
        assert sign_in(pool[i % 2], "carol@contoso.test", "Old-Passw0rd").status_code == 400
    assert sign_in(fe2, "carol@contoso.test").status_code == 200


def test_familiar_origin_holds_across_front_ends(pool):
    fe1, fe2 = pool
    home = via_proxy(fe1, HOME, "alice@contoso.test")
    assert home.status_code == 200
    device = home.cookies["MobilityDevice"]
    sprayed = time.monotonic()
    for i in range(6):
        r = via_proxy(pool[i % 2], f"203.0.113.{i + 1}", "alice@contoso.test", f"Spring{i}!")
        assert r.status_code == 400
    # unfamiliar addresses are locked out of the account on both Front Ends ...
    assert via_proxy(fe2, "192.0.2.55", "alice@contoso.test").status_code == 400
    assert via_proxy(fe1, "192.0.2.56", "alice@contoso.test").status_code == 400
    # ... not the owner at HOME, where FE1 saw him sign in, nor his device, on FE2
    assert via_proxy(fe2, HOME, "alice@contoso.test").status_code == 200
    assert via_proxy(fe2, "100.64.0.9", "alice@contoso.test", device=device).status_code == 200
    assert time.monotonic() - sprayed < LOCK, "too slow to see the lock: raise LOCK"


def entry(pg, fe, kind, name):
    """The row of an account ('u') or address ('a'), found by its key as the module makes
    it (docs/ARCHITECTURE.md §3): the secret from the pool's token key and a label."""
    secret = hmac.new((fe.state / "token.key").read_bytes(),
                      b"mod_autodiscover lockout secret v1", hashlib.sha256).digest()
    key = hmac.new(secret, kind.encode() + name.encode(), hashlib.sha256).hexdigest()[:32]
    row = pg.sql(f"SELECT failures_0, locked_until_0 FROM autodiscover_lockout "
                    f"WHERE entry_key = '{key}'").strip()
    return [int(v) for v in row.split("|")] if row else [0, 0]


def test_concurrent_failures_on_both_front_ends_are_all_counted(pool, pg):
    """12 sign-ins at once, half on each Front End, for an account nobody has tried:
    every failure that passed the check is counted once for the account and once for
    the address (no count lost to a race, no transaction given up)."""
    user = "newcomer@contoso.test"
    address_before = entry(pg, pool[0], "a", "127.0.0.1")[0]
    barrier = threading.Barrier(12)

    def attempt(i):
        barrier.wait()
        assert sign_in(pool[i % 2], user, f"guess-{i}").status_code == 400
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logs = "".join(fe.apache.log_text() for fe in pool)
    counted = len(re.findall(rf"AD00022: sign-in for {re.escape(user)} failed", logs))
    refused = len(re.findall(rf"AD00020: sign-in for {re.escape(user)} refused", logs))
    assert counted + refused == 12 and counted >= 3
    failures, locked_until = entry(pg, pool[0], "u", user)
    assert failures == counted and locked_until > 0
    assert entry(pg, pool[0], "a", "127.0.0.1")[0] == address_before + counted
    assert "AD00068" not in logs


def test_the_table_holds_keyed_hashes_only(pool, pg):
    dump = pg.sql("SELECT * FROM autodiscover_lockout")
    assert dump.count("\n") >= 4
    for clear in ("alice", "bob", "contoso", HOME, "203.0.113", "Spring", "guess"):
        assert clear not in dump


def test_database_refuses_writes(pool, pg):
    """The table cannot be written: each Front End counts alone (AD00068), answers as
    usual, and locks on its own count; nothing crashes."""
    fe1, fe2 = pool
    pg.sql("ALTER TABLE autodiscover_lockout "
              "ADD CONSTRAINT refuse CHECK (last_use < 0) NOT VALID")
    try:
        for i in range(3):
            assert sign_in(fe1, "dave@contoso.test", f"guess-{i}").status_code == 400
        log = fe1.apache.log_text()
        assert "AD00068" in log
        assert "sign-in for dave@contoso.test locked" in log   # FE1's own count
        assert "AD00068" not in fe2.apache.log_text()
    finally:
        pg.sql("ALTER TABLE autodiscover_lockout DROP CONSTRAINT refuse")
