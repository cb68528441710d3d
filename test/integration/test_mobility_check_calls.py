"""mobility-check's checks for calls (issue 12), the pool (issue 11) and the SIP side
(issue 13), against one private deployment: a Front End with a TURN server (a private
coturn), ucwa-sipd on its two ports over UDP and TLS, Kamailio and rtpengine beside it, a
reverse proxy for the client path (which GETs mediaRelayAccessToken as alice), a private
PostgreSQL, an HAProxy configuration naming the Front End, a linked pool and a Kamailio
dispatcher list. The configuration the check reads is the running Front End's with the
pool's lines added (apache2 -t reads it; the pool's Front End need not run).

Healthy, every check passes. Broken in the configuration (a TURN secret coturn does not
share, world-readable; the relay's name missing from the public zone; ucwa-sipd's
external port closed; a load balancer member down and its timeouts short; a linked pool
whose certificate does not name it; gateways that do not answer), then with the daemons
stopped (coturn, rtpengine, PostgreSQL) and ucwa-sipd serving a certificate without the
pool's name: each break is found and named."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

import conftest
import kamailio
import mobility
import pool as poollib
import rtpengine
import turn
from ucwa_client import start_fe, stop_fe

CHECK = mobility.REPO / "tools" / "mobility-check" / "mobility-check"
ALLOWED = list(conftest.ALLOWED_LOG) + [
    __import__("re").compile(r"UCWA00655"),   # rtpengine stopped (the last test)
    # one child (servers=1) has all MaxRequestWorkers' threads: a request in flight at the
    # MPM's once-a-second look (or the old child finishing after the graceful restart of
    # the last test) logs AH10159, as in test_ucwa_parking
    __import__("re").compile(r"AH10159"),
]
TURN_NAME = "turn.contoso.test"


@pytest.fixture(scope="module")
def sip_offset():
    return kamailio.free_sip_offset((5060, 2223, 5088, 5089, 5090, 5091), start=21000, step=250)


@pytest.fixture(scope="module")
def daemons(workdir, state, sip_offset):
    o = sip_offset
    rtp_lo = 30000 + o if 30000 + o + 199 <= 65535 else 30000 + o - 35000
    d = {"coturn": turn.Coturn(workdir / "mc-coturn").start(),
         "rtp": rtpengine.Rtpengine(workdir / "mc-rtpengine", ng_port=2223 + o,
                                    rtp_ports=(rtp_lo, rtp_lo + 199)).start(),
         "pg": poollib.Postgres(workdir / "mc-pg").start()}
    d["kam"] = kamailio.Kamailio(workdir / "mc-kamailio", port=5060 + o,
                                 ucwa_uri=f"sip:127.0.0.1:{5089 + o}",
                                 rtpengine=d["rtp"].ng_socket,
                                 gateways={1: ["sip:127.0.0.71:5070"]}).start()
    yield d
    for k in ("kam", "rtp", "coturn"):
        d[k].stop()
    d["pg"].stop()


def make_cert(pki, out, *names):
    """A certificate for names from the demo CA, key and certificate in out (.crt, .key)."""
    key, csr, crt = out.with_suffix(".key"), out.with_suffix(".csr"), out.with_suffix(".crt")
    ext = out.with_suffix(".ext")
    ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
    mobility.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-subj", f"/CN={names[0]}", "-keyout", key, "-out", csr])
    mobility.run(["openssl", "x509", "-req", "-in", csr, "-CA", pki / "ca.crt", "-CAkey",
                  pki / "ca.key", "-CAcreateserial", "-days", "400", "-extfile", ext,
                  "-out", crt])
    key.chmod(0o600)
    return crt, key


@pytest.fixture(scope="module")
def dep(workdir, state, daemons, sip_offset):
    o = sip_offset
    root = workdir / "mc-calls-files"
    root.mkdir(exist_ok=True)
    sip_crt, sip_key = root / "sip.crt", root / "sip.key"
    shutil.copy(state / "pki" / "server.crt", sip_crt)
    shutil.copy(state / "pki" / "server.key", sip_key)
    sip_key.chmod(0o600)
    c = daemons["coturn"]
    extra = "\n".join([
        f"UcwaTurnServer {TURN_NAME} {c.port}", f"UcwaTurnSecretFile {c.secret_file()}",
        "UcwaSip On", "UcwaSipListenAddress 127.0.0.1",
        f"UcwaSipExternalListeningPort {5088 + o}", f"UcwaSipPrimaryListeningPort {5089 + o}",
        f"UcwaSipProxy 127.0.0.1:{5060 + o}", f"UcwaRtpengine 127.0.0.1:{2223 + o}",
        f"UcwaSipCertificateFile {sip_crt} {sip_key}"])
    fe = start_fe(workdir, state, "mc-calls-fe", servers=1, extra=extra)
    rp = mobility.reverse_proxy(workdir / "mc-calls-rp", state, fe.topo)
    rp.start()
    t = fe.topo
    (root / "link.key").write_bytes(os.urandom(32))
    (root / "link.key").chmod(0o600)
    yield {"fe": fe, "rp": rp, "root": root, "sip_crt": sip_crt, "sip_key": sip_key,
           "pool_lines": [
               "DBDriver pgsql", f'DBDParams "{daemons["pg"].dsn}"',
               "UcwaPoolFrontEnd fe1.contoso.test",
               f"UcwaPoolLinkKeyFile {root / 'link.key'}",
               f"UcwaPoolLinkCAFile {state / 'pki' / 'ca.crt'}",
               f"UcwaPoolLink {t.pool2} https://{t.pool2}:{t.fe_https} 127.0.0.1"]}
    rp.stop()
    stop_fe(fe, ALLOWED)


def write_files(dep, daemons, sip_offset, broken=False):
    """The configuration the check reads (the running Front End's, the pool's lines added,
    broken or not), the hosts tables, the HAProxy configuration and the dispatcher list."""
    fe, root, o = dep["fe"], dep["root"], sip_offset
    t = fe.topo
    conf = fe.apache.conf.read_text()
    lines = list(dep["pool_lines"])
    closed = 5090 + o          # nothing listens there (free_sip_offset)
    if broken:
        other = root / "other.secret"
        other.write_text("not-coturns-secret\n")
        other.chmod(0o644)
        conf = conf.replace(f"UcwaTurnSecretFile {daemons['coturn'].secret_file()}",
                            f"UcwaTurnSecretFile {other}")
        conf = conf.replace(f"UcwaSipExternalListeningPort {5088 + o}",
                            f"UcwaSipExternalListeningPort {closed}")
        lines.append(f"UcwaPoolLink pool03.contoso.test https://pool03.contoso.test:"
                     f"{t.fe_https} 127.0.0.1")
    path = root / ("broken.conf" if broken else "fe.conf")
    path.write_text(conf + "\n".join(lines) + "\n")
    inside = dict(t.hosts(), **{TURN_NAME: "127.0.0.1"})
    outside = dict(t.hosts_outside(), **({} if broken else {TURN_NAME: "127.0.0.1"}))
    for name, table in (("inside", inside), ("outside", outside)):
        (root / f"hosts.{name}").write_text("".join(f"{a} {n}\n" for n, a in table.items()))
    servers = [f"    server fe1 127.0.0.1:{t.fe_https} check"]
    if broken:
        servers.append(f"    server fe2 127.0.0.1:{closed} check")
        servers.append('    server fe3 "${MC_UNSET_FE3_ADDR}:443" check')
    timeout = "60s" if broken else "1900s"
    (root / "haproxy.cfg").write_text("\n".join([
        "defaults", "    mode tcp", "    timeout connect 5s",
        f"    timeout client {timeout}", f"    timeout server {timeout}",
        "frontend pool-internal", f"    bind 127.0.0.10:{t.fe_https}",
        "    default_backend fes", "backend fes", "    balance source", *servers]) + "\n")
    gws = [f"1 sip:127.0.0.1:{5060 + o} 0 10", f"1 sip:127.0.0.1:{5089 + o} 0 5"]
    if broken:
        gws += [f"1 sip:127.0.0.1:{closed} 0 1", f"2 sip:127.0.0.1:{closed + 1} 0 10"]
    (root / "dispatcher.list").write_text("# setid destination flags priority\n"
                                          + "\n".join(gws) + "\n")
    return path


def run_check(dep, conf, *extra, env=None):
    root = dep["root"]
    env = dict(os.environ, MOBILITY_CHECK_PASSWORD=mobility.DEMO_PASSWORD, **(env or {}))
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(conf),
                        "--proxy-config", str(dep["rp"].conf),
                        "--inside", f"hosts:{root / 'hosts.inside'}",
                        "--outside", f"hosts:{root / 'hosts.outside'}",
                        "--ca", str(dep["fe"].ca), "--user", "alice@contoso.test",
                        "--pool", dep["fe"].topo.pool,
                        "--hlb-config", str(root / "haproxy.cfg"),
                        "--sip-dispatcher", str(root / "dispatcher.list"), "--json", *extra],
                       capture_output=True, text=True, env=env, timeout=180)
    assert p.returncode in (0, 1), p.stderr
    r = json.loads(p.stdout)
    r["rc"] = p.returncode
    r["by"] = {}
    for f in r["findings"]:
        r["by"].setdefault(f["check"], []).append(f)
    r["ok"] = {(x["check"], x["subject"]) for x in r["passed"]}
    return r


MINE = ("calls.", "pool.", "sip.", "path.")


def test_healthy_deployment_passes_every_new_check(dep, daemons, sip_offset):
    o, c = sip_offset, daemons["coturn"]
    r = run_check(dep, write_files(dep, daemons, sip_offset))
    mine = [f for f in r["findings"] if f["check"].startswith(MINE)]
    # the default UcwaEventSize is advice (offers go link-only), nothing else is said
    assert [f["check"] for f in mine] == ["calls.event-size"], mine
    assert mine[0]["severity"] == "notice" and "16384" in mine[0]["fix"]
    assert r["rc"] == 0, [f for f in r["findings"] if f["severity"] == "problem"]
    ok = r["ok"]
    # the TURN server allocates with credentials minted from the secret, UDP and TCP
    assert {("calls.turn-allocate", f"UDP {TURN_NAME}:{c.port}"),
            ("calls.turn-allocate", f"TCP {TURN_NAME}:{c.port}"),
            ("calls.turn-dns-outside", TURN_NAME)} <= ok
    assert ("calls.turn-secret-file", str(c.secret_file())) in ok
    # the client path read mediaRelayAccessToken, its relay as configured
    steps = {s["name"]: s for s in next(iter(r["steps"].values()))}
    relay = steps["UCWA: mediaRelayAccessToken"]
    assert relay["ok"] and relay["detail"] == f"{TURN_NAME}:{c.port}/{c.port}"
    # the pool: its database, the balancer's Front End and timeouts, the linked pool
    assert {"pool.database", "pool.front-end", "pool.hlb-timeout", "pool.link"} <= \
        {k for k, _ in ok}
    # the SIP side: both ports over UDP and TLS, the certificate, Kamailio, rtpengine, the
    # gateways
    for port in (5088 + o, 5089 + o):
        for proto in ("UDP", "TLS"):
            assert ("sip.port", f"{proto} 127.0.0.1:{port}") in ok
        assert ("sip.certificate-names", f"TLS 127.0.0.1:{port}") in ok
    assert {("sip.proxy", f"UDP 127.0.0.1:{5060 + o}"), ("sip.proxy", f"TCP 127.0.0.1:{5060 + o}"),
            ("sip.rtpengine", f"127.0.0.1:{2223 + o}")} <= ok
    assert len([1 for k, _ in ok if k == "sip.gateway"]) == 2


def test_configuration_breaks_are_named(dep, daemons, sip_offset):
    o, c, t = sip_offset, daemons["coturn"], dep["fe"].topo
    r = run_check(dep, write_files(dep, daemons, sip_offset, broken=True))
    by = r["by"]
    assert r["rc"] == 1
    # coturn refuses what the other secret mints, on both transports; the file is exposed
    refused = {f["subject"] for f in by["calls.turn-refused"]}
    assert refused == {f"UDP {TURN_NAME}:{c.port}", f"TCP {TURN_NAME}:{c.port}"}
    assert "static-auth-secret" in by["calls.turn-refused"][0]["fix"]
    (exposed,) = by["calls.turn-secret-exposed"]
    assert "0644" in exposed["what"] and "chmod 0600" in exposed["fix"]
    (dns,) = by["calls.turn-dns-outside"]
    assert dns["subject"] == TURN_NAME and dns["severity"] == "problem"
    # ucwa-sipd's external port as configured is closed: UDP and TLS
    closed = {f["subject"] for f in by["sip.port"]}
    assert closed == {f"UDP 127.0.0.1:{5090 + o}", f"TLS 127.0.0.1:{5090 + o}"}
    assert all("UcwaSipExternalListeningPort" in f["what"] for f in by["sip.port"])
    assert any("port unreachable" in f["what"] for f in by["sip.port"])
    # the balancer: a member down, its timeouts shorter than the longest event request
    (down,) = by["pool.front-end-down"]
    assert down["subject"] == f"127.0.0.1:{5090 + o}" and "server fe2" in down["what"]
    assert {f["subject"] for f in by["pool.hlb-timeout"]} == \
        {"frontend pool-internal: timeout client", "backend fes: timeout server"}
    assert "1900s" in by["pool.hlb-timeout"][0]["fix"]
    (unset,) = by["pool.hlb-config"]
    assert "${MC_UNSET_FE3_ADDR}:443" in unset["what"] and "environment" in unset["fix"]
    # the linked pool whose certificate does not name it (the one that does passes)
    (link,) = by["pool.link-certificate"]
    assert link["subject"].startswith("pool03.contoso.test") and "does not name" in link["what"]
    assert ("pool.link", f"{t.pool2} ({t.pool2}:{t.fe_https})") in r["ok"]
    # the gateways: one dead in a live set is a notice, a dead set is wrong
    gw = {f["subject"]: f["severity"] for f in by["sip.gateway"]}
    assert gw == {f"set 1 sip:127.0.0.1:{5090 + o}": "notice",
                  f"set 2 sip:127.0.0.1:{5091 + o}": "notice"}
    (dead,) = by["sip.gateway-set"]
    assert dead["subject"] == "set 2" and dead["severity"] == "problem"


def test_turn_clients(dep, daemons, sip_offset, workdir):
    """Without turnutils_uclient on the PATH the Allocate goes through python3-aioice;
    without either, a notice says so and the servers are only asked a STUN Binding."""
    c = daemons["coturn"]
    tools = workdir / "mc-path"
    stub = workdir / "mc-no-aioice"
    (stub / "aioice").mkdir(parents=True, exist_ok=True)
    (stub / "aioice" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    tools.mkdir(exist_ok=True)
    for tool in ("openssl", "pg_isready"):
        if not (tools / tool).exists():
            (tools / tool).symlink_to(shutil.which(tool))
    conf = write_files(dep, daemons, sip_offset)
    r = run_check(dep, conf, "-v", env={"PATH": str(tools)})
    got = {x["subject"]: x["what"] for x in r["passed"] if x["check"] == "calls.turn-allocate"}
    assert set(got) == {f"UDP {TURN_NAME}:{c.port}", f"TCP {TURN_NAME}:{c.port}"}, r["by"]
    assert all("python3-aioice" in w for w in got.values()), got
    assert "calls.turn-client-missing" not in r["by"]
    r = run_check(dep, conf, env={"PATH": str(tools), "PYTHONPATH": str(stub)})
    (f,) = r["by"]["calls.turn-client-missing"]
    assert f["severity"] == "notice" and "python3-aioice" in f["fix"]
    assert {("calls.turn-answers", f"UDP {TURN_NAME}:{c.port}"),
            ("calls.turn-answers", f"TCP {TURN_NAME}:{c.port}")} <= r["ok"]
    assert r["rc"] == 0


def served_der(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    c = ssl.create_default_context()
    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    with c.wrap_socket(s) as t:
        return t.getpeercert(binary_form=True)


def test_stopped_daemons_and_a_certificate_without_the_pool_name(dep, daemons,
                                                                sip_offset, state):
    """Last: stops coturn, rtpengine and PostgreSQL for good."""
    o, c = sip_offset, daemons["coturn"]
    before = served_der(5088 + o)
    crt, key = make_cert(state / "pki", dep["root"] / "fe-only", "fe01.contoso.test")
    shutil.copy(crt, dep["sip_crt"])
    shutil.copy(key, dep["sip_key"])
    dep["fe"].apache.graceful()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            if served_der(5088 + o) != before:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        pytest.fail("ucwa-sipd kept the old certificate after a graceful restart")
    c.stop()
    daemons["rtp"].stop()
    daemons["pg"].stop()
    r = run_check(dep, write_files(dep, daemons, sip_offset))
    by = r["by"]
    assert {f["subject"] for f in by["calls.turn-unreachable"]} == \
        {f"UDP {TURN_NAME}:{c.port}", f"TCP {TURN_NAME}:{c.port}"}
    (rtp,) = by["sip.rtpengine"]
    assert rtp["subject"] == f"127.0.0.1:{2223 + o}" and "NG ping" in rtp["what"]
    assert "port unreachable" in rtp["what"]
    (db,) = by["pool.database"]
    assert "PostgreSQL" in db["what"] and "DBDParams" in db["fix"]
    names = {f["subject"] for f in by["sip.certificate-names"]}
    assert names == {f"TLS 127.0.0.1:{5088 + o}", f"TLS 127.0.0.1:{5089 + o}"}
    assert "pool01.contoso.test" in by["sip.certificate-names"][0]["what"]
