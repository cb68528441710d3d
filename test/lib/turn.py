"""A private coturn (Debian's `coturn`, 4.6) for the tests and the demo: the TURN server
that the credentials of UCWA's mediaRelayAccessToken are for (issue 12).

    turn = Coturn(root).start()      # root: a directory of its own (config, pid, log)
    turn.host, turn.port, turn.secret, turn.realm
    turn.directives()                # UcwaTurnServer + UcwaTurnSecretFile for mod_ucwa
    turn.ice_server(user, password)  # {"urls": [turn:...], "username", "credential"}
    turn.allocate(user, password)    # turnutils_uclient: an Allocation, true when the
                                     # server granted it (.lost: packets not echoed back)
    turn.stop()                      # also: `with Coturn(root) as turn:`

The server runs in the foreground of this process's child, never as the system service:
its own configuration file (`use-auth-secret`, `static-auth-secret`: the TURN REST
scheme mod_ucwa mints for, so no user is stored; its SQLite user database, which it
opens anyway, is its own), realm, one listening address and a free port (UDP and TCP), a
private relay port range, no TLS/DTLS, no CLI, pid and log files under root, a new secret
per instance unless one is given. An echoing peer (turnutils_peer) runs beside it for
allocate()'s packets. Peers on loopback are allowed (allow-loopback-peers), so two
endpoints on this machine can relay to each other through it: to force a call through
the relay, give the endpoints only this ICE server and keep their relay candidates.

rest_credentials() mints the same credentials mod_ucwa does (for tests that need an
expired or foreign token without asking the server).

Nothing here needs pytest.
"""
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
UCLIENT = shutil.which("turnutils_uclient") or "/usr/bin/turnutils_uclient"
PEER = shutil.which("turnutils_peer") or "/usr/bin/turnutils_peer"


def rest_credentials(secret, user, lifetime=8 * 3600, now=None):
    """(userName, password) of the TURN REST scheme: '<expiry unix time>:<user>' and
    base64(HMAC-SHA1(secret, userName)). lifetime in seconds (negative: already expired)."""
    expiry = int(now if now is not None else time.time()) + int(lifetime)
    name = f"{expiry}:{user}"
    mac = hmac.new(secret.encode(), name.encode(), hashlib.sha1).digest()
    return name, base64.b64encode(mac).decode()


