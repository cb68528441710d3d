"""A real third-party client, pidgin-sipe (Debian's package, headless through finch),
discovers alice@contoso.test's SIP server through our Autodiscover.

sipe's first hop cannot be moved: http:// and https://lyncdiscoverinternal.contoso.test/
on ports 80 and 443. So this test runs its own Front End (the demo topology with offset 0)
on 127.0.0.3, with the reverse-proxy names on 127.0.0.4, away from the demo and the main
test deployment (127.0.0.1 and 127.0.0.2).

- Name resolution: finch resolves through glibc, which reads /etc/hosts. finch runs in a
  private mount namespace with a generated hosts file bind-mounted over /etc/hosts; where
  the sandbox does not allow that, the lines go into /etc/hosts for the duration of the
  test and the file is restored byte for byte afterwards (test/clients/sipe/finch_sipe.py).
- TLS: the internal base URL stays https://pool01.contoso.test (as in the demo). libpurple
  trusts a peer without asking when its certificate equals the PEM file
  <confdir>/certificates/x509/tls_peers/<hostname>, so the demo server certificate is
  seeded there for every host sipe may contact.
- libxml2: bookworm's libxml2 gives sipe's SAX1-style handler no element events (every
  XML document parses empty); test/clients/sipe/saxfix.c, built here and LD_PRELOADed,
  fixes that.

The flow it checks: GET /?sipuri=alice@contoso.test (XML Root) -> the User link on
pool01 -> 401 offering Basic (AutodiscoverBasicAuth On) -> GET with Basic credentials ->
200 User document -> sipe connects SIP/TLS to SipClientInternalAccess, pool01:5061.
A listener on 127.0.0.3:5061 confirms sipe really connected there: it reads sipe's TLS
ClientHello (server name pool01.contoso.test) and keeps the connection open until finch
stops, because sipe drops a server whose connection fails and falls back to DNS.
"""
import re
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "sipe"))
import finch_sipe  # noqa: E402
import mobility  # noqa: E402

ACCOUNT = "alice@contoso.test"
FE_ADDR = "127.0.0.3"
RP_ADDR = "127.0.0.4"
SIP_PORT = 5061
USER_PATH = "/Autodiscover/AutodiscoverService.svc/root/user"
# Error-log lines at warn or worse that are expected while sipe talks to the Front End.
ALLOWED_LOG = [re.compile(r"AH00558|AH01909|AH01873|AH0049[0-4]|AH00094|AH00169|AH0017[01]")]


