"""mobility-check (tools/mobility-check) against the demo-shaped deployment, which must
report nothing wrong, and against deployments broken on purpose, whose break must be found
and named: a wrong DNS answer from the outside resolver (a tiny DNS server of ours on a
loopback port), an internal name published outside, a reverse proxy serving a certificate
without a name clients use, a reverse proxy timeout shorter than the longest event
request, and two Front Ends behind a balancer without affinity."""
import json
import os
import shutil
import socket
import subprocess
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

import mobility

CHECK = mobility.REPO / "tools" / "mobility-check" / "mobility-check"


class TinyDNS:
    """A DNS server on 127.0.0.1:<free port> answering A queries from a table (the test
    changes it between runs); a name not in the table is NXDOMAIN."""

    def __init__(self, table):
        self.table = dict(table)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def spec(self):
        return f"127.0.0.1:{self.port}"

    def serve(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            for question in q.question:
                name = question.name.to_text().rstrip(".").lower()
                if name not in self.table:
                    r.set_rcode(dns.rcode.NXDOMAIN)
                elif question.rdtype == dns.rdatatype.A:
                    r.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A",
                                                        self.table[name]))
            self.sock.sendto(r.to_wire(), peer)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def resolvers(topo):
    inside = TinyDNS(topo.hosts())
    outside = TinyDNS(topo.hosts_outside())
    yield inside, outside
    inside.close()
    outside.close()


@pytest.fixture
def views(resolvers, topo):
    """The two resolvers, their tables reset after each test."""
    inside, outside = resolvers
    yield inside, outside
    inside.table = topo.hosts()
    outside.table = topo.hosts_outside()


def run_check(fe, rp, views, state, *extra, pools=("pool01.contoso.test",)):
    """The check's JSON report for the Front End (or Director) fe, an Apache instance or
    the path of a configuration, with the reverse proxy rp, as alice."""
    inside, outside = views
    env = dict(os.environ, MOBILITY_CHECK_PASSWORD=mobility.DEMO_PASSWORD)
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(getattr(fe, "conf", fe)),
                        "--proxy-config", str(rp.conf), "--inside", inside.spec,
                        "--outside", outside.spec, "--ca", str(state / "pki" / "ca.crt"),
                        "--user", "alice@contoso.test",
                        *[a for pool in pools for a in ("--pool", pool)],
                        "--json", *extra], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode in (0, 1), p.stderr
    report = json.loads(p.stdout)
    report["rc"] = p.returncode
    report["problems"] = {(f["check"], f["subject"]) for f in report["findings"]
                          if f["severity"] == "problem"}
    return report


def test_demo_shaped_deployment_reports_nothing(deployment, views, state, check_logs):
    r = run_check(deployment["fe"], deployment["rp"], views, state)
    assert r["rc"] == 0 and r["result"] == "ok", r["findings"]
    # the HTTP fallback of the demo is in use, and MCX is on (Lync 2010 clients' push
    # needs TCP 5223 from the devices): reported as notices, not as wrong
    assert [f["check"] for f in r["findings"]] == ["cert.http-fallback", "push.port-5223"]
    steps = [s["name"] for s in next(iter(r["steps"].values()))]
    assert all(s["ok"] for s in next(iter(r["steps"].values())))
    for hop in ("discovery (internal)", "discovery (external)", "token",
                "UCWA: create application", "MCX: service description"):
        assert hop in steps
    passed = {p["check"] for p in r["passed"]}
    assert {"dns.external-discovery", "cert.san", "cert.chain", "proxy.timeout",
            "lb.affinity", "xff.trusted"} <= passed


def test_text_report_and_usage_errors(deployment, state):
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "--days", "-1"], capture_output=True,
                       text=True)
    assert p.returncode == 2
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", "/nonexistent/httpd.conf"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "no such file" in p.stderr
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(deployment["fe"].conf),
                        "--outside", "127.0.0.1:dns"], capture_output=True, text=True)
    assert p.returncode == 2 and "not system, ADDR[:PORT] or hosts:FILE" in p.stderr
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(deployment["fe"].conf),
                        "--policy-user", "bob@contoso.test", "--pool", "pool01.contoso.test",
                        "--inside", "hosts:/dev/null"], capture_output=True, text=True)
    assert "Mobility policy of bob@contoso.test: global" in p.stdout
    assert "dns.internal-discovery-missing" in p.stdout and p.returncode == 1


