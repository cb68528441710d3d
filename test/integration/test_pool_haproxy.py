"""A pool of two Front Ends of pool01 behind HAProxy running conf.d/sites/haproxy-pool.cfg
as shipped, on one private PostgreSQL (test/lib/pool.py): discovery, sign-in and
applications through the VIPs; source affinity (one client address, one Front End, which
sees that address through the PROXY protocol; the addresses spread over both); a Front
End stopped is taken out by the health checks and its clients land on the other one; a
Front End cut off (frozen) is taken out too, and its parked clients' connections are
closed rather than left hanging. One pool for the module."""
import os
import time
import uuid

import pytest
import requests

import pool
from conftest import ALLOWED_LOG, unexpected_log_lines
from ucwa_client import (FAST, ROOT, assert_error, in_thread, pool_fe, served_by, vip_user,
                         wait_parked)

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


@pytest.fixture(scope="module")
def pl(workdir):
    # a lease longer than the freeze below (up to 14 s before HAProxy's checks give up,
    # more on a loaded machine): this module tests the balancer, not the pool's takeover
    p = pool.start_pool(workdir / "pool-haproxy", n=2, extra=FAST, lease=60)
    yield p
    p.stop()
    for f in p.fes:
        bad = unexpected_log_lines(f.apache.log_text(), ALLOWED_LOG)
        assert not bad, f"unexpected lines in {f.name}'s error log:\n" + "\n".join(bad)
    assert "[ALERT]" not in p.haproxy.log_text(), p.haproxy.log_text()


@pytest.fixture(scope="module")
def sources(pl):
    """{fe index: source addresses HAProxy sends to it}."""
    return pl.sources_by_fe()


def root_from(pl, source, base=None, marker=""):
    s = pool.source_session(pl.ca, source)
    r = s.get((base or pl.base) + ROOT + (f"?m={marker}" if marker else ""),
              headers={"Accept": "application/json"}, timeout=10)
    s.close()
    assert r.status_code == 200, r.text
    return r


def test_haproxy_accepts_the_shipped_config(pl):
    rc, out = pl.haproxy.check()
    assert rc == 0, out
    # and with a third Front End's server line, as an admin adds one
    rc, out = pool.HAProxy(pl.root / "haproxy-3", dict(pool.hlb_env(pl.topo, pl.state, 3)),
                           servers=3).check()
    assert rc == 0, out


def test_discovery_sign_in_and_an_application_through_the_vips(pl, sources):
    source = sources[1][0]
    r = root_from(pl, source)
    assert r.headers["X-MS-Server-Fqdn"] == "fe1.contoso.test"
    # discovery names the pool's web services: the VIP, not a Front End
    user_href = r.json()["_links"]["user"]["href"]
    assert user_href.startswith(pl.origin), user_href
    t = pl.topo
    for base in (pl.external_base, f"http://{t.lyncdiscoverinternal}:{t.fe_http}",
                 f"http://{t.fe_addr}:{t.fe_ext_http}"):    # the other VIPs
        assert root_from(pl, source, base=base).headers["X-MS-Server-Fqdn"] == \
            "fe1.contoso.test"
    alice = vip_user(pl, "alice@contoso.test", source)
    assert alice.applications.startswith(pl.origin), alice.applications
    app = alice.create()
    assert app.response.headers["X-MS-Server-Fqdn"] == "fe1.contoso.test"
    app.available()
    me = app.get("/me")
    assert me.status_code == 200 and me.headers["X-MS-Server-Fqdn"] == "fe1.contoso.test"
    assert app.poll(params="timeout=1")["_links"]
    assert app.delete().status_code == 204


def test_one_source_address_stays_on_one_front_end_and_addresses_spread(pl, sources):
    assert sources[1] and sources[2], sources   # 40 addresses: both Front Ends get some
    direct = {i: pool_fe(pl, i) for i in (1, 2)}
    for i in (1, 2):
        marker = uuid.uuid4().hex
        for source in sources[i][:2]:
            for _ in range(3):          # a new connection each time
                root_from(pl, source, marker=marker)
        # every one of them in this Front End's access log, with the client's own address
        # (the PROXY protocol header), none in the other's
        lines = [line for line in direct[i].access_log().splitlines() if marker in line]
        assert sorted(line.split()[0] for line in lines) == sorted(sources[i][:2] * 3)
        assert served_by(direct[3 - i], marker) == []
    # applications: one user on each Front End, as /ucwa-status counts them
    before = {i: direct[i].status()["applications"] for i in (1, 2)}
    apps = [vip_user(pl, u, sources[i][0]).create()
            for i, u in ((1, "alice@contoso.test"), (2, "bob@contoso.test"))]
    assert {i: direct[i].status()["applications"] - before[i] for i in (1, 2)} == {1: 1, 2: 1}
    for a in apps:
        assert a.delete().status_code == 204


