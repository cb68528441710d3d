"""Drive the real pidgin-sipe (Debian's package) headless through finch, for the tests.

finch is libpurple's text UI; it needs a terminal, so it runs in a detached tmux session
on a private tmux socket. Its -d debug output (libpurple's and sipe's, with full HTTP and
SIP dumps thanks to PURPLE_UNSAFE_DEBUG=1) goes to a log file the test polls.

Three things make it run unattended against the test deployment:

- libxml2: Debian bookworm's libxml2 delivers no element events to sipe's SAX handler,
  so every XML document sipe parses comes out empty; saxfix.c (LD_PRELOAD) fixes that.
- names: sipe starts at lyncdiscoverinternal.<sip domain> on the default ports 80/443,
  and glibc reads /etc/hosts. Preferably finch runs in a private mount namespace with a
  generated hosts file bind-mounted over /etc/hosts (nothing outside finch sees it);
  where that is not allowed (or with FINCH_SIPE_HOSTS=etc-hosts in the environment),
  HostsFileLines adds the lines to the real /etc/hosts and puts the file back byte for
  byte afterwards.
- TLS: libpurple's "tls_cached" verifier trusts a peer whose certificate is byte-equal to
  <confdir>/certificates/x509/tls_peers/<hostname> (PEM), without asking the user; the
  server certificate is seeded there for every host sipe may contact.
"""
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
SIPE_PLUGIN = Path("/usr/lib/purple-2/libsipe.so")
LIBXML2_HEADERS = Path("/usr/include/libxml2/libxml/parser.h")


def missing_prerequisites():
    """What is missing to run this client (the test command installs all of it)."""
    missing = [p for p in ("finch", "tmux", "gcc", "unshare") if not shutil.which(p)]
    if not SIPE_PLUGIN.exists():
        missing.append(f"pidgin-sipe ({SIPE_PLUGIN})")
    if not LIBXML2_HEADERS.exists():
        missing.append(f"libxml2-dev ({LIBXML2_HEADERS})")
    return missing


def build_shim(outdir: Path) -> Path:
    """Compile saxfix.c into outdir/saxfix.so."""
    so = Path(outdir) / "saxfix.so"
    subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(so),
                    str(HERE / "saxfix.c"), "-I/usr/include/libxml2", "-ldl"],
                   check=True, capture_output=True, text=True)
    return so


def hosts_text(hosts: dict) -> str:
    """hosts-file lines, one per address: {name: address} -> '127.0.0.3 a b'."""
    by_addr = {}
    for name, addr in hosts.items():
        by_addr.setdefault(addr, []).append(name)
    return "".join(f"{addr} {' '.join(names)}\n" for addr, names in by_addr.items())


def private_hosts_works(hosts_file: Path, name: str, addr: str) -> bool:
    """Whether a bind mount over /etc/hosts in a private mount namespace works here."""
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            'mount --bind "$1" /etc/hosts && getent hosts "$2"',
                            "sh", str(hosts_file), name],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and r.stdout.split()[:1] == [addr]


class HostsFileLines:
    """Fallback: append lines to the real /etc/hosts; restore() writes the original bytes
    back in place (same inode, so a bind-mounted /etc/hosts in a container works too)."""

    def __init__(self, text: str, path: Path = Path("/etc/hosts")):
        self.path = Path(path)
        self.original = self.path.read_bytes()
        sep = b"" if not self.original or self.original.endswith(b"\n") else b"\n"
        with open(self.path, "r+b") as f:
            f.seek(0, os.SEEK_END)
            f.write(sep + b"# pidgin-sipe test (temporary)\n" + text.encode())

    def restore(self):
        with open(self.path, "r+b") as f:
            f.write(self.original)
            f.truncate()


