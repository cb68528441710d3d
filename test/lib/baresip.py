"""baresip (Debian's `baresip-core`, 1.0) as a SIP phone for the tests (issue 13): a
private instance with its own configuration directory (-f), registered on a Kamailio,
driven over its TCP control interface (ctrl_tcp: netstring JSON), playing a sine tone
of the test's frequency as its microphone (ausine) and recording what it hears to WAV
files (sndfile), so a test can find the peer's tone by FFT (tone.detect_tone).

    phone = Baresip(root, "bob", domain="contoso.test", proxy=("127.0.0.1", 5060),
                    addr="127.0.0.33", sip_port=N, ctrl_port=M, rtp_ports=(lo, hi),
                    tone=1000).start()
    phone.wait_registered()
    phone.dial("sip:carol@contoso.test")     # or phone.accept(), phone.hangup()
    phone.wait_event("CALL_ESTABLISHED")     # the event dict (type, peeruri, id, ...)
    phone.heard(1500)                        # the peer's tone in the newest recording
    phone.stop()

Events are ctrl_tcp's: {"event": true, "type": "CALL_INCOMING" | "CALL_ESTABLISHED" |
"CALL_CLOSED" | "REGISTER_OK" | ..., "peeruri": ..., "id": ...}. Commands answer
{"response": true, "ok": bool, "data": ...}. The process runs in the foreground of this
process's child, its output in root/baresip.log; it registers through the proxy with
no authentication unless `password` is given (digest). Audio: 48 kHz stereo at the
devices (what ausine needs), PCMU on the wire, no sound card (the player is a
no-op bridge device; sndfile records the decoded audio before it: Debian's baresip 1.0's
aufile is a source only, it cannot play into a file).
"""
import json
import queue
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np

import tone as tones
from daemon import Daemon

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULES = "/usr/lib/baresip/modules"


