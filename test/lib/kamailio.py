"""A private Kamailio (Debian's `kamailio`, 5.6) running the shipped
conf.d/sip/kamailio.cfg as it is, for the SIP tests and the demo (issue 13, docs/sip.md).

    k = Kamailio(root, port=N, ucwa_uri="sip:127.0.0.1:5089", rtpengine="udp:127.0.0.1:M",
                 trusted={1: ["127.0.0.1"], 2: ["127.0.0.32/27"]},
                 gateways={1: ["sip:127.0.0.71:5070"]}).start()
    k.address                     # (host, port) it listens on, UDP and TCP
    k.request(raw, source=("127.0.0.33", 0))   # one raw SIP request over UDP: the final reply
    k.register("bob", source=...) # a REGISTER for bob@domain: its reply
    k.gateways[2] = [...]; k.reload()          # the lists rewritten and reloaded (kamcmd)
    k.log_text()
    k.stop()                      # also: `with Kamailio(...) as k:`

Every parameter is a `-A` define of the shipped file (the listen address and port, the
domain, ucwa-sipd's URI, rtpengine's NG socket, the trusted-address and gateway list
files, WITH_AUTH): only the two lists are written, under root, from the dicts given. It
runs in the foreground of this process's child (-DD -E: no daemon, logs on stderr, kept
in root/kamailio.log), its runtime directory and pid file under root, small shared
memory; never the system service.

free_sip_offset() finds a port offset for a test module's SIP ports, as
mobility.free_offset() does for Apache's. Nothing here needs pytest.
"""
import hashlib
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from daemon import Daemon
from turn import port_free

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "conf.d" / "sip" / "kamailio.cfg"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"


def ports_free(addr, ports):
    """Every port is free on addr for UDP and TCP."""
    return all(port_free(addr, p) for p in ports)


def free_sip_offset(bases, addr="127.0.0.1", start=20000, step=500, span=0):
    """An offset (from start, in steps) where base + offset, and the span ports after it,
    are free for every base: the tests' port scheme (mobility.Topology.port) for SIP."""
    for offset in range(start, 65535 - max(bases) - span, step):
        if all(ports_free(addr, range(b + offset, b + offset + span + 1)) for b in bases):
            return offset
    raise RuntimeError("no free port range for the SIP components")


class SipReply:
    """A SIP response: status, reason, headers (lower-case name -> list of values), text."""

    def __init__(self, text):
        self.text = text
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        m = re.match(r"SIP/2\.0 (\d{3}) ?(.*)", head[0])
        self.status = int(m.group(1)) if m else 0
        self.reason = m.group(2) if m else ""
        self.headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())

    def __repr__(self):
        return f"SipReply({self.status} {self.reason})"


def digest_authorization(challenge, method, uri, user, password, header="Authorization"):
    """The Authorization (or Proxy-Authorization) header answering a Digest challenge
    (MD5, RFC 2617, with qop=auth when the challenge offers it)."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
    extra = ""
    if "auth" in params.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    return (f'{header}: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{response}", algorithm=MD5{extra}')


def sip_request(method, uri, dest, source=("127.0.0.1", 0), to=None, from_=None,
                headers=(), body="", call_id=None, cseq=1, timeout=3.0, tcp=False,
                to_tag=None, from_tag=None):
    """Sends one request over UDP (or TCP) from source to dest and returns its final reply
    (a SipReply), or None when none came within timeout. Provisional replies are skipped.
    call_id, from_tag, to_tag: as given (to_tag: a request inside a dialog), else new."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        s.bind(source)
        s.settimeout(timeout)
        if tcp:
            s.connect(dest)
        host, port = s.getsockname()
        branch = "z9hG4bK" + secrets.token_hex(8)
        to = to or uri
        from_ = from_ or f"sip:test@{host}"
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/{'TCP' if tcp else 'UDP'} {host}:{port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <{from_}>;tag={from_tag or secrets.token_hex(4)}",
                 f"To: <{to}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {call_id or secrets.token_hex(10) + '@' + host}",
                 f"CSeq: {cseq} {method}",
                 f"Contact: <sip:test@{host}:{port}>",
                 *headers,
                 f"Content-Length: {len(body.encode())}", "", body]
        s.sendto("\r\n".join(lines).encode(), dest)
        deadline = time.time() + timeout
        pending = b""
        while time.time() < deadline:
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            if not data:
                return None
            if tcp:
                # a stream: replies split at their header ends (they carry no body here)
                pending += data
                *chunks, pending = pending.split(b"\r\n\r\n")
            else:
                chunks = [data]
            for chunk in chunks:
                reply = SipReply(chunk.decode(errors="replace"))
                if reply.status >= 200:
                    return reply
        return None
    finally:
        s.close()