def _port_free(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture(scope="module")
def sipe_topo():
    return mobility.Topology(offset=0, fe_addr=FE_ADDR, rp_addr=RP_ADDR)


@pytest.fixture(scope="module")
def sipe_fe(workdir, sipe_topo):
    """pool01's Front End on 127.0.0.3:80/443 (plus 8080/4443), for this module only. Its
    state and root live in conftest's workdir (the Apache children run as nobody)."""
    t = sipe_topo
    busy = [f"{FE_ADDR}:{p}" for p in (t.fe_http, t.fe_https, t.fe_ext_http, t.fe_ext_https,
                                       SIP_PORT) if not _port_free(FE_ADDR, p)]
    assert not busy, f"ports needed by the pidgin-sipe test are in use: {', '.join(busy)}"
    state = mobility.make_state(workdir / "sipe-state", t)
    fe = mobility.front_end(workdir / "sipe-fe", state, t)
    fe.start()
    try:
        yield fe, state
    finally:
        fe.stop()


@pytest.fixture
def finch(tmp_path, sipe_fe, sipe_topo):
    missing = finch_sipe.missing_prerequisites()
    assert not missing, ("pidgin-sipe test prerequisites missing (./apxs-build.sh test "
                         f"installs them): {', '.join(missing)}")
    _, state = sipe_fe
    t = sipe_topo
    hosts = t.hosts()
    client = finch_sipe.Finch(
        tmp_path / "finch", ACCOUNT, mobility.DEMO_PASSWORD, hosts,
        server_cert=state / "pki" / "server.crt",
        tls_hosts=[t.lyncdiscoverinternal, t.pool, t.lyncdiscover, t.webext])
    try:
        client.prepare()
        yield client
    finally:
        client.stop()


def test_pidgin_sipe_discovers_sip_server(sipe_fe, sipe_topo, finch):
    fe, _ = sipe_fe
    t = sipe_topo
    access_log = fe.root / "logs" / "access.log"
    log_mark = len(fe.log_text())
    access_mark = access_log.stat().st_size if access_log.exists() else 0

    # Stands in for pool01's SIP listener: sipe's TLS connection lands here and stays open
    # (closing it would make sipe drop the server Autodiscover named, see SipListener).
    sip = None

    def done(text):
        sip.poll()
        if finch_sipe.NO_SERVERS in text:
            return True
        return sip.first_hello() is not None and finch_sipe.discovered_server(text) is not None

    started = time.time()
    try:
        sip = finch_sipe.SipListener(FE_ADDR, SIP_PORT)
        finch.start()
        text = finch.wait_for(done, timeout=20)
    finally:
        finch.stop()
        if sip is not None:
            sip.close()
    elapsed = time.time() - started
    hello = sip.first_hello()
    print(f"pidgin-sipe: name resolution via {finch.mode}, finch ran {elapsed:.1f} s, "
          f"SIP ClientHello: {hello and (hello['sni'] or hello['error'])}")

    user_re = re.escape(USER_PATH) + r"(\?\S*)?"
    ok_200 = re.compile(rf'^\S+ \S+ {re.escape(ACCOUNT)} \[[^\]]+\] "GET {user_re} HTTP/1\.1" 200 ',
                        re.M)

    def read_access():
        return (access_log.read_bytes()[access_mark:].decode(errors="replace")
                if access_log.exists() else "")

    access = read_access()
    deadline = time.time() + 2  # Apache logs a request after answering it
    while not ok_200.search(access) and time.time() < deadline:
        time.sleep(0.05)
        access = read_access()
    errors = fe.log_text()[log_mark:]

    def context():
        return (f"\n--- name resolution: {finch.mode}; waited {elapsed:.1f} s"
                f"\n--- finch log (sipe lines) ---\n{finch_sipe.excerpt(text)}"
                f"\n--- FE access log (this test) ---\n{access}"
                f"\n--- FE error log (this test) ---\n{errors[-6000:]}")

    # sipe started where it must, and reached our Root and User resources.
    tried = finch_sipe.TRYING.findall(text)
    assert tried and tried[0].lower() == (
        f"http://lyncdiscoverinternal.{t.sip_domain}/?sipuri={ACCOUNT}"), \
        "sipe did not start Lync Autodiscover" + context()
    users = finch_sipe.USER_LINK.findall(text)
    assert users and all(u.startswith(f"{t.internal_base}{USER_PATH}") for u in users), \
        "sipe did not follow our Root document's User link to pool01" + context()

    # The User resource challenged with Basic and sipe answered with alice's credentials.
    creds = finch_sipe.basic_credentials(ACCOUNT, mobility.DEMO_PASSWORD)
    assert re.search(r"WWW-Authenticate: Basic realm=", text), \
        "the User resource's 401 did not offer Basic" + context()
    assert f"Authorization: Basic {creds}" in text, \
        "sipe did not send Basic credentials for alice" + context()
    assert re.search(rf'^\S+ \S+ - \[[^\]]+\] "GET {user_re} HTTP/1\.1" 401 ', access, re.M), \
        "no unauthenticated 401 for .../root/user in the access log" + context()
    assert ok_200.search(access), \
        "no Basic-authenticated 200 for .../root/user in the access log" + context()

    # Autodiscover succeeded and named pool01's SipClientInternalAccess.
    assert finch_sipe.GOT_SERVERS in text and finch_sipe.NO_SERVERS not in text, \
        "Autodiscover gave sipe no SIP server" + context()
    assert finch_sipe.discovered_server(text) == (t.pool, SIP_PORT), \
        "sipe connected to the wrong SIP server" + context()
    assert hello, f"sipe never sent a TLS ClientHello to {FE_ADDR}:{SIP_PORT}" + context()
    assert hello["error"] is None and hello["sni"] == t.pool, \
        (f"the connection to {FE_ADDR}:{SIP_PORT} was not TLS for {t.pool}: "
         f"SNI {hello['sni']!r}, {hello['error'] or 'no error'}") + context()

    bad = [line for line in errors.splitlines()
           if re.search(r":(warn|error|crit|alert|emerg)\]", line)
           and not any(p.search(line) for p in ALLOWED_LOG)]
    assert not bad, "unexpected lines in the FE error log:\n" + "\n".join(bad) + context()