def test_wrong_dns_answer_outside_is_named(deployment, views, state, topo, check_logs):
    inside, outside = views
    # the public zone sends lyncdiscover to the Front End's internal address
    outside.table[topo.lyncdiscover] = topo.fe_addr
    r = run_check(deployment["fe"], deployment["rp"], views, state)
    assert r["rc"] == 1
    assert ("dns.external-discovery-wrong", topo.lyncdiscover) in r["problems"]
    f = next(f for f in r["findings"] if f["check"] == "dns.external-discovery-wrong")
    assert topo.rp_addr in f["fix"] and topo.lyncdiscover in f["fix"]


def test_internal_name_published_outside_is_named(deployment, views, state, topo, check_logs):
    inside, outside = views
    outside.table[topo.lyncdiscoverinternal] = topo.fe_addr
    r = run_check(deployment["fe"], deployment["rp"], views, state)
    assert r["rc"] == 1
    assert r["problems"] == {("dns.internal-name-outside", topo.lyncdiscoverinternal)}


def test_nothing_listening_where_dns_points_is_named(deployment, views, state, topo,
                                                     check_logs):
    inside, outside = views
    outside.table[topo.lyncdiscover] = outside.table[topo.webext] = "127.0.0.17"
    r = run_check(deployment["fe"], deployment["rp"], views, state)
    assert r["rc"] == 1
    f = next(f for f in r["findings"] if f["check"] == "path.external-discovery")
    assert "cannot connect to 127.0.0.17" in f["what"]
    assert not [f for f in r["findings"] if f["check"] == "check.failed"]


def test_missing_dns_record_inside_is_named(deployment, views, state, topo, check_logs):
    inside, outside = views
    del inside.table[topo.lyncdiscoverinternal]
    r = run_check(deployment["fe"], deployment["rp"], views, state)
    assert ("dns.internal-discovery-missing", topo.lyncdiscoverinternal) in r["problems"]


@pytest.fixture(scope="module")
def broken_proxies(workdir, state, topo):
    """Reverse proxies on addresses of their own (same ports, to the same Front End), each
    broken one way: 127.0.0.13 serves a certificate without lyncdiscover.<domain> (and valid
    for 30 days only), 127.0.0.14
    gives up on the Front End after 120 s."""
    nosan = workdir / "state-nosan"
    (nosan / "pki").mkdir(parents=True, exist_ok=True)
    nosan.chmod(0o755)
    pki = nosan / "pki"
    shutil.copy(state / "pki" / "ca.crt", pki / "ca.crt")
    mobility.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-subj", f"/CN={topo.webext}", "-keyout", pki / "server.key",
                  "-out", pki / "server.csr"])
    (pki / "server.ext").write_text(f"subjectAltName=DNS:{topo.webext}\n"
                                    "extendedKeyUsage=serverAuth\n")
    mobility.run(["openssl", "x509", "-req", "-in", pki / "server.csr", "-CA",
                  state / "pki" / "ca.crt", "-CAkey", state / "pki" / "ca.key",
                  "-CAcreateserial", "-CAserial", pki / "ca.srl", "-days", "30",
                  "-extfile", pki / "server.ext", "-out", pki / "server.crt"])
    started = {}
    for key, addr, st, extra in (("nosan", "127.0.0.13", nosan, ""),
                                 ("timeout", "127.0.0.14", state, "ProxyTimeout 120")):
        defines = topo.defines(st)
        defines["RP_ADDR"] = addr
        rp = mobility.Apache(workdir / f"rp-{key}", f"rp-{key}.contoso.test",
                             mobility.RP_MODULES,
                             [(addr, topo.rp_https, "https"), (addr, topo.rp_http, "http")],
                             mobility.sites_body("reverse-proxy.conf") + "\n" + extra, defines)
        rp.start()
        started[key] = rp
    yield started
    for rp in started.values():
        rp.stop()
    for rp in started.values():
        from conftest import ALLOWED_LOG, unexpected_log_lines
        assert not unexpected_log_lines(rp.log_text(), ALLOWED_LOG), rp.log_text()