@pytest.mark.skipif(not pool.pool_directive_known(), reason="mod_ucwa without pool mode")
def test_users_on_different_front_ends_see_each_other_through_haproxy(pl, sources):
    alice = vip_user(pl, "alice@contoso.test", sources[1][0]).create()
    bob = vip_user(pl, "bob@contoso.test", sources[2][0]).create()
    assert [a.response.headers["X-MS-Server-Fqdn"] for a in (alice, bob)] == \
        ["fe1.contoso.test", "fe2.contoso.test"]
    alice.available()
    bob.available()
    deadline = time.monotonic() + 10
    while alice.get("/people/bob@contoso.test/presence").json()["availability"] != "Online":
        assert time.monotonic() < deadline, "bob's presence on fe2 never reached fe1"
        time.sleep(0.05)
    for a in (alice, bob):
        assert a.delete().status_code == 204


def test_a_stopped_front_end_leaves_the_pool_and_its_clients_sign_in_again(pl, sources):
    source = sources[1][0]
    alice = vip_user(pl, "alice@contoso.test", source)
    old = alice.create()
    assert old.response.headers["X-MS-Server-Fqdn"] == "fe1.contoso.test"
    fe1 = pl.fe(1)
    fe1.stop()
    # the health checks take it out (two failed checks 2 s apart)
    took = pl.haproxy.wait_status("fe1", "DOWN", timeout=15)
    assert took < 10, took
    r = old.get()
    assert r.headers["X-MS-Server-Fqdn"] == "fe2.contoso.test"
    assert_error(r, 404, "NotFound")
    new = alice.create()
    assert new.response.headers["X-MS-Server-Fqdn"] == "fe2.contoso.test"
    assert new.get("/me").status_code == 200
    assert new.delete().status_code == 204
    bad = unexpected_log_lines(fe1.apache.log_text(), ALLOWED_LOG)
    assert not bad, "\n".join(bad)
    # back in the pool, it gets its share of the clients again
    fe1.start()
    pl.haproxy.wait_status("fe1", "UP", timeout=15)
    assert pl.fe_of_source(source) is fe1


def test_a_front_end_cut_off_is_taken_out_and_its_parked_clients_are_let_go(pl, sources):
    """A Front End that stops answering (frozen: connections open, nothing answers) fails
    its checks; HAProxy then closes its clients' connections (on-marked-down
    shutdown-sessions), so a parked event request ends long before its timeout, and the
    client's next request reaches the other Front End."""
    source = sources[2][0]
    bob = vip_user(pl, "bob@contoso.test", source)
    app = bob.create()
    assert app.response.headers["X-MS-Server-Fqdn"] == "fe2.contoso.test"
    app.poll(params="timeout=1")          # the channel's first package
    # no retry (new_http would resend the GET, to the other Front End)
    poll = in_thread(app.poll_raw, params="timeout=900",
                     http=pool.source_session(pl.ca, source), timeout=120)
    wait_parked(pool_fe(pl, 2), 1)
    fe2 = pl.fe(2)
    fe2.freeze()
    try:
        took = pl.haproxy.wait_status("fe2", "DOWN", timeout=30)
        with pytest.raises(requests.ConnectionError):
            poll.result(timeout=10)          # closed by HAProxy, not answered
        other = bob.create()
        assert other.response.headers["X-MS-Server-Fqdn"] == "fe1.contoso.test"
        assert other.delete().status_code == 204
    finally:
        fe2.thaw()
    assert took < 20, took
    pl.haproxy.wait_status("fe2", "UP", timeout=15)
    # HAProxy balances connections: bob's kept-alive one still goes to fe1
    bob.http.close()
    r = app.delete()
    assert r.status_code == 204 and r.headers["X-MS-Server-Fqdn"] == "fe2.contoso.test"
