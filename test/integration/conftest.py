"""Fixtures: the demo topology as private Apache instances (a Front End and a reverse
proxy) on a free port range, and HTTP clients that resolve the demo's host names the way
its hosts-file lines would."""
import os
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import mobility  # noqa: E402

# Log lines that are expected in some tests; anything else at warn or worse fails a test.
ALLOWED_LOG = [
    re.compile(r"AH00558"),                 # ServerName guess
    re.compile(r"AH01909"),                 # certificate does not include ServerName (RP)
    re.compile(r"AH00489|AH00490|AH00491|AH00492|AH00493|AH00494"),  # start/stop/restart notices
    re.compile(r"AH00094|AH00169|AH00171|AH00170"),
]


@pytest.fixture(scope="session")
def topo():
    return mobility.Topology(offset=mobility.free_offset())


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(scope="session", autouse=True)
def resolve_demo_names(topo):
    """*.contoso.test resolve as the demo's hosts-file lines say, inside this process."""
    hosts = topo.hosts()
    hosts[topo.pool2] = "127.0.0.9"

    def getaddrinfo(host, *args, **kw):
        if isinstance(host, str) and host.lower() in hosts:
            host = hosts[host.lower()]
        return _real_getaddrinfo(host, *args, **kw)

    socket.getaddrinfo = getaddrinfo
    yield
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(scope="session")
def workdir():
    """Instances' roots and state. Not under pytest's tmp_path: that is mode 0700, and the
    children run as nobody. KEEP_TEST_STATE=1 keeps it for a post-mortem."""
    root = Path(tempfile.mkdtemp(prefix="mobility-test-"))
    root.chmod(0o755)
    yield root
    if not os.environ.get("KEEP_TEST_STATE"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def state(workdir, topo):
    return mobility.make_state(workdir / "state", topo)


@pytest.fixture(scope="session")
def deployment(workdir, state, topo):
    """The Front End pool01 and the reverse proxy, running for the whole session."""
    fe = mobility.front_end(workdir / "fe", state, topo, servers=3)
    rp = mobility.reverse_proxy(workdir / "rp", state, topo)
    fe.start()
    rp.start()
    yield {"fe": fe, "rp": rp}
    rp.stop()
    fe.stop()


def unexpected_log_lines(text, allowed):
    return [line for line in text.splitlines()
            if re.search(r":(warn|error|crit|alert|emerg)\]", line)
            and not any(p.search(line) for p in allowed)]


@pytest.fixture
def allowed_log():
    """Patterns a test expects in error logs (it appends to the list)."""
    return list(ALLOWED_LOG)


@pytest.fixture
def check_logs(deployment, allowed_log):
    """Fails the test when the error logs got a warning or error it did not expect."""
    marks = {k: len(a.log_text()) for k, a in deployment.items()}
    yield allowed_log
    for k, a in deployment.items():
        bad = unexpected_log_lines(a.log_text()[marks[k]:], allowed_log)
        assert not bad, f"unexpected lines in the {k} error log:\n" + "\n".join(bad)


@pytest.fixture(scope="session")
def http(state):
    """A requests session trusting the demo CA."""
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment would win
    s.verify = str(state / "pki" / "ca.crt")
    return s


@pytest.fixture(scope="session")
def urls(topo):
    """The URLs a client starts from."""
    p = "/Autodiscover/AutodiscoverService.svc/root"
    return {
        "internal": f"https://{topo.lyncdiscoverinternal}:{topo.fe_https}",
        "internal_http": f"http://{topo.lyncdiscoverinternal}:{topo.fe_http}",
        "external": f"https://{topo.lyncdiscover}:{topo.rp_https}",
        "external_http": f"http://{topo.lyncdiscover}:{topo.rp_http}",
        "fe_external": f"https://{topo.webext}:{topo.fe_ext_https}",
        "root_path": p,
    }


@pytest.fixture(scope="session")
def token(http, urls):
    def get(user="alice@contoso.test", password=mobility.DEMO_PASSWORD, base=None):
        r = http.post((base or urls["internal"]) + "/WebTicket/oauthtoken",
                      data={"grant_type": "password", "username": user, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]
    return get


def _b64(b: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign_payload(key: bytes, text: str) -> str:
    """A token for any payload text, MACed with key as the server does."""
    import hashlib
    import hmac

    payload = _b64(text.encode())
    return f"cwt={payload}.{_b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def token_payload(user: str, issued: int, expires: int) -> str:
    """The payload the server writes (docs/extensions.md, section 1)."""
    return f"1\n{user}\n{issued}\n{expires}\n{_b64(os.urandom(12))}"


def forge_token(key: bytes, user: str, issued: int, expires: int) -> str:
    """A token in the server's format (docs/extensions.md), signed with key: lets tests
    present expired or foreign-key tokens the server must refuse."""
    return sign_payload(key, token_payload(user, issued, expires))


@pytest.fixture
def variant(workdir, state, allowed_log):
    """Starts extra Front End (or Director) instances with their own config on a free
    port range; stopped at the end of the test."""
    started = []

    def start(name, extra="", sites=("fe-internal.conf", "fe-external.conf"), local_pool=None,
              directory="directory-sqlite.conf", st=None, **kw):
        topo = mobility.Topology(offset=mobility.free_offset(start=30000))
        fe = mobility.front_end(workdir / name, st or state, topo, sites=sites,
                                local_pool=local_pool, extra=extra, directory=directory, **kw)
        fe.topo = topo
        fe.start()
        started.append(fe)
        return fe

    yield start
    for fe in started:
        fe.stop()
    for fe in started:
        bad = unexpected_log_lines(fe.log_text(), allowed_log)
        assert not bad, f"unexpected lines in the {fe.root.name} error log:\n" + "\n".join(bad)


@pytest.fixture
def users(fe):
    """Signs users in on the module's `fe` (a ucwa_client.Fe); deletes every application
    they created when the test ends."""
    made = []

    def user(name):
        u = fe.user(name)
        made.append(u)
        return u
    yield user
    for u in made:
        for a in u.created:
            a.delete()
