"""conf.d/sites/hlb.conf, the load balancer stand-in for a pool of two Front Ends, as
shipped: it reaches both Front Ends over verified TLS, and its route cookie keeps a client
on one Front End. (Pools as one service are issue 11; this checks the template admins copy.)"""
import socket

import pytest
import requests

import mobility
from conftest import ALLOWED_LOG, unexpected_log_lines

HLB_ADDR = "127.0.0.19"
FE2_ADDR = "127.0.0.18"


@pytest.fixture(scope="module")
def pool(deployment, workdir, state, topo):
    topo2 = mobility.Topology(offset=topo.offset, fe_addr=FE2_ADDR)
    fe2 = mobility.front_end(workdir / "hlb-fe2", state, topo2,
                             extra="AutodiscoverServerFqdn fe2.contoso.test")
    defines = dict(topo.defines(state), FE1_ADDR=topo.fe_addr, FE2_ADDR=FE2_ADDR,
                   HLB_ADDR=HLB_ADDR, POOL_FQDN=topo.pool)
    hlb = mobility.Apache(workdir / "hlb", "hlb." + topo.sip_domain,
                          mobility.RP_MODULES + ["proxy_balancer", "slotmem_shm",
                                                 "lbmethod_byrequests"],
                          [(HLB_ADDR, topo.fe_ext_https, "https")],
                          mobility.sites_body("hlb.conf"), defines)
    fe2.start()
    hlb.start()
    yield {"fe2": fe2, "hlb": hlb}
    hlb.stop()
    fe2.stop()


def vip_session(state):
    s = requests.Session()
    s.trust_env = False   # REQUESTS_CA_BUNDLE from the environment would win
    s.verify = str(state / "pki" / "ca.crt")
    return s


def root_url(topo):
    return (f"https://{topo.webext}:{topo.fe_ext_https}"
            "/Autodiscover/AutodiscoverService.svc/root")


def test_the_shipped_balancer_reaches_both_front_ends_and_keeps_a_client_on_one(
        pool, state, topo, monkeypatch):
    real = socket.getaddrinfo   # webext is the balancer's address for this test
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **kw: real(
        HLB_ADDR if host == topo.webext else host, *a, **kw))
    seen = set()
    for _ in range(4):   # new clients (no cookie): the balancer sends them to both
        r = vip_session(state).get(root_url(topo), headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text   # 502 if the Front End's certificate is refused
        seen.add(r.headers["X-MS-Server-Fqdn"])
    assert seen == {topo.pool, "fe2.contoso.test"}
    s = vip_session(state)
    fqdns = {s.get(root_url(topo), headers={"Accept": "application/json"})
             .headers["X-MS-Server-Fqdn"] for _ in range(6)}
    assert len(fqdns) == 1, fqdns   # the route cookie pins one client
    for a in (pool["hlb"], pool["fe2"]):
        assert not unexpected_log_lines(a.log_text(), ALLOWED_LOG), a.log_text()