class Baresip(Daemon):
    def __init__(self, root, user, domain="contoso.test", proxy=("127.0.0.1", 5060),
                 addr="127.0.0.1", sip_port=5062, ctrl_port=4444, rtp_ports=(10000, 10019),
                 tone=1000, password=None, codecs=("pcmu",), register=True):
        self.root = Path(root)
        self.user, self.domain, self.proxy = user, domain, proxy
        self.addr, self.sip_port, self.ctrl_port = addr, sip_port, ctrl_port
        self.rtp_ports, self.tone, self.password = rtp_ports, tone, password
        self.codecs = codecs
        self.register = register      # False: no REGISTER (a mobile behind a gateway route)
        self.proc = None
        self.sock = None
        self.events = queue.Queue()
        self.seen = []            # every event so far, in order
        self._responses = queue.Queue()
        self._reader = None
        self._token = 0

    @property
    def aor(self): return f"sip:{self.user}@{self.domain}"
    @property
    def log_file(self): return self.root / "baresip.log"
    @property
    def rec_dir(self): return self.root / "recordings"

    def write_config(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.rec_dir.mkdir(exist_ok=True)
        lo, hi = self.rtp_ports
        conf = [
            "poll_method epoll",
            f"sip_listen {self.addr}:{self.sip_port}",
            "sip_transports udp",
            "call_local_timeout 120",
            "call_max_calls 4",
            f"audio_source ausine,{self.tone}",
            "audio_player aubridge,none",
            "audio_alert aubridge,none",
            "ausrc_srate 48000", "auplay_srate 48000",
            "ausrc_channels 2", "auplay_channels 2",
            f"rtp_ports {lo}-{hi}",
            "rtcp_mux no",
            "jitter_buffer_delay 1-10",
            f"module_path {MODULES}",
            *[f"module {c}.so" for c in ("g711",)],
            "module ausine.so", "module aubridge.so", "module sndfile.so",
            "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen {self.addr}:{self.ctrl_port}",
            f"snd_path {self.rec_dir}",
            f"net_interface {self.addr}",
        ]
        (self.root / "config").write_text("\n".join(conf) + "\n")
        params = [f"outbound=\"sip:{self.proxy[0]}:{self.proxy[1]};transport=udp\"",
                  f"regint={60 if self.register else 0}", "answermode=manual",
                  "audio_codecs=" + ",".join(
                      {"pcmu": "PCMU/8000/1", "pcma": "PCMA/8000/1"}[c] for c in self.codecs),
                  "mediaenc=", "medianat="]
        if self.password:
            params.insert(0, f"auth_pass={self.password}")
        (self.root / "accounts").write_text(f"<{self.aor}>;" + ";".join(params) + "\n")
        (self.root / "contacts").write_text("")
        (self.root / "uuid").write_text(f"00000000-0000-4000-8000-{self.sip_port:012d}\n")

    def start(self, timeout=10):
        self.write_config()
        self.spawn([BARESIP, "-f", str(self.root)])

        def connected():
            try:
                self.sock = socket.create_connection((self.addr, self.ctrl_port), timeout=0.5)
                return True
            except OSError:
                return False
        self.wait_ready(connected, f"baresip {self.user} (ctrl_tcp {self.ctrl_port})")
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        buf = b""
        sock = self.sock
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                buf += data
                while True:
                    colon = buf.find(b":")
                    if colon < 0:
                        break
                    n = int(buf[:colon])
                    if len(buf) < colon + 1 + n + 1:
                        break
                    msg = json.loads(buf[colon + 1:colon + 1 + n])
                    buf = buf[colon + 1 + n + 1:]     # the trailing ','
                    if msg.get("event"):
                        self.seen.append(msg)
                        self.events.put(msg)
                    elif msg.get("response"):
                        self._responses.put(msg)
        except (OSError, ValueError):
            pass

    def command(self, command, params="", timeout=5):
        """Runs a baresip command (menu's: dial, accept, hangup, ...): its response."""
        self._token += 1
        token = str(self._token)
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = self._responses.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if r.get("token") == token:
                return r
        raise TimeoutError(f"baresip {self.user}: no answer to {command}")

    def registered(self):
        """The account is registered (reginfo says OK: the REGISTER_OK event may have
        come before the control connection did)."""
        return "OK" in self.command("reginfo").get("data", "").replace("\x1b[32m", "")

    def wait_registered(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.registered():
                return True
            time.sleep(0.1)
        raise TimeoutError(f"baresip {self.user}: not registered within {timeout} s\n"
                           f"{self.log_text()[-2000:]}")

    def dial(self, uri):
        return self.command("dial", uri)

    def accept(self):
        return self.command("accept")

    def hangup(self):
        return self.command("hangup")

    def wait_event(self, kind, timeout=10):
        """The next event of that type (others are skipped, still kept in .seen)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if ev.get("type") == kind:
                return ev
        raise TimeoutError(f"baresip {self.user}: no {kind} within {timeout} s; "
                           f"saw {[e.get('type') for e in self.seen]}")

    def wait_canceled(self, since, timeout=10):
        """The ringing call closes on a CANCEL (libre says "reset by peer") without having
        been established since event number `since` (len(.seen) before)."""
        closed = self.wait_event("CALL_CLOSED", timeout=timeout)
        assert "reset by peer" in closed.get("param", ""), closed
        assert "CALL_ESTABLISHED" not in [e.get("type") for e in self.seen[since:]]
        return closed

    def recordings(self):
        """The WAV files of decoded (received) audio, oldest first."""
        return sorted(self.rec_dir.glob("*-dec.wav"), key=lambda p: p.stat().st_mtime)

    def received(self):
        """(samples of the first channel, rate) of the newest received-audio recording.
        Read while sndfile still writes it: the header's sizes are not final then, so
        the data is whatever follows the data chunk's header."""
        files = self.recordings()
        raw = files[-1].read_bytes() if files else b""
        fmt, data = raw.find(b"fmt "), raw.find(b"data")
        if fmt < 0 or data < 0 or len(raw) < fmt + 24:
            return np.zeros(0), 8000
        channels = int.from_bytes(raw[fmt + 10:fmt + 12], "little")
        rate = int.from_bytes(raw[fmt + 12:fmt + 16], "little")
        body = raw[data + 8:]
        body = body[:len(body) // (2 * channels) * 2 * channels]
        samples = np.frombuffer(body, dtype="<i2")[::max(channels, 1)]
        return samples.astype(np.float64), rate

    def heard(self, freq, seconds=1.0, timeout=5.0):
        """tone.detect_tone on the last `seconds` of the newest recording, once that
        long a recording exists (waits up to timeout): a tone.Tone."""
        deadline = time.time() + timeout
        while True:
            samples, rate = self.received()
            need = int(seconds * rate)
            if len(samples) >= need + rate // 5 or time.time() > deadline:
                # skip the first fifth of a second (jitter buffer filling)
                return tones.detect_tone(samples[-need:], freq, rate=rate)
            time.sleep(0.1)

    def stop(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        super().stop()
