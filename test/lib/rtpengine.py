"""A private rtpengine (Debian's `rtpengine-daemon`, 10.5) for the SIP tests and the demo:
the media anchor Kamailio (conf.d/sip/kamailio.cfg) and ucwa-sipd drive over the NG
protocol (issue 13, docs/sip.md).

    rtp = Rtpengine(root, ng_port=N, rtp_ports=(lo, hi)).start()
    rtp.ng_socket                 # "udp:127.0.0.1:N", Kamailio's RTPENGINE_SOCK
    rtp.ping()                    # True when it answers NG `ping`
    rtp.query(call_id)            # {tag: {"packets": n, "bytes": n}} per leg (From/To tag)
    rtp.command({"command": "list"})
    rtp.stop()                    # also: `with Rtpengine(root) as rtp:`

User-space forwarding only (`--table=-1`: no kernel module), no configuration file
(`--config-file=none`: Debian's /etc/rtpengine is never read), its NG port on loopback,
a private RTP port range, in the foreground of this process's child with its log in
root/rtpengine.log; never the system service Debian installed.

bencode() and bdecode() are the NG protocol's encoding (bencoded dictionaries with a
cookie in front, over UDP). Nothing here needs pytest.
"""
import os
import secrets
import shutil
import socket
from pathlib import Path

from daemon import Daemon

RTPENGINE = shutil.which("rtpengine") or "/usr/bin/rtpengine"


def bencode(value):
    """bytes of value in bencode: dict (keys sorted as strings), list, int, str or bytes."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, (list, tuple)):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data):
    """The value data (bytes) encodes: strings come back as str (bytes if not UTF-8)."""
    value, end = _bdecode(data, 0)
    if end != len(data):
        raise ValueError(f"trailing bytes after offset {end}")
    return value


def _bdecode(data, i):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        i += 1
        items = []
        while data[i:i + 1] != b"e":
            v, i = _bdecode(data, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        raw = data[colon + 1:colon + 1 + n]
        if len(raw) != n:
            raise ValueError("string runs past the end")
        try:
            return raw.decode(), colon + 1 + n
        except UnicodeDecodeError:
            return raw, colon + 1 + n
    raise ValueError(f"bad bencode at offset {i}")


class Rtpengine(Daemon):
    """One private rtpengine. ng_port: its NG control port (UDP, on host); rtp_ports:
    the (lowest, highest) media ports it allocates from."""

    def __init__(self, root, host="127.0.0.1", ng_port=2223, rtp_ports=(30000, 30199),
                 extra=()):
        self.root = Path(root)
        self.host = host
        self.ng_port = ng_port
        self.rtp_ports = rtp_ports
        self.extra = list(extra)
        self.proc = None

    @property
    def log_file(self): return self.root / "rtpengine.log"
    @property
    def pid_file(self): return self.root / "rtpengine.pid"
    @property
    def ng_socket(self): return f"udp:{self.host}:{self.ng_port}"

    def start(self, timeout=10):
        self.root.mkdir(parents=True, exist_ok=True)
        lo, hi = self.rtp_ports
        cmd = [RTPENGINE, "--config-file=none", "--table=-1", "--foreground",
               "--log-stderr", "--log-level=6", f"--pidfile={self.pid_file}",
               f"--interface={self.host}", f"--listen-ng={self.host}:{self.ng_port}",
               f"--port-min={lo}", f"--port-max={hi}", "--delete-delay=0",
               "--num-threads=2", *self.extra]
        self.spawn(cmd)
        return self.wait_ready(lambda: self.ping(timeout=0.2), f"rtpengine (NG {self.ng_socket})")

    def command(self, message, timeout=2.0):
        """Sends one NG command (a dict) and returns the decoded answer dict."""
        cookie = secrets.token_hex(6).encode()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(cookie + b" " + bencode(message), (self.host, self.ng_port))
            while True:
                data = s.recv(65535)
                head, _, body = data.partition(b" ")
                if head == cookie:
                    return bdecode(body)
        finally:
            s.close()

    def ping(self, timeout=2.0):
        try:
            return self.command({"command": "ping"}, timeout).get("result") == "pong"
        except OSError:
            return False

    def calls(self):
        """The Call-IDs rtpengine holds a session for."""
        return self.command({"command": "list"}).get("calls", [])

    def query(self, call_id):
        """Per-leg counters of a call, keyed by the leg's tag (From or To tag):
        {"packets": n, "bytes": n, "errors": n} of what rtpengine received from that leg
        (RTP, all its streams). {} when rtpengine has no such call."""
        answer = self.command({"command": "query", "call-id": call_id})
        if answer.get("result") != "ok":
            return {}
        legs = {}
        for tag, leg in answer.get("tags", {}).items():
            total = {"packets": 0, "bytes": 0, "errors": 0}
            for media in leg.get("medias", []):
                for stream in media.get("streams", []):
                    flags = stream.get("flags", [])
                    if "RTCP" in flags and "RTP" not in flags:
                        continue      # RTCP only (a muxed stream carries both)
                    stats = stream.get("stats", {})
                    for k in total:
                        total[k] += int(stats.get(k, 0))
            legs[tag] = total
        return legs


if __name__ == "__main__":
    # a quick look: python3 test/lib/rtpengine.py /tmp/rtpengine-try
    import sys
    r = Rtpengine(sys.argv[1] if len(sys.argv) > 1 else "/tmp/rtpengine-try",
                  ng_port=22223, rtp_ports=(32000, 32099)).start()
    try:
        print("ping", r.ping(), "list", r.calls(), "query", r.query("nope"))
    finally:
        r.stop()
    print(os.linesep.join(r.log_text().splitlines()[-10:]))
