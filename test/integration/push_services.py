"""The push services the push tests talk to, all on loopback, as pytest fixtures:

  - web-push-testing (npm, a WebPush push service that decrypts what it receives),
  - test/mocks/apns_mock.js (APNs provider API: HTTP/2 over TLS, ES256 provider tokens),
  - test/mocks/fcm_mock.js (FCM HTTP v1 and Google's OAuth token endpoint, over TLS),

with the keys and certificates they need. Used by test_push_providers.py (common/push/push_*
through test/tools/push_probe) and test_ucwa_push.py (the module end to end).

Environment:
  PUSH_NPM_PREFIX   where web-push-testing is installed with `npm ci` (test/npm's lockfile)
                    (default /var/cache/mobility-push-npm, or <build>/npm when that is not
                    writable); installed again only when the lockfile changes.

web-push-testing is started as `node .../src/bin/server.js <port>` (what its `start`
command spawns) rather than through `web-push-testing start`: that command detaches the
server and keeps its pid in a .node-persist directory of the current directory, so a
failed test run would leave a server behind. Note that it listens on every interface
(it calls listen(port) without an address); only loopback traffic is sent to it.

Node.js 18 or later is required: Debian 12's nodejs (18) runs web-push-testing 1.2.2,
whose package.json asks for 20 but whose code uses nothing newer than 18 (webcrypto
through require('crypto'), express 4); npm warns EBADENGINE and installs it. The fixtures
fail, rather than skip, without node. ./apxs-build.sh test installs Debian's nodejs and
npm when the machine has no node."""
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MOCKS = REPO / "test" / "mocks"
NPM_DIR = REPO / "test" / "npm"   # package.json and lockfile of the npm test services
NODE = shutil.which("node")
NPM = shutil.which("npm")
WPT_PACKAGE = "web-push-testing"
WPT_VERSION = "1.2.2"

APNS_KEY_ID = "KID4PUSH01"
APNS_TEAM_ID = "TEAM4PUSH1"
APNS_TOPIC = "com.contoso.mobility"
FCM_PROJECT = "contoso-mobility"
FCM_EMAIL = "push@contoso-mobility.iam.gserviceaccount.com"


def need_node():
    assert NODE, "node (Node.js >= 18) is needed for the push tests"
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout
    assert int(out.strip().lstrip("v").split(".")[0]) >= 18, f"Node.js {out.strip()} < 18"


@pytest.fixture(scope="session")
def build_dir():
    return Path(os.environ.get("PUSH_BUILD", REPO / "build"))


# ---- processes and plumbing -------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A child process that says on stdout when it listens; stderr goes to a log file
    (a pipe nobody reads would fill up and stall it)."""

    def __init__(self, args, log: Path, ready_prefix: str, cwd=None, timeout=20):
        self.log = log
        self.errf = open(log, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.errf, cwd=cwd)
        self.port = None
        said = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline().decode(errors="replace").strip()
                if line.startswith(ready_prefix):
                    self.port = int(line.split()[-1])
                    return
                if not line and self.proc.poll() is not None:
                    break
                said.append(line)
            elif self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{args[1]} did not start: {' | '.join(said)[-2000:]} "
                           f"{log.read_text(errors='replace')[-2000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.errf.close()


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def http_json(url, method="GET", body=None, ctx=None, headers=None, raw=False):
    """(status, parsed JSON or text) of one HTTP/1.1 request."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    if raw:
        return status, text
    return status, (json.loads(text) if text else None)


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """A TLS certificate for 127.0.0.1/localhost (self-signed: it is also the CA file
    given to push_probe), the APNs .p8 key (P-256, PKCS#8) with its public half, a second
    .p8 that APNs does not know, and two RSA service-account keys."""
    d = tmp_path_factory.mktemp("push-keys")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt"), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "2")
    for name in ("apns", "apns-other"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(d / f"{name}.p8"))
        openssl("pkey", "-in", str(d / f"{name}.p8"), "-pubout", "-out", str(d / f"{name}.pub"))
    for name in ("sa", "sa-other"):
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", str(d / f"{name}.pem"))
        openssl("pkey", "-in", str(d / f"{name}.pem"), "-pubout", "-out", str(d / f"{name}.pub"))
    ctx = ssl.create_default_context(cafile=str(d / "tls.crt"))
    return {"dir": d, "cert": d / "tls.crt", "key": d / "tls.key", "ctx": ctx}


def npm_prefix(build_dir):
    want = os.environ.get("PUSH_NPM_PREFIX")
    if want:
        return Path(want)
    cache = Path("/var/cache/mobility-push-npm")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        if os.access(cache, os.W_OK):
            return cache
    except OSError:
        pass
    return build_dir / "npm"