class Kamailio(Daemon):
    """One private Kamailio on the shipped configuration."""

    def __init__(self, root, host="127.0.0.1", port=5060, domain="contoso.test",
                 ucwa_uri="sip:127.0.0.1:5089", rtpengine="udp:127.0.0.1:2223",
                 trusted=None, gateways=None, auth_db=None, defines=(), probed=()):
        self.root = Path(root)
        self.host = host
        self.port = port
        self.domain = domain
        self.ucwa_uri = ucwa_uri
        self.rtpengine = rtpengine
        # {group: [address or address/bits, ...]}: 1 the UCWA SIP side, 2 phone subnets
        self.trusted = trusted if trusted is not None else {1: ["127.0.0.1"]}
        # {setid: [gateway URI, ...]} in priority order
        self.gateways = gateways or {}
        # setids whose destinations are probed (flag 8: the pool's Front Ends, UCWA_SET)
        self.probed = set(probed)
        self.auth_db = auth_db          # a db_text directory: WITH_AUTH
        self.defines = list(defines)
        self.proc = None

    @property
    def log_file(self): return self.root / "kamailio.log"
    @property
    def pid_file(self): return self.root / "kamailio.pid"
    @property
    def trusted_file(self): return self.root / "trusted.list"
    @property
    def dispatcher_file(self): return self.root / "dispatcher.list"
    @property
    def address(self): return (self.host, self.port)
    @property
    def ctl_socket(self): return self.root / "run" / "kamailio_ctl"

    def reload(self):
        """Writes the two lists again from .trusted and .gateways and has the running
        Kamailio read them (as an admin would after editing them)."""
        self.write_lists()
        self.rpc("dispatcher.reload")
        self.rpc("permissions.addressReload")

    def rpc(self, *command):
        """kamcmd on this instance's control socket (e.g. "dispatcher.reload"): its output."""
        r = subprocess.run([KAMCMD, "-s", f"unix:{self.ctl_socket}", *command],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0 or r.stdout.startswith("error"):
            raise RuntimeError(f"kamcmd {' '.join(command)}: {r.stdout}{r.stderr}")
        return r.stdout

    def ds_flags(self, uri):
        """Dispatcher's state of destination uri ("AP" active, "IP" inactive, both probed;
        "A" active): the FLAGS line of `dispatcher.list` after its URI line."""
        lines = self.rpc("dispatcher.list").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == f"URI: {uri}":
                for nxt in lines[i + 1:]:
                    if nxt.strip().startswith("FLAGS:"):
                        return nxt.split(":", 1)[1].strip()
        return None

    def write_lists(self):
        self.root.mkdir(parents=True, exist_ok=True)
        lines = []
        for group, addrs in self.trusted.items():
            for a in addrs:
                ip, _, bits = a.partition("/")
                lines.append(f"{group} {ip} {bits or 32} 0")
        self.trusted_file.write_text("\n".join(lines) + "\n")
        lines = []
        for setid, uris in self.gateways.items():
            for i, uri in enumerate(uris):
                lines.append(f"{setid} {uri} {8 if setid in self.probed else 0} {100 - i}")
        self.dispatcher_file.write_text("\n".join(lines) + "\n")

    def argv(self):
        d = [f"SIP_ADDR={self.host}", f"SIP_PORT={self.port}",
             f'SIP_DOMAIN="{self.domain}"', f'UCWA_SIP_URI="{self.ucwa_uri}"',
             f'RTPENGINE_SOCK="{self.rtpengine}"',
             f'TRUSTED_LIST="{self.trusted_file}"', f'DISPATCHER_LIST="{self.dispatcher_file}"',
             "WORKERS=2", f'CTL_SOCKET="unix:{self.ctl_socket}"', "RELOAD_DELTA=0"]
        if self.auth_db:
            d += ["WITH_AUTH", f'AUTH_DB_URL="text://{self.auth_db}"']
        d += self.defines
        runtime = self.root / "run"
        args = [KAMAILIO, "-f", str(CONFIG), "-DD", "-E", "-m", "32", "-M", "4",
                "-P", str(self.pid_file), "-Y", str(runtime)]
        for x in d:
            args += ["-A", x]
        return args

    def check(self):
        """kamailio -c: the configuration with these defines parses (the output)."""
        self.write_lists()
        r = subprocess.run(self.argv() + ["-c"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or r.stdout.startswith("error"):
            raise RuntimeError(f"kamailio -c failed:\n{r.stdout}{r.stderr}")
        return r.stdout + r.stderr

    def start(self, timeout=10):
        self.write_lists()
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        self.spawn(self.argv())
        return self.wait_ready(lambda: self.ping(timeout=0.3), f"kamailio ({self.host}:{self.port})")

    def ping(self, source=("127.0.0.1", 0), timeout=1.0):
        """Kamailio answers an OPTIONS for itself with 200."""
        uri = f"sip:{self.host}:{self.port}"
        r = sip_request("OPTIONS", uri, self.address, source=source, timeout=timeout)
        return r is not None and r.status == 200

    def request(self, method, user_or_uri, source=("127.0.0.1", 0), **kw):
        """One request to user@domain (or a full URI) through this Kamailio: its final
        reply, None when none came."""
        uri = user_or_uri if ":" in user_or_uri else f"sip:{user_or_uri}@{self.domain}"
        return sip_request(method, uri, self.address, source=source, **kw)

    def register(self, user, source=("127.0.0.1", 0), expires=60, password=None, tcp=False):
        """A REGISTER of user@domain from source (contact at that address), over UDP or
        TCP: the reply. With a password, a 401 challenge is answered once (digest)."""
        aor, uri = f"sip:{user}@{self.domain}", f"sip:{self.domain}"
        call_id = secrets.token_hex(10)
        r = sip_request("REGISTER", uri, self.address, source=source, to=aor, from_=aor,
                        headers=[f"Expires: {expires}"], call_id=call_id, tcp=tcp)
        if password is None or r is None or r.status != 401:
            return r
        auth = digest_authorization(r.headers["www-authenticate"][0], "REGISTER", uri,
                                    user, password)
        return sip_request("REGISTER", uri, self.address, source=source, to=aor, from_=aor,
                           headers=[f"Expires: {expires}", auth], call_id=call_id, cseq=2,
                           tcp=tcp)
