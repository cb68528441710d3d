"""SIPp (Debian's `sip-tester`, 3.6) for the SIP tests (issue 13): a PSTN gateway (UAS)
that answers, is busy (486) or never answers, and the UCWA SIP side (UAC) calling a
number, from the scenarios in test/sip/. What a SIPp instance received is read back
from its message trace (-trace_msg), parsed into requests and replies with their times.

    gw = Sipp(root, "gateway_answer", addr="127.0.0.71", port=N).start()   # a UAS
    ...
    inv = gw.wait_request("INVITE")          # a Message: .method, .ruri, .header("From"),
    inv.user, inv.time                       # the R-URI's user part, time.time() of arrival
    gw.stop()

    uac = Sipp(root, "ucwa_call", addr="127.0.0.1", port=M, remote=("127.0.0.1", 5060),
               keys={"service": "+15550100", "pai": "sip:alice@contoso.test",
                     "gwset": "1"}, calls=1, duration_ms=500)
    uac.run(timeout=20)                      # to its end: the exit status (0: all calls ok)
    uac.replies("INVITE")                    # the INVITE's replies it got

echo_port=N: the scenario's SDP offers that port and SIPp sends back the RTP it gets there
(-rtp_echo): a phone on the other end hears its own tone, through whatever anchors the
media. Every instance runs in the foreground of this process's child, without a terminal
(-nostdin, its screen output thrown away), its trace and error log under root. Nothing
here needs pytest.
"""
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

from daemon import stop_process

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "test" / "sip"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"

# -trace_msg separates messages with a line of dashes and the local time
_SEP = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)\s*$", re.M)


class Message:
    """One SIP message SIPp received: request (method, ruri) or reply (status)."""

    def __init__(self, text, when):
        self.text, self.time = text, when
        head = text.split("\r\n\r\n", 1)[0].replace("\r\n", "\n").split("\n")
        self.first = head[0].strip()
        self.headers = []
        for line in head[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                self.headers.append((name.strip().lower(), value.strip()))
        m = re.match(r"SIP/2\.0 (\d{3})", self.first)
        self.status = int(m.group(1)) if m else None
        parts = self.first.split(" ")
        self.method = None if self.status else parts[0]
        self.ruri = None if self.status else (parts[1] if len(parts) > 1 else "")
        self.body = text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""

    def header(self, name):
        """The first value of a header (full name, case-insensitive), or None."""
        name = name.lower()
        return next((v for n, v in self.headers if n == name), None)

    @property
    def user(self):
        """The R-URI's user part (a number for tel: and user=phone URIs)."""
        if not self.ruri:
            return None
        m = re.match(r"(?:sips?|tel):([^@;>]+)", self.ruri)
        return m.group(1) if m else None

    @property
    def cseq_method(self):
        c = self.header("CSeq") or ""
        return c.split()[-1] if c.split() else None

    def __repr__(self):
        return f"Message({self.first!r} at {self.time:.3f})"


class Sipp:
    def __init__(self, root, scenario, addr="127.0.0.1", port=5070, remote=None, keys=None,
                 calls=None, duration_ms=0, transport="u1", echo_port=None, extra=()):
        self.root = Path(root)
        self.scenario = scenario
        self.addr, self.port, self.remote = addr, port, remote
        self.keys = dict(keys or {})
        self.calls, self.duration_ms = calls, duration_ms
        self.transport, self.extra = transport, list(extra)
        # media: the SDP's port ([media_port]); RTP arriving there is sent back (-rtp_echo)
        self.echo_port = echo_port
        self.proc = None

    @property
    def trace_file(self): return self.root / f"{self.scenario}-{self.port}-messages.log"
    @property
    def error_file(self): return self.root / f"{self.scenario}-{self.port}-errors.log"

    def argv(self):
        args = [SIPP, "-sf", str(SCENARIOS / f"{self.scenario}.xml"),
                "-i", self.addr, "-p", str(self.port), "-t", self.transport,
                "-mi", self.addr, "-nostdin", "-trace_msg", "-message_file", str(self.trace_file),
                "-trace_err", "-error_file", str(self.error_file), "-d", str(self.duration_ms),
                "-timeout_error", "-max_recv_loops", "1000"]
        keys = dict(self.keys)
        if "service" in keys:
            keys.setdefault("ruri", f"tel:{keys['service']}")
        for k, v in keys.items():
            if k == "service":
                args += ["-s", str(v)]
            else:
                args += ["-key", k, str(v)]
        if self.echo_port:
            args += ["-rtp_echo", "-mp", str(self.echo_port)]
        if self.calls:
            args += ["-m", str(self.calls), "-l", str(self.calls)]
        args += self.extra
        if self.remote:
            args.append(f"{self.remote[0]}:{self.remote[1]}")
        return args

    def start(self, wait=0.3):
        self.root.mkdir(parents=True, exist_ok=True)
        for f in (self.trace_file, self.error_file):
            f.unlink(missing_ok=True)
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        if wait:
            time.sleep(wait)
            self.check_running()
        return self

    def check_running(self):
        """Raises when the instance is gone (a scenario SIPp refused: its error log)."""
        if self.proc is None or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc else None
            raise RuntimeError(f"sipp {self.scenario} exited {rc}: {self.errors()}")

    def run(self, timeout=30):
        """Starts it and waits for its end (a UAC with calls=N): its exit status, 0 when
        every call went through the scenario."""
        self.start(wait=0)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise

    def stop(self):
        stop_process(self.proc, signal.SIGUSR1, timeout=3)     # SIGUSR1: SIPp's "quit now"
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def messages(self, received=True):
        """The messages SIPp received (or, received=False, sent), oldest first."""
        if not self.trace_file.exists():
            return []
        text = self.trace_file.read_text(errors="replace")
        out = []
        chunks = _SEP.split(text)
        # [before, date, time, body, date, time, body, ...]
        for i in range(1, len(chunks) - 2, 3):
            day, clock, body = chunks[i], chunks[i + 1], chunks[i + 2]
            kind, _, rest = body.lstrip("\n").partition("\n")
            if ("received" in kind) != received:
                continue
            when = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S.%f").timestamp()
            msg = rest.lstrip("\n").replace("\r\n", "\n").replace("\n", "\r\n").rstrip()
            if msg:
                out.append(Message(msg + "\r\n\r\n" if "\r\n\r\n" not in msg else msg, when))
        return out

    def requests(self, method=None):
        return [m for m in self.messages() if m.method and (method is None or m.method == method)]

    def replies(self, method=None):
        return [m for m in self.messages() if m.status
                and (method is None or m.cseq_method == method)]

    def wait_request(self, method, count=1, timeout=10):
        """The count-th request of that method SIPp received (waits for it)."""
        deadline = time.time() + timeout
        while True:
            got = self.requests(method)
            if len(got) >= count:
                return got[count - 1]
            if time.time() > deadline:
                raise TimeoutError(f"sipp {self.scenario}: {len(got)} {method} within "
                                   f"{timeout} s (wanted {count})")
            time.sleep(0.05)

    def errors(self):
        return self.error_file.read_text(errors="replace") if self.error_file.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