class Finch:
    """One finch process with one sipe account, in its own config directory."""

    def __init__(self, workdir: Path, account: str, password: str, hosts: dict,
                 server_cert: Path, tls_hosts):
        self.dir = Path(workdir)
        self.account = account
        self.password = password
        self.hosts = hosts
        self.server_cert = Path(server_cert)
        self.tls_hosts = list(tls_hosts)
        self.confdir = self.dir / "purple"
        self.log = self.dir / "finch.log"
        self.pidfile = self.dir / "finch.pid"
        self.sock = self.dir / "tmux.sock"
        self.hosts_file = self.dir / "hosts"
        self.mode = None          # "namespace" or "etc-hosts"
        self.pid = None
        self.tmux_pid = None
        self._hosts_edit = None

    def prepare(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.shim = build_shim(self.dir)
        self.confdir.mkdir(exist_ok=True)
        tmpl = (HERE / "accounts.xml.in").read_text()
        (self.confdir / "accounts.xml").write_text(
            tmpl.replace("@ACCOUNT@", escape(self.account))
                .replace("@PASSWORD@", escape(self.password)))
        peers = self.confdir / "certificates" / "x509" / "tls_peers"
        peers.mkdir(parents=True, exist_ok=True)
        for host in self.tls_hosts:
            shutil.copyfile(self.server_cert, peers / host.lower())
        base = Path("/etc/hosts").read_text(errors="replace")
        base = base if base.endswith("\n") or not base else base + "\n"
        self.hosts_file.write_text(base + hosts_text(self.hosts))
        self.hosts_file.chmod(0o644)
        name, addr = next(iter(self.hosts.items()))
        forced = os.environ.get("FINCH_SIPE_HOSTS")  # "etc-hosts": try the fallback here
        if forced == "etc-hosts" or not private_hosts_works(self.hosts_file, name, addr):
            self.mode = "etc-hosts"
        else:
            self.mode = "namespace"

    def start(self):
        """Start finch; the account logs in (and sipe runs Autodiscover) at once."""
        if self.mode is None:
            self.prepare()
        for f in (self.log, self.pidfile):
            f.unlink(missing_ok=True)
        args = ["sh", str(HERE / "run-finch.sh"), str(self.pidfile), str(self.log),
                str(self.confdir), str(self.shim)]
        if self.mode == "namespace":
            args.append(str(self.hosts_file))
        else:
            self._hosts_edit = HostsFileLines(hosts_text(self.hosts))
        env = dict(os.environ, TERM="xterm")
        subprocess.run(["tmux", "-S", str(self.sock), "-f", "/dev/null", "new-session", "-d",
                        "-s", "sipe", "-x", "200", "-y", "50", "--", *args],
                       check=True, capture_output=True, text=True, env=env, timeout=10)
        r = subprocess.run(["tmux", "-S", str(self.sock), "display-message", "-p", "#{pid}"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            self.tmux_pid = int(r.stdout.strip())
        deadline = time.time() + 5
        while time.time() < deadline and self.pid is None:
            try:
                self.pid = int(self.pidfile.read_text().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        return self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, done, timeout=20.0, interval=0.2):
        """Poll the log until done(log_text) is true or timeout; returns the last text."""
        deadline = time.time() + timeout
        while True:
            text = self.log_text()
            if done(text) or time.time() >= deadline:
                return text
            if self.pid is not None and not _alive(self.pid):
                return self.log_text()
            time.sleep(interval)

    def stop(self):
        """Kill finch (its process group: finch and its DNS helpers), then the private
        tmux server, then undo the /etc/hosts edit if there was one. Safe to call twice."""
        try:
            if self.pid is not None:
                _terminate_group(self.pid)
            if self.sock.exists():
                subprocess.run(["tmux", "-S", str(self.sock), "kill-server"],
                               capture_output=True, timeout=10)
            if self.tmux_pid is not None:
                _terminate(self.tmux_pid)
        finally:
            if self._hosts_edit is not None:
                self._hosts_edit.restore()
                self._hosts_edit = None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def _terminate_group(pid: int):
    """finch is the leader of its tmux pane's process group."""
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            _terminate(pid)
            return
        if _wait_gone(pid, wait):
            return


def _terminate(pid: int):
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait):
            return


def basic_credentials(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# What the test reads in finch's log (strings as pidgin-sipe 1.25 logs them).
TRYING = re.compile(r"sipe_lync_autodiscover_request: trying '([^']*)'")
USER_LINK = re.compile(r"sipe_lync_autodiscover_parse: user (\S+)")
GOT_SERVERS = "lync_autodiscover_cb: got server list"
NO_SERVERS = "no Lync Autodiscover servers found"
CONNECT = re.compile(r"transport_connect - hostname: (\S+) port: (\d+)")
SIPE_LINE = re.compile(r"^\(\d\d:\d\d:\d\d\) sipe: (.*)$", re.M)


def discovered_server(text: str):
    """(host, port) of the SIP connection sipe makes from Autodiscover's server list, or
    None. lync_autodiscover_cb logs GOT_SERVERS and, in the same call, connects to the
    list's first server: that transport_connect must be the very next sipe line (so it is
    not an HTTP connection of the other Autodiscover chain). sipe logs GOT_SERVERS even
    for an empty list, then NO_SERVERS and its SRV/A fallbacks, whose connections must
    not count."""
    i = text.find(GOT_SERVERS)
    if i < 0:
        return None
    line = SIPE_LINE.search(text, i + len(GOT_SERVERS))
    m = CONNECT.match(line.group(1)) if line else None
    if m is None:
        return None
    return (m.group(1), int(m.group(2)))


def tls_client_hello_sni(data: bytes):
    """The server name (SNI) in a TLS ClientHello at the start of data: None while more
    bytes are needed, "" for a ClientHello without SNI; ValueError if data does not start
    with a TLS handshake record carrying a ClientHello."""
    hs = bytearray()
    pos = 0
    while True:  # handshake bytes from consecutive records, until the ClientHello is whole
        if len(data) < pos + 5:
            return None
        if data[pos] != 0x16 or data[pos + 1] != 3:
            raise ValueError(f"not a TLS handshake record: {bytes(data[pos:pos + 5]).hex()}")
        n = int.from_bytes(data[pos + 3:pos + 5], "big")
        if len(data) < pos + 5 + n:
            return None
        hs += data[pos + 5:pos + 5 + n]
        pos += 5 + n
        if len(hs) >= 4:
            if hs[0] != 1:
                raise ValueError(f"handshake type {hs[0]}, not a ClientHello")
            if len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
                break
    body = bytes(hs[4:4 + int.from_bytes(hs[1:4], "big")])
    try:
        p = 2 + 32                                            # version, random
        p += 1 + body[p]                                      # session id
        p += 2 + int.from_bytes(body[p:p + 2], "big")         # cipher suites
        p += 1 + body[p]                                      # compression methods
        if p >= len(body):
            return ""                                         # no extensions
        end = p + 2 + int.from_bytes(body[p:p + 2], "big")
        p += 2
        while p + 4 <= end:
            etype = int.from_bytes(body[p:p + 2], "big")
            elen = int.from_bytes(body[p + 2:p + 4], "big")
            ext = body[p + 4:p + 4 + elen]
            p += 4 + elen
            if etype == 0:                                    # server_name
                q = 2                                         # list length
                while q + 3 <= len(ext):
                    ntype, nlen = ext[q], int.from_bytes(ext[q + 1:q + 3], "big")
                    if ntype == 0:                            # host_name
                        return ext[q + 3:q + 3 + nlen].decode("ascii")
                    q += 3 + nlen
        return ""
    except (IndexError, UnicodeDecodeError) as e:
        raise ValueError(f"malformed ClientHello: {e}") from None


class SipListener:
    """Stands in for a SIP server's TLS listener. It accepts connections and keeps them
    open until close(): closing one would make sipe's TLS handshake fail at once ("nss:
    Handshake failed"), and sipe would then give up on the server Autodiscover named and
    log NO_SERVERS before trying DNS SRV and A records. It reads each connection's TLS
    ClientHello to learn the server name sipe asked for (SNI); it never answers."""

    def __init__(self, addr: str, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(4)
        self.sock.setblocking(False)
        self.connections = []     # {"peer", "sock", "data", "sni", "error"}

    def poll(self):
        """Accept what is pending and read what has arrived; never blocks."""
        while True:
            try:
                conn, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            conn.setblocking(False)
            self.connections.append({"peer": peer, "sock": conn, "data": b"",
                                     "sni": None, "error": None})
        for c in self.connections:
            if c["sni"] is not None or c["error"] is not None:
                continue
            try:
                chunk = c["sock"].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                c["error"] = f"recv: {e}"
                continue
            if not chunk:
                c["error"] = "closed before a whole ClientHello arrived"
                continue
            c["data"] += chunk
            try:
                c["sni"] = tls_client_hello_sni(c["data"])
            except ValueError as e:
                c["error"] = str(e)

    def first_hello(self):
        """The first connection once its ClientHello has been read (or failed), else None."""
        if self.connections and (self.connections[0]["sni"] is not None
                                 or self.connections[0]["error"] is not None):
            return self.connections[0]
        return None

    def close(self):
        for c in self.connections:
            c["sock"].close()
        self.sock.close()


def excerpt(text: str, limit=12000) -> str:
    """The sipe-relevant part of finch's log, bounded for an assertion message."""
    keep = [line for line in text.splitlines()
            if re.search(r"sipe|HTTP/1\.1|^(GET|POST|Host|Authorization|WWW-Authenticate|"
                         r"Content-Type|X-MS-)|certificate|dnsquery|proxy:|nss|mount|unshare",
                         line)]
    out = "\n".join(keep)
    return out if len(out) <= limit else "...\n" + out[-limit:]