@pytest.fixture(scope="session")
def web_push_testing(build_dir):
    """The pinned web-push-testing, installed once into the npm prefix with `npm ci` from
    test/npm's lockfile, so every machine runs the same dependency tree."""
    need_node()
    prefix = npm_prefix(build_dir)
    pkg = prefix / "node_modules" / WPT_PACKAGE
    manifest = pkg / "package.json"
    want = (NPM_DIR / "package-lock.json").read_bytes()
    have = prefix / "package-lock.json"
    if not manifest.exists() or not have.exists() or have.read_bytes() != want:
        assert NPM, "npm is needed to install web-push-testing"
        prefix.mkdir(parents=True, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copyfile(NPM_DIR / f, prefix / f)
        r = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=prefix,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"npm ci ({WPT_PACKAGE}@{WPT_VERSION}) failed:\n{r.stderr}"
    assert json.loads(manifest.read_text())["version"] == WPT_VERSION
    return pkg


@pytest.fixture(scope="module")
def wpt(web_push_testing, tmp_path_factory):
    d = tmp_path_factory.mktemp("wpt")
    # it takes a port number, not 0, and binds every interface: a port free on 127.0.0.1
    # may still be taken elsewhere, so a few tries
    for attempt in range(5):
        port = free_port()
        try:
            server = Server([NODE, str(web_push_testing / "src" / "bin" / "server.js"),
                             str(port)], d / f"server-{attempt}.log", "Server running on port",
                            cwd=d)
            break
        except RuntimeError:
            if attempt == 4:
                raise
    assert server.port == port
    yield f"http://127.0.0.1:{port}"
    server.stop()


def subscribe(wpt, application_server_key):
    # web-push-testing wants the string 'true': a JSON boolean is refused with 400
    status, body = http_json(wpt + "/subscribe", "POST",
                             {"userVisibleOnly": "true",
                              "applicationServerKey": application_server_key})
    assert status == 200, body
    sub = body["data"]
    assert sub["endpoint"].startswith("http://localhost:")
    return sub


def notifications(wpt, client_hash):
    status, body = http_json(wpt + "/get-notifications", "POST", {"clientHash": client_hash})
    assert status == 200, body
    return [json.loads(m) for m in body["data"]["messages"]]


@pytest.fixture(scope="module")
def apns(keys, tmp_path_factory):
    need_node()
    d = tmp_path_factory.mktemp("apns")
    server = Server([NODE, str(MOCKS / "apns_mock.js"), "--port", "0", "--cert", str(keys["cert"]),
                     "--key", str(keys["key"]), "--jwt-key", str(keys["dir"] / "apns.pub"),
                     "--key-id", APNS_KEY_ID, "--team-id", APNS_TEAM_ID],
                    d / "apns.log", "listening")
    yield {"port": server.port, "base": f"https://127.0.0.1:{server.port}", "ctx": keys["ctx"]}
    server.stop()


def reset_mock(svc):
    """A mock (apns, fcm) reset before the test, with control(method, path, body) to drive
    it; control asserts its answer is 200."""
    def control(method, path, body=None):
        status, out = http_json(svc["base"] + path, method, body, ctx=svc["ctx"])
        assert status == 200, out
        return out
    control("POST", "/mock/reset", {})
    svc["control"] = control
    return svc


@pytest.fixture
def apns_mock(apns):
    """The mock, reset before the test: no pushes, no failures, no current provider token,
    its clock back to now."""
    return reset_mock(apns)


@pytest.fixture(scope="module")
def fcm(keys, tmp_path_factory):
    need_node()
    d = tmp_path_factory.mktemp("fcm")
    server = Server([NODE, str(MOCKS / "fcm_mock.js"), "--port", "0", "--cert", str(keys["cert"]),
                     "--key", str(keys["key"]), "--public-key", str(keys["dir"] / "sa.pub"),
                     "--client-email", FCM_EMAIL, "--project", FCM_PROJECT],
                    d / "fcm.log", "listening")
    base = f"https://127.0.0.1:{server.port}"
    accounts = {}
    for name in ("sa", "sa-other"):
        path = d / f"{name}.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": FCM_PROJECT, "private_key_id": "0123abcd",
            "private_key": (keys["dir"] / f"{name}.pem").read_text(),
            "client_email": FCM_EMAIL, "client_id": "1234567890",
            "token_uri": f"{base}/token"}))
        accounts[name] = path
    yield {"base": base, "ctx": keys["ctx"], "accounts": accounts}
    server.stop()


@pytest.fixture
def fcm_mock(fcm):
    """The mock, reset before the test: no pushes, no failures, no tokens issued."""
    return reset_mock(fcm)