def through(views, topo, addr):
    """Both views send the published names to the reverse proxy at addr."""
    for v in views:
        v.table[topo.webext] = addr
        v.table[topo.lyncdiscover] = addr


def test_certificate_missing_a_san_is_named(deployment, broken_proxies, views, state, topo,
                                            check_logs):
    through(views, topo, "127.0.0.13")
    # its certificate is also valid for 30 days only: found once (one certificate) with --days 60
    r = run_check(deployment["fe"], broken_proxies["nosan"], views, state, "--days", "60")
    assert r["rc"] == 1
    assert [s for c, s in r["problems"] if c == "cert.expiry"] == [
        f"{topo.lyncdiscover} at 127.0.0.13:{topo.rp_https}"]
    subjects = {s for c, s in r["problems"] if c == "cert.san-missing"}
    assert subjects == {f"{topo.lyncdiscover} at 127.0.0.13:{topo.rp_https}"}, r["problems"]
    f = next(f for f in r["findings"] if f["check"] == "cert.san-missing")
    assert f"DNS:{topo.lyncdiscover}" in f["fix"]
    # the client's first hop fails on it, and says so
    assert any(c == "path.external-discovery" for c, _ in r["problems"])


def test_proxy_timeout_too_short_is_named(deployment, broken_proxies, views, state, topo,
                                          check_logs):
    through(views, topo, "127.0.0.14")
    r = run_check(deployment["fe"], broken_proxies["timeout"], views, state)
    assert r["rc"] == 1
    assert {c for c, _ in r["problems"]} == {"proxy.timeout", "xff.not-the-proxy"}
    assert {s for c, s in r["problems"] if c == "proxy.timeout"} == {topo.lyncdiscover,
                                                                      topo.webext}
    f = next(f for f in r["findings"] if f["check"] == "proxy.timeout")
    assert "120 s" in f["what"] and "1800 s" in f["what"] and "ProxyTimeout 1900" in f["fix"]


BALANCER = """SSLProxyEngine on
SSLProxyCACertificateFile "${MOBILITY_STATE}/pki/ca.crt"
ProxyTimeout 1900
<Proxy "balancer://pool01-external">
    BalancerMember "https://${FE_ADDR}:${FE_EXT_HTTPS_PORT}"
    BalancerMember "https://${FE2_ADDR}:${FE_EXT_HTTPS_PORT}"
</Proxy>
<VirtualHost ${HLB_ADDR}:${RP_HTTPS_PORT}>
    ServerName ${WEBEXT_FQDN}
    ServerAlias lyncdiscover.${SIP_DOMAIN}
    SSLEngine on
    SSLCertificateFile "${MOBILITY_STATE}/pki/server.crt"
    SSLCertificateKeyFile "${MOBILITY_STATE}/pki/server.key"
    ProxyPreserveHost On
    ProxyPass "/" "balancer://pool01-external/"
</VirtualHost>
"""


def test_two_front_ends_without_affinity_are_named(deployment, workdir, views, state, topo,
                                                   check_logs):
    """A second Front End of pool01 (127.0.0.15, its own X-MS-Server-Fqdn) and a balancer
    (127.0.0.16) sending requests to both in turn, without stickysession."""
    topo2 = mobility.Topology(offset=topo.offset, fe_addr="127.0.0.15")
    fe2 = mobility.front_end(workdir / "fe2", state, topo2,
                             extra="AutodiscoverServerFqdn fe2.contoso.test")
    defines = dict(topo.defines(state), FE2_ADDR="127.0.0.15", HLB_ADDR="127.0.0.16")
    hlb = mobility.Apache(workdir / "hlb", "hlb.contoso.test",
                          mobility.RP_MODULES + ["proxy_balancer", "slotmem_shm",
                                                 "lbmethod_byrequests"],
                          [("127.0.0.16", topo.rp_https, "https")], BALANCER, defines)
    fe2.start()
    try:
        hlb.start()
        try:
            through(views, topo, "127.0.0.16")
            r = run_check(deployment["fe"], hlb, views, state)
        finally:
            hlb.stop()
    finally:
        fe2.stop()
    for a in (fe2, hlb):
        from conftest import ALLOWED_LOG, unexpected_log_lines
        assert not unexpected_log_lines(a.log_text(), ALLOWED_LOG), a.log_text()
    assert r["rc"] == 1
    affinity = {s for c, s in r["problems"] if c == "lb.no-affinity"}
    # found twice: in the balancer's configuration, and by four requests from one address
    assert affinity == {"balancer://pool01-external",
                        f"https://{topo.webext}:{topo.rp_https}/"}, r["problems"]
    f = next(f for f in r["findings"] if f["subject"].startswith("https://"))
    assert "pool01.contoso.test" in f["what"] and "fe2.contoso.test" in f["what"]


