"""Name resolution as a named view (inside or outside), HTTP(S) to a resolved address
with the name a client would send (SNI and Host), and the certificate a server serves."""
import http.client
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field


class Resolver:
    """system: the machine's resolver; ADDR[:PORT]: a DNS server asked directly;
    hosts:FILE: a hosts-format table (one view of split-brain DNS, for the demo)."""

    def __init__(self, spec):
        self.spec = spec
        self.kind = "system"
        self.table = {}
        if spec in (None, "", "system"):
            return
        if spec.startswith("hosts:"):
            self.kind = "hosts"
            with open(spec[6:]) as f:
                for line in f:
                    parts = line.split("#", 1)[0].split()
                    for name in parts[1:]:
                        self.table.setdefault(name.lower(), []).append(parts[0])
            return
        self.kind = "dns"
        host, _, port = spec.rpartition(":") if spec.count(":") == 1 else (spec, "", "")
        if port and not port.isdigit():
            raise ValueError(f"resolver {spec}: not system, ADDR[:PORT] or hosts:FILE")
        self.server, self.port = (host, int(port)) if port else (spec, 53)
        import dns.resolver             # python3-dnspython
        self.r = dns.resolver.Resolver(configure=False)
        self.r.nameservers = [self.server]
        self.r.port = self.port
        self.r.lifetime = 3

    def __str__(self):
        return {"system": "the system resolver", "hosts": f"hosts file {self.spec[6:]}",
                "dns": f"DNS server {self.spec}"}[self.kind]

    def resolve(self, name):
        """A sorted list of addresses, [] when the name does not exist; raises
        OSError when the resolver does not answer."""
        name = name.lower().rstrip(".")
        if self.kind == "hosts":
            return sorted(set(self.table.get(name, [])))
        if self.kind == "system":
            try:
                infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
            except socket.gaierror as e:
                if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                    return []
                raise OSError(str(e))
            return sorted({i[4][0] for i in infos})
        import dns.exception
        import dns.resolver
        out = []
        for rtype in ("A", "AAAA"):
            try:
                out += [r.to_text() for r in self.r.resolve(name, rtype)]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                pass
            except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
                raise OSError(f"{self} did not answer for {name}: {e}")
        return sorted(set(out))


@dataclass
class Answer:
    status: int
    headers: dict               # lower-case name -> list of values
    body: bytes
    seconds: float
    addr: str
    error: str = None

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def text(self):
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Endpoint:
    """A client's view: a name resolved through a view, a port."""
    scheme: str
    host: str
    port: int
    addrs: list = field(default_factory=list)


def tls_context(ca):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    return ctx


def request(method, scheme, host, port, addr, path, headers=None, body=None, ca=None,
            timeout=15, verify=True):
    """One request to addr:port as a client of host would send it."""
    t0 = time.monotonic()
    try:
        sock = socket.create_connection((addr, port), timeout=timeout)
    except OSError as e:
        return Answer(0, {}, b"", time.monotonic() - t0, addr, f"cannot connect to {addr}:{port}: {e}")
    try:
        if scheme == "https":
            ctx = tls_context(ca)
            if not verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            try:
                sock = ctx.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as e:
                return Answer(0, {}, b"", time.monotonic() - t0, addr,
                              f"TLS with {host} at {addr}:{port} failed: {e}")
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = sock
        h = {"User-Agent": "mobility-check", "Connection": "close"}
        h.update(headers or {})
        default = 443 if scheme == "https" else 80
        h.setdefault("Host", host if port == default else f"{host}:{port}")
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        conn.close()
        return Answer(r.status, hdrs, data, time.monotonic() - t0, addr)
    except (OSError, http.client.HTTPException) as e:
        return Answer(0, {}, b"", time.monotonic() - t0, addr,
                      f"{host} at {addr}:{port} did not answer: {e}")
    finally:
        try:
            sock.close()
        except OSError:
            pass


def udp_exchange(addr, port, msg, timeout=2.0, accept=lambda data: True):
    """msg to addr:port over UDP, resent every half second (as a client's retransmission
    timer) until an answer accept() takes comes: that answer, or b"" when none came in
    timeout. A closed port raises ConnectionRefusedError (the socket is connected, so the
    ICMP port unreachable is told at once); other errors raise OSError."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + timeout
    try:
        s.connect((addr, port))
        while time.monotonic() < deadline:
            s.send(msg)
            end = min(time.monotonic() + 0.5, deadline)
            while time.monotonic() < end:
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    break
                if accept(data):
                    return data
        return b""
    finally:
        s.close()


@dataclass
class ServedCert:
    addr: str
    port: int
    name: str
    error: str = None           # could not connect
    sans: list = field(default_factory=list)
    subject: str = ""
    not_after: float = 0.0
    chain_ok: bool = False
    chain_error: str = ""
    chain_len: int = 0


def served_certificate(addr, port, name, ca=None, timeout=10):
    """The certificate chain served at addr:port for SNI name, and whether it verifies
    against the CA (the system store without one) without any help from the client."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID
    cmd = ["openssl", "s_client", "-connect", f"{addr}:{port}", "-servername", name,
           "-showcerts", "-verify_return_error"]
    cmd += ["-CAfile", ca] if ca else ["-CApath", "/etc/ssl/certs"]
    out = ServedCert(addr, port, name)
    try:
        p = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        out.error = f"no TLS answer at {addr}:{port} in {timeout} s"
        return out
    pems = _pems(p.stdout)
    if not pems:
        # -verify_return_error stops before printing when the chain fails: ask again
        p2 = subprocess.run([c for c in cmd if c != "-verify_return_error"], input="",
                            capture_output=True, text=True, timeout=timeout)
        pems = _pems(p2.stdout)
        if not pems:
            out.error = (f"no certificate at {addr}:{port}: "
                         f"{(p.stderr.strip().splitlines() or ['no answer'])[-1]}")
            return out
    out.chain_len = len(pems)
    leaf = x509.load_pem_x509_certificate(pems[0].encode())
    out.subject = leaf.subject.rfc4514_string()
    try:
        ext = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        out.sans = [n.lower() for n in ext.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        out.sans = []
    out.not_after = leaf.not_valid_after.timestamp() if not hasattr(
        leaf, "not_valid_after_utc") else leaf.not_valid_after_utc.timestamp()
    m = re.search(r"Verify return code: (\d+) \(([^)]*)\)", p.stdout + p.stderr)
    if m:
        out.chain_ok = m.group(1) == "0"
        out.chain_error = "" if out.chain_ok else m.group(2)
    else:
        m = re.search(r"verify error:num=\d+:(.*)", p.stderr)
        out.chain_ok = False
        out.chain_error = m.group(1) if m else "the chain did not verify"
    return out


def _pems(text):
    """The PEM certificates in openssl s_client -showcerts output, leaf first."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    out = []
    while begin in text:
        s = text.index(begin)
        e = text.index(end, s) + len(end)
        out.append(text[s:e])
        text = text[e:]
    return out


def name_matches(name, sans):
    name = name.lower()
    for s in sans:
        if s == name:
            return True
        if s.startswith("*.") and "." in name and name.split(".", 1)[1] == s[2:]:
            return True
    return False
