"""DEMO_POOL=1 (test/demo.py): pool01 as two Front Ends behind HAProxy on a private
PostgreSQL, with the reverse proxy in front, as the README tells a demo user to run it
(with DEMO_SIP=1: the SIP side beside it, trusting both Front Ends, each with its own
ucwa-sipd in Kamailio's dispatcher set of the pool's Front Ends).
A phone's path works through it (reverse proxy, the external VIP, a Front End), both
Front Ends are in HAProxy's pool and share presence (pool mode), and Ctrl-C (SIGTERM)
stops everything."""
import os
import time

import pytest
import requests

import kamailio
import mobility
import pool
from conftest import ALLOWED_LOG, unexpected_log_lines
from ucwa_client import User

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


def test_the_pool_demo_runs_a_phone_through_both_hops_and_stops(workdir):
    root = workdir / "demo-pool"
    topo = pool.pool_topology(pool.free_pool_offset(2, start=45000), 2)
    demo = mobility.DemoRun(DEMO_POOL=1, DEMO_SIP=1, DEMO_STATE=root,
                            DEMO_PORT_OFFSET=topo.offset).start()
    try:
        # the SIP side beside the pool: both Front Ends are the trusted UCWA side
        sip = kamailio.Kamailio(root / "sip" / "kamailio", port=5060 + topo.offset)
        assert sip.ping()
        trusted = sip.trusted_file.read_text()
        assert all(f"1 {pool.FE_ADDR.format(i)} 32" in trusted for i in (1, 2)), trusted
        # each Front End's ucwa-sipd, in Kamailio's set 9 (UCWA_SET), running
        listed = sip.dispatcher_file.read_text()
        assert all(f"9 sip:{pool.FE_ADDR.format(i)}:{5089 + topo.offset}" in listed
                   for i in (1, 2)), listed
        for i in (1, 2):
            st = requests.get(f"http://{pool.FE_ADDR.format(i)}:{topo.fe_http}/ucwa-status",
                              timeout=10).json()
            assert st["sip"]["running"] and st["sip"]["listen"] == pool.FE_ADDR.format(i), st
        hlb = pool.HAProxy(root / "haproxy", {})
        assert set(hlb.servers_state("pool-external-fe").values()) == {"UP"}
        ca = root / "state" / "pki" / "ca.crt"
        # a phone: external discovery and sign-in at the reverse proxy, UCWA through it
        phone = User(ca, f"https://{topo.lyncdiscover}:{topo.rp_https}", "bob@contoso.test")
        assert phone.applications.startswith(topo.external_base), phone.applications
        app = phone.create()
        assert app.response.headers["X-MS-Server-Fqdn"] in ("fe1.contoso.test",
                                                             "fe2.contoso.test")
        app.available()
        # Enterprise Voice, seeded by the demo into the pool's PostgreSQL: four digits are
        # a Redmond number the global policy routes
        cfs = "/me/callForwardingSettings"
        assert app.post(cfs + "/simultaneousRingSettings/simultaneousRingToContact",
                        {"target": "0100"}).status_code == 204
        assert app.get(cfs + "/simultaneousRingSettings").json()["contactUri"] == \
            "tel:+14255550100"
        assert app.post(cfs + "/turnOffCallForwarding").status_code == 204
        assert app.delete().status_code == 204
        # and inside, through the internal VIP: the directory is PostgreSQL's
        inside = User(ca, f"https://{topo.lyncdiscoverinternal}:{topo.fe_https}",
                      "alice@contoso.test", ucwa_origin=topo.internal_base)
        assert inside.create().delete().status_code == 204
        if pool.pool_directive_known():
            # one pool: alice on Front End 1 sees bob, on Front End 2, Online
            fe = [f"https://{pool.FE_ADDR.format(i)}:{topo.fe_https}" for i in (1, 2)]
            alice = User(ca, fe[0], "alice@contoso.test", ucwa_origin=fe[0]).create()
            bob = User(ca, fe[1], "bob@contoso.test", ucwa_origin=fe[1]).create()
            alice.available()
            bob.available()
            deadline = time.monotonic() + 10
            while alice.get("/people/bob@contoso.test/presence").json()["availability"] \
                    != "Online":
                assert time.monotonic() < deadline, "bob's presence never reached fe1"
                time.sleep(0.05)
            for a in (alice, bob):
                assert a.delete().status_code == 204
    finally:
        rc = demo.stop()
    assert rc == 0 and "stopped" in demo.text, demo.text
    for log in ("fe1/logs/error.log", "fe2/logs/error.log", "rp/logs/error.log"):
        bad = unexpected_log_lines((root / log).read_text(), ALLOWED_LOG)
        assert not bad, f"unexpected lines in {log}:\n" + "\n".join(bad)
    assert "database system is shut down" in (root / "pgsql" / "log").read_text()