def test_synthetic_transaction_times_each_step(deployment, views, state, check_logs):
    r = run_check(deployment["fe"], deployment["rp"], views, state,
                  "--synthetic", "bob@contoso.test")
    assert r["rc"] == 0, [f["what"] for f in r["findings"]]
    steps = r["steps"]["Synthetic transaction: alice@contoso.test and bob@contoso.test"]
    assert all(s["ok"] and s["seconds"] >= 0 for s in steps), steps
    names = [s["name"] for s in steps]
    for step in ("alice@contoso.test: token", "bob@contoso.test: create application",
                 "alice@contoso.test: presence of bob@contoso.test",
                 "bob@contoso.test: presence of alice@contoso.test",
                 "bob@contoso.test: message arrives", "alice@contoso.test: sign out",
                 "bob@contoso.test: sign out"):
        assert step in names
    assert "synthetic.transaction" in {p["check"] for p in r["passed"]}


def test_synthetic_transaction_failing_step_names_the_hop(deployment, views, state, topo,
                                                         check_logs):
    # carol is homed on pool02: her user resource is a redirect, not an applications link
    r = run_check(deployment["fe"], deployment["rp"], views, state,
                  "--synthetic", "carol@contoso.test")
    assert r["rc"] == 1
    (f,) = [f for f in r["findings"] if f["check"] == "synthetic.failed"]
    assert f["subject"].startswith(f"https://{topo.webext}:{topo.rp_https}/Autodiscover/")
    assert f["what"].startswith("carol@contoso.test: user resource: no applications link")
    steps = r["steps"]["Synthetic transaction: alice@contoso.test and carol@contoso.test"]
    assert [s["name"] for s in steps if not s["ok"]] == ["carol@contoso.test: user resource"]
    # alice, signed in before the failure, is signed out
    assert "alice@contoso.test: sign out" in [s["name"] for s in steps if s["ok"]]


def test_policy_of_a_user_and_its_scope(workdir, state, topo):
    """The tag granted in the directory the configuration points at, else global; a
    granted tag no <UcwaMobilityPolicy> defines is a problem. The configuration is read,
    not run: a Front End config over a copy of the state whose directory grants tags."""
    from ucwa_client import state_with_tags
    st = state_with_tags(workdir, state, "state-check-tags",
                         {"bob@contoso.test": "WiFiOnly", "dave@contoso.test": "Contractors"})
    fe = mobility.front_end(workdir / "fe-check-tags", st, topo)
    fe.write_config()

    def policy(user):
        p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(fe.conf), "--json",
                            "--inside", "hosts:/dev/null", "--pool", "pool01.contoso.test",
                            "--policy-user", user], capture_output=True, text=True, timeout=60)
        r = json.loads(p.stdout)
        return r["policy"], [f for f in r["findings"] if f["check"].startswith("policy.")]
    pol, problems = policy("bob@contoso.test")
    assert (pol["policy"], pol["scope"], problems) == ("WiFiOnly", "tag", [])
    assert pol["parameters"]["RequireWiFiForIPAudio"] == "On"
    pol, problems = policy("alice@contoso.test")
    assert (pol["policy"], pol["scope"], problems) == ("global", "global", [])
    pol, problems = policy("dave@contoso.test")
    assert pol["policy"] == "global"
    assert [f["check"] for f in problems] == ["policy.tag-undefined"]
    assert "Contractors" in problems[0]["what"]
    pol, problems = policy("nobody@contoso.test")
    assert pol is None and [f["check"] for f in problems] == ["policy.unknown-user"]