def port_free(addr, port):
    """port is free on addr for both UDP and TCP (as turnserver binds them)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port(addr="127.0.0.1", start=3478 + 20000, end=60000, step=7):
    """A port free for UDP and TCP on addr, and the next one too (coturn may take
    listening-port + 1 as its alternate port)."""
    for port in range(start, end, step):
        if port_free(addr, port) and port_free(addr, port + 1):
            return port
    raise RuntimeError("no free port for coturn")


class Allocation:
    """What turnutils_uclient got: ok (the relay was allocated), lost (packets that did
    not come back through it, None when none were sent) and its output."""

    def __init__(self, ok, lost, text):
        self.ok, self.lost, self.text = ok, lost, text

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"Allocation(ok={self.ok}, lost={self.lost})"


class Coturn:
    """One private turnserver. Attributes after start(): host, port, secret, realm."""

    def __init__(self, root, host="127.0.0.1", port=None, secret=None,
                 realm="contoso.test", relay_ports=None, extra=()):
        self.root = Path(root)
        self.host = host
        self.port = port
        self.secret = secret or secrets.token_hex(24)
        self.realm = realm
        # a private range of relay ports (each allocation takes one); inside the
        # listening port's neighbourhood so parallel instances rarely overlap
        self.relay_ports = relay_ports
        self.extra = list(extra)
        self.proc = None
        self.peer = None          # turnutils_peer: echoes what uclient relays to it
        self.peer_port = None

    @property
    def conf(self): return self.root / "turnserver.conf"
    @property
    def log_file(self): return self.root / "turnserver.log"
    @property
    def pid_file(self): return self.root / "turnserver.pid"

    def secret_file(self):
        """The secret in a file of its own (mode 0600: Apache reads it as the user that
        starts it, before its children drop privileges), for UcwaTurnSecretFile."""
        path = self.root / "turn.secret"
        self.root.mkdir(parents=True, exist_ok=True)
        path.write_text(self.secret + "\n")
        path.chmod(0o600)
        return path

    def directives(self):
        """mod_ucwa's configuration for this server: UcwaTurnServer (UDP and TCP on the
        same port) and UcwaTurnSecretFile."""
        return (f"UcwaTurnServer {self.host} {self.port}\n"
                f"UcwaTurnSecretFile {self.secret_file()}")

    def write_config(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if self.port is None:
            self.port = free_port(self.host)
        lo, hi = self.relay_ports or (self.port + 2, self.port + 201)
        lines = [
            f"listening-ip={self.host}", f"relay-ip={self.host}",
            f"listening-port={self.port}", "alt-listening-port=0",
            f"min-port={lo}", f"max-port={hi}",
            "use-auth-secret", f"static-auth-secret={self.secret}", f"realm={self.realm}",
            "fingerprint", "no-tls", "no-dtls", "no-cli", "no-rfc5780",
            "no-software-attribute", "allow-loopback-peers", "no-multicast-peers",
            # its own (empty) user database: coturn opens /var/lib/turn/turndb otherwise
            f"userdb={self.root / 'turndb'}",
            f"pidfile={self.pid_file}", f"log-file={self.log_file}", "simple-log",
            "no-stdout-log", *self.extra,
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        self.conf.chmod(0o600)

    def start(self, timeout=10):
        self.write_config()
        self.log_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen([TURNSERVER, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver did not start:\n{self.log_text()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"turnserver did not listen on {self.host}:{self.port}\n"
                               f"{self.log_text()}")
        self.peer_port = free_port(self.host, start=self.port + 1)
        self.peer = subprocess.Popen([PEER, "-L", self.host, "-p", str(self.peer_port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        return self


    def stop(self):
        for proc in (self.peer, self.proc):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.proc = self.peer = None

    def log_text(self):
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def credentials(self, user, lifetime=8 * 3600):
        """(userName, password) for user, as mod_ucwa would mint them with this secret."""
        return rest_credentials(self.secret, user, lifetime)

    def ice_server(self, user_name, password, tcp=True):
        """An RTCIceServer (WebRTC, aiortc's RTCIceServer(**...)) for this relay: UDP, and
        TCP to the server unless tcp is False."""
        urls = [f"turn:{self.host}:{self.port}"]
        if tcp:
            urls.append(f"turn:{self.host}:{self.port}?transport=tcp")
        return {"urls": urls, "username": user_name, "credential": password}

    def uclient(self, user, password, *flags, messages=3, timeout=30):
        """turnutils_uclient against this server with those credentials: it allocates a
        relay and sends `messages` packets through it to the echoing peer. The process's
        result (its exit status is 0 once the allocation is granted, 255 when refused)."""
        cmd = [UCLIENT, "-p", str(self.port), "-u", user, "-w", password,
               "-n", str(messages), "-l", "64", "-e", self.host, "-r", str(self.peer_port),
               *flags, self.host]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def allocate(self, user, password, tcp=False):
        """Allocates a relay with turnutils_uclient (UDP to the server, or TCP) and
        relays a few packets to the peer and back: an Allocation, .ok when the server
        granted it, .lost the packets that did not come back, .text uclient's output."""
        # -c: no RTCP allocation beside the RTP one (one relay is the question; 2.5 s
        # instead of 3.5: uclient's loop counts in seconds)
        out = self.uclient(user, password, "-c", *(["-t"] if tcp else []))
        text = out.stdout + out.stderr
        lost = re.search(r"Total lost packets (\d+)", text)
        return Allocation(out.returncode == 0 and "Cannot complete Allocation" not in text,
                          int(lost.group(1)) if lost else None, text)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    # a quick look: python3 test/lib/turn.py /tmp/turn-root
    import sys
    t = Coturn(sys.argv[1] if len(sys.argv) > 1 else "/tmp/coturn-try").start()
    try:
        u, p = rest_credentials(t.secret, "alice@contoso.test")
        print(t.host, t.port, u, t.allocate(u, p), t.allocate(u, p, tcp=True),
              t.allocate(u, p[:-4] + "AAA="), t.allocate(*rest_credentials(t.secret, "a", -1)))
    finally:
        t.stop()
    print(os.linesep.join(t.log_text().splitlines()[-20:]))
