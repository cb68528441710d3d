"""ucwa-sipd, mod_ucwa's SIP side (issue 13): with UcwaSip On, Apache's parent forks the
process, which answers SIP OPTIONS over UDP and TCP on UcwaSipExternalListeningPort and
UcwaSipPrimaryListeningPort, refuses what it does not handle with SIP errors (481 for
unknown dialogs), survives hostile input, answers `status` and `ng-ping` (against a real
private rtpengine) on its command socket, is shown in /ucwa-status, comes back within a
second or two after kill -9, is kept across a graceful restart (replaced when its
settings change; UcwaSip Off stops it) and is gone with its ports when Apache stops.
Without UcwaSip nothing is forked; a port in use is a start-up error, not a fork loop; with
UcwaSipCertificateFile the stream transport is TLS, and a renewed certificate is loaded
by a graceful restart; configtest refuses bad settings."""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

import conftest
import mobility
import rtpengine as rtpengine_lib
from ucwa_client import Fe, start_fe, stop_fe

ALLOWED = list(conftest.ALLOWED_LOG) + [
    re.compile(r"UCWA00642"),   # died, restarting (the kill -9 test)
    re.compile(r"UCWA00655"),   # rtpengine did not answer (the rtpengine-down test)
]


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def rtpengine(workdir):
    lo = 41000 + os.getpid() % 500 * 20
    r = rtpengine_lib.Rtpengine(workdir / "rtpengine-sipd", ng_port=free_udp_port(),
                                rtp_ports=(lo, lo + 99))
    r.start()
    yield r
    r.stop()


def sip_ports(topo):
    """The instance's two SIP ports: below the ephemeral range (32768-60999), where the
    HTTP ports of an offset above 30000 are, so no client connection holds them."""
    base = 15088 + (topo.offset - 30000) // 10
    return base, base + 1


def hang_up(conns):
    """Closes with a reset: thousands of closes must not leave thousands of ephemeral
    ports in TIME_WAIT for the next instances' port checks (and other test runs)."""
    for c in conns:
        try:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        except OSError:
            pass


def sip_extra(ext, pri, rtp_port, more=""):
    return "\n".join(['<Location "/server-status">', "SetHandler server-status",
                      "Require ip 127.0.0.1", "</Location>", "UcwaSip On", "UcwaSipListenAddress 127.0.0.1",
                      f"UcwaSipExternalListeningPort {ext}", f"UcwaSipPrimaryListeningPort {pri}",
                      f"UcwaRtpengine 127.0.0.1:{rtp_port}", more])


@pytest.fixture(scope="module")
def fe(workdir, state, rtpengine):
    # the SIP ports follow the instance's port offset, as its HTTP ports do
    probe = mobility.Topology(offset=mobility.free_offset(start=30000))
    ext, pri = sip_ports(probe)
    f = start_fe(workdir, state, "ucwa-sipd", servers=2,
                 extra=sip_extra(ext, pri, rtpengine.ng_port))
    f.sip_ports = (ext, pri)
    yield f
    stop_fe(f, ALLOWED)


# ---- SIP on the wire ----

def options(port, tcp=False, to_tag=None, method="OPTIONS", extra=b"", timeout=2.0):
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    proto = "TCP" if tcp else "UDP"
    to = f"<sip:ucwa@127.0.0.1:{port}>" + (f";tag={to_tag}" if to_tag else "")
    msg = (f"{method} sip:ucwa@127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/{proto} 127.0.0.1:9;branch={branch};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=t{branch[-6:]}\r\n"
           f"To: {to}\r\nCall-ID: {uuid.uuid4().hex}@127.0.0.1\r\n"
           f"CSeq: 1 {method}\r\n").encode() + extra + b"Content-Length: 0\r\n\r\n"
    return exchange(port, msg, tcp, timeout)


def exchange(port, msg, tcp=False, timeout=2.0):
    """The first answer to msg: (status code, headers text), or None."""
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(msg)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        s.close()
    else:
        # resent every 250 ms, as a UAC does (RFC 3261's timer A, shorter): a datagram
        # may be dropped when a flood fills the socket's buffer
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        deadline, data = time.time() + timeout, b""
        while not data and time.time() < deadline:
            s.sendto(msg, ("127.0.0.1", port))
            s.settimeout(min(0.25, max(0.01, deadline - time.time())))
            try:
                data = s.recv(65535)
            except OSError:
                pass
        s.close()
    if not data.startswith(b"SIP/2.0 "):
        return None
    return int(data[8:11]), data.decode(errors="replace")


# ---- the command socket ----

def sock_path_of(fe, parent):
    return fe.apache.root / "run" / f"ucwa-sipd.{parent}.sock"


def sock_path(fe):
    return sock_path_of(fe, fe.apache.proc.pid)


def command(fe, *requests):
    """Sends each request (a dict) on one connection; the answers, in order."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock_path(fe)))
    f = s.makefile("rwb")
    out = []
    for r in requests:
        f.write(json.dumps(r).encode() + b"\n")
        f.flush()
        out.append(json.loads(f.readline()))
    s.close()
    return out


def status(fe):
    return command(fe, {"cmd": "status"})[0]


def wait_answering(fe, not_pid=None, timeout=3.0):
    """Waits until the process answers OPTIONS (a new one when not_pid); its status."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            st = status(fe)
            if st["pid"] != not_pid and options(fe.sip_ports[0], timeout=0.3):
                return st
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError("ucwa-sipd did not come back")


# ---- tests ----

def test_options_over_udp_and_tcp_on_both_ports(fe):
    for port in fe.sip_ports:
        for tcp in (False, True):
            code, text = options(port, tcp=tcp)
            assert code == 200, text
            assert re.search(r"^Allow: .*OPTIONS.*INVITE", text, re.M), text
            assert re.search(r"^Accept: application/sdp", text, re.M), text


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipsak_options(fe, transport):
    """A third-party client (Debian's sipsak) pings it: exit 0 means a 200 came back."""
    r = subprocess.run(["sipsak", "-vv", "-s", f"sip:ucwa@127.0.0.1:{fe.sip_ports[0]}",
                        "-E", transport, "-H", "127.0.0.1"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "200 OK" in r.stdout and "Server: ucwa-sipd" in r.stdout, r.stdout


def test_what_it_does_not_handle_gets_sip_errors(fe):
    port = fe.sip_ports[1]
    assert options(port, method="INVITE")[0] == 480
    assert options(port, method="MESSAGE")[0] == 501
    assert options(port, method="REGISTER", tcp=True)[0] == 501
    # requests inside a dialog it does not know
    assert options(port, method="BYE")[0] == 481
    assert options(port, method="INFO", to_tag="nodialog")[0] == 481
    assert options(port, to_tag="nodialog", tcp=True)[0] == 481


def test_status_command_and_ids(fe):
    st = status(fe)
    assert st["ok"] and st["running"] and st["calls"] == 0 and st["restarts"] == 0
    assert st["externalPort"] == fe.sip_ports[0] and st["primaryPort"] == fe.sip_ports[1]
    assert st["store"] is True and st["applications"] >= 0
    assert st["pid"] not in (fe.apache.proc.pid, os.getpid())
    # the process runs as Apache's user (nobody when the tests run as root)
    uid = int(re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{st['pid']}/status").read_text(),
                        re.M).group(1))
    assert uid == (65534 if os.geteuid() == 0 else os.geteuid())
    mode = sock_path(fe).stat().st_mode & 0o777
    assert mode == 0o600
    # a command repeated with its id gets the first answer (a child that died asks again)
    first, again, other = command(fe, {"cmd": "status", "id": "s-1"},
                                  {"cmd": "status", "id": "s-1"},
                                  {"cmd": "status", "id": "s-2"})
    assert first == again and first["id"] == "s-1"
    assert other["id"] == "s-2" and other["commands"] > first["commands"]
    bad = command(fe, {"cmd": "nonsense"}, {"nocmd": 1}, {"cmd": "status", "id": 7})
    assert [b["ok"] for b in bad] == [False, False, False]
    # a garbage line, then a good one on the same connection
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock_path(fe)))
    s.sendall(b"\x00\xff{{{\n{\"cmd\":\"status\"}\n")
    f = s.makefile("rb")
    assert json.loads(f.readline())["ok"] is False
    assert json.loads(f.readline())["ok"] is True
    s.close()


def test_status_pages_show_the_sip_side(fe):
    sip = fe.status()["sip"]
    assert sip["running"] is True and sip["pid"] == status(fe)["pid"]
    base = fe.status_url.rsplit("/", 1)[0]
    auto = requests.get(base + "/server-status?auto", timeout=10).text
    line = [x for x in auto.splitlines() if x.startswith("UcwaSip: ")]
    assert len(line) == 1 and json.loads(line[0][9:])["pid"] == sip["pid"], auto
    page = requests.get(base + "/server-status", timeout=10).text
    assert "<h2>ucwa-sipd (mod_ucwa's SIP side)</h2>" in page
    assert f"&quot;pid&quot;:{sip['pid']}" in page


def test_ng_ping_reaches_rtpengine(fe, rtpengine):
    answer, = command(fe, {"cmd": "ng-ping", "id": "p-1"})
    assert answer["ok"] is True and answer["result"] == "pong", answer
    assert 0 < answer["rttMicroseconds"] < 1_000_000
    assert command(fe, {"cmd": "ng-ping", "id": "p-1"})[0] == answer
    log = (rtpengine.root / "rtpengine.log").read_text()
    assert "Received command 'ping'" in log


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_idle_cpu_is_negligible(fe):
    """Idle (no call, nothing in the outbox), the process's outbox poll backs off: it
    uses under 0.5% of a core (measured over 4 s; 2 ms polls cost about 1%)."""
    pid = wait_answering(fe)["pid"]
    time.sleep(0.5)             # past the first idle polls
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    time.sleep(4)
    share = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    print(f"ucwa-sipd idle CPU: {100 * share:.2f}% of a core")
    assert share < 0.005, f"ucwa-sipd uses {100 * share:.2f}% of a core idle"


def test_hostile_input_leaves_it_answering(fe):
    pid = status(fe)["pid"]
    ext, pri = fe.sip_ports
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk = [b"", b"\x00" * 100, os.urandom(1400), b"OPTIONS\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nVia: garbage\r\nCSeq: x\r\n\r\n",
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n\r\n",
            b"INVITE sip:x SIP/2.0\r\n" + b"X-Long: " + b"a" * 60000 + b"\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\n" + b"Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n" * 500
            + b"\r\n"]
    for j in junk:
        for port in (ext, pri):
            u.sendto(j, ("127.0.0.1", port))
    # a flood: 3000 datagrams of valid OPTIONS, answered or dropped, never a crash
    msg = (f"OPTIONS sip:ucwa@127.0.0.1:{ext} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;"
           f"branch=z9hG4bKflood\r\nFrom: <sip:f@x>;tag=1\r\nTo: <sip:u@x>\r\n"
           f"Call-ID: flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
    for _ in range(3000):
        u.sendto(msg, ("127.0.0.1", ext))
    u.close()
    # TCP: an oversized message, a half message left open, many connections
    conns = []
    started = time.time()
    for i in range(100):
        c = socket.create_connection(("127.0.0.1", pri), timeout=2)
        if i % 10 == 0:
            c.sendall(b"OPTIONS sip:x SIP/2.0\r\nX: " + b"b" * 70000)
        elif i % 10 == 1:
            c.sendall(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2")
        conns.append(c)
    # none waited for a SYN retransmit (libre's own listen backlog is 5: 1 s stalls)
    assert time.time() - started < 1.0
    hang_up(conns)
    for port in (ext, pri):
        for tcp in (False, True):
            assert options(port, tcp=tcp)[0] == 200
    after = status(fe)
    assert after["pid"] == pid and after["sipRequests"] > 100


def test_thousands_of_idle_connections(fe):
    """libre watches 1,024 descriptors unless told otherwise: idle connections to
    a SIP port (1,500 here) left none for SIP over TCP or for the children's commands."""
    pid = status(fe)["pid"]
    conns = [socket.create_connection(("127.0.0.1", fe.sip_ports[1]), timeout=2)
             for _ in range(1500)]
    try:
        assert options(fe.sip_ports[1], tcp=True)[0] == 200
        assert status(fe)["pid"] == pid
    finally:
        hang_up(conns)


def test_no_descriptor_left_still_takes_commands(workdir, state):
    """Apache (so ucwa-sipd) limited to 200 descriptors, 400 connections to a SIP port:
    the process spins on accept but answers UDP and its command socket (descriptors kept
    in reserve), and takes TCP again once they go."""
    topo = mobility.Topology(offset=mobility.free_offset(start=30000))
    ext, pri = sip_ports(topo)
    a = mobility.front_end(workdir / "ucwa-sipfds", state, topo, servers=2,
                           extra=sip_extra(ext, pri, 9))
    cmd = a.cmd
    a.cmd = lambda *args: ["prlimit", "--nofile=200:200", "--", *cmd(*args)]
    a.topo = topo
    a.start()
    f = Fe(a, state)
    f.sip_ports = (ext, pri)
    try:
        pid = status(f)["pid"]
        conns = [socket.create_connection(("127.0.0.1", pri), timeout=2) for _ in range(400)]
        time.sleep(0.3)
        assert len(os.listdir(f"/proc/{pid}/fd")) >= 190
        for _ in range(3):
            assert status(f)["pid"] == pid
        assert options(ext)[0] == 200
        hang_up(conns)
        time.sleep(0.3)
        assert options(pri, tcp=True)[0] == 200
        assert status(f)["pid"] == pid
    finally:
        stop_fe(f, ALLOWED)


def test_kill_9_brings_it_back(fe):
    before = status(fe)
    started = time.time()
    os.kill(before["pid"], signal.SIGKILL)
    st = wait_answering(fe, not_pid=before["pid"], timeout=3)
    took = time.time() - started
    assert took < 2.5, took
    assert st["restarts"] == before["restarts"] + 1
    assert fe.status()["sip"]["pid"] == st["pid"]
    assert "UCWA00642" in fe.apache.log_text()


def wait_generation(fe, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fe.apache.log_text().count("AH00493") >= n:
            return
        time.sleep(0.05)
    raise AssertionError("no graceful restart")


def wait_log(fe, tag, n, timeout=10):
    """Waits until the error log holds tag n times (AH00493 is logged before the new
    configuration is read: what mod_ucwa decides comes later)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fe.apache.log_text().count(tag) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{tag} not logged {n} times")


def test_graceful_restart_keeps_it_and_a_change_replaces_it(fe):
    pid = status(fe)["pid"]
    n = fe.apache.log_text().count("AH00493")
    kept = fe.apache.log_text().count("UCWA00645")
    fe.apache.graceful()
    wait_generation(fe, n + 1)
    wait_log(fe, "UCWA00645", kept + 1)
    st = wait_answering(fe)
    assert st["pid"] == pid          # same settings: kept, calls would go on
    assert options(fe.sip_ports[1], tcp=True)[0] == 200
    # another setting: replaced by a process that has it
    fe.apache.body += "\nUcwaSipProxy 127.0.0.1:5060\n"
    fe.apache.graceful()
    wait_generation(fe, n + 2)
    st = wait_answering(fe, not_pid=pid)
    assert st["proxy"] == "127.0.0.1:5060"
    assert "UCWA00646" in fe.apache.log_text()


def test_turned_off_by_a_graceful_restart_and_on_again(fe):
    pid, restarts = status(fe)["pid"], status(fe)["restarts"]
    n = fe.apache.log_text().count("AH00493")
    fe.apache.body = fe.apache.body.replace("UcwaSip On", "UcwaSip Off")
    fe.apache.graceful()
    wait_generation(fe, n + 1)
    wait_log(fe, "UCWA00643", 1)
    assert not Path(f"/proc/{pid}").exists()
    assert "sip" not in fe.status()
    assert options(fe.sip_ports[0], timeout=0.5) is None
    fe.apache.body = fe.apache.body.replace("UcwaSip Off", "UcwaSip On")
    fe.apache.graceful()
    wait_generation(fe, n + 2)
    # started again, not restarted after a death
    assert wait_answering(fe, not_pid=pid)["restarts"] == restarts


def test_rtpengine_down_is_an_error_answer(fe, rtpengine):
    rtpengine.stop()
    started = time.time()
    answer, = command(fe, {"cmd": "ng-ping"})
    assert answer["ok"] is False and "did not answer" in answer["error"]
    assert 1.0 < time.time() - started < 3.0
    assert options(fe.sip_ports[0])[0] == 200


def test_stop_ends_it_and_frees_the_ports(fe):
    pid, parent = status(fe)["pid"], fe.apache.proc.pid
    fe.apache.stop()
    deadline = time.time() + 3
    while time.time() < deadline and Path(f"/proc/{pid}").exists() \
            and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]:
        time.sleep(0.02)
    assert not Path(f"/proc/{pid}").exists() or \
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not sock_path_of(fe, parent).exists()
    for port in fe.sip_ports:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.close()


def test_nothing_forked_without_the_directive(workdir, state):
    f = start_fe(workdir, state, "ucwa-nosip", servers=2)
    try:
        assert "sip" not in f.status()
        assert not list((f.apache.root / "run").glob("ucwa-sipd.*"))
        assert "UCWA00654" not in f.apache.log_text()
        # only the worker children: none of them is ucwa-sipd (it would not be in the
        # scoreboard; here every child of the parent is one Apache's ServerLimit counts)
        kids = mobility.child_pids(f.apache.proc.pid)
        assert len(kids) == 2, kids
    finally:
        stop_fe(f)


def test_a_port_in_use_is_a_start_up_error_not_a_loop(workdir, state):
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    f = start_fe(workdir, state, "ucwa-sipbusy", servers=2,
                 extra=sip_extra(port, port + 1 if port < 65535 else port - 1, 9))
    try:
        deadline = time.time() + 5
        while time.time() < deadline and "UCWA00641" not in f.apache.log_text():
            time.sleep(0.05)
        log = f.apache.log_text()
        assert "UCWA00647" in log and "UCWA00641" in log, log
        time.sleep(1.5)     # the MPM's loop would have forked it again by now
        log = f.apache.log_text()
        assert "UCWA00654" not in log and "UCWA00642" not in log
        assert log.count("UCWA00647") == 1
        assert f.status()["sip"] == {"running": False}
    finally:
        held.close()
        stop_fe(f, ALLOWED + [re.compile(r"UCWA00647|UCWA00641")])


def make_cert(d: Path, cn):
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem")], check=True, capture_output=True)
    (d / "both.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    for f in d.iterdir():
        f.chmod(0o600)     # read by the process as root, before it drops privileges
    return d


def tls_options(port):
    """OPTIONS over TLS: (status code, the server's certificate in DER)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=3)
    s = ctx.wrap_socket(raw)
    der = s.getpeercert(binary_form=True)
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    s.sendall((f"OPTIONS sip:ucwa@127.0.0.1:{port};transport=tls SIP/2.0\r\n"
               f"Via: SIP/2.0/TLS 127.0.0.1:9;branch={branch};rport\r\nMax-Forwards: 70\r\n"
               f"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:ucwa@127.0.0.1>\r\n"
               f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data[8:11]), der


def cert_der(path):
    import ssl
    return ssl.PEM_cert_to_DER_cert((path).read_text())


def test_tls_with_a_certificate_and_its_renewal(workdir, state):
    certs = make_cert(workdir / "sip-tls", "sip1.contoso.test")
    probe = mobility.Topology(offset=mobility.free_offset(start=30000))
    ext, pri = sip_ports(probe)
    base = sip_extra(ext, pri, 9)
    f = start_fe(workdir, state, "ucwa-siptls", servers=2,
                 extra=base + f'\nUcwaSipCertificateFile "{certs / "both.pem"}"\n')
    f.sip_ports = (ext, pri)
    try:
        first = cert_der(certs / "cert.pem")
        for port in (ext, pri):
            assert tls_options(port) == (200, first)
            assert options(port)[0] == 200          # UDP stays
            assert options(port, tcp=True, timeout=1) is None   # plain TCP is not spoken
        st = status(f)
        assert st["stream"] == "TLS"
        # a renewed certificate at the same path: the next graceful restart loads it
        make_cert(certs, "sip2.contoso.test")
        n = f.apache.log_text().count("AH00493")
        f.apache.graceful()
        wait_generation(f, n + 1)
        st2 = wait_answering(f, not_pid=st["pid"])
        assert tls_options(ext) == (200, cert_der(certs / "cert.pem"))
        # the certificate and its key in two files
        f.apache.body = f.apache.body.replace(
            f'UcwaSipCertificateFile "{certs / "both.pem"}"',
            f'UcwaSipCertificateFile "{certs / "cert.pem"}" "{certs / "key.pem"}"')
        f.apache.graceful()
        wait_generation(f, n + 2)
        wait_answering(f, not_pid=st2["pid"])
        assert tls_options(pri) == (200, cert_der(certs / "cert.pem"))
    finally:
        stop_fe(f, ALLOWED)


@pytest.mark.parametrize("line,message", [
    ("UcwaSipListenAddress sip.contoso.test", "UcwaSipListenAddress: an IPv4 or IPv6 address"),
    ("UcwaSipExternalListeningPort 70000", "UcwaSipExternalListeningPort"),
    ("UcwaSipProxy 127.0.0.1", "UcwaSipProxy: host:port"),
    ("UcwaRtpengine no-such-host.invalid:2223", "UcwaRtpengine: cannot resolve"),
    ("UcwaSipCertificateFile /nonexistent/sip.pem", "UcwaSipCertificateFile: cannot read"),
    ('UcwaWorkHours "Mon-Fri 08:00-17:00" Mars/Olympus',
     "UcwaWorkHours: time zone 'Mars/Olympus'"),
    ('UcwaWorkHours "Mon-Fro 08:00-17:00" UTC', "UcwaWorkHours: days 'Mon-Fro'"),
    ('UcwaWorkHours "Mon-Fri 17:00-17:00" UTC', "UcwaWorkHours: hours '17:00-17:00'"),
])
def test_configtest_refuses_bad_settings(workdir, state, line, message):
    topo = mobility.Topology(offset=mobility.free_offset(start=40000))
    a = mobility.front_end(workdir / "sipcfg", state, topo, extra="UcwaSip On\n" + line)
    r = a.configtest()
    assert r.returncode != 0, r.stdout + r.stderr
    assert message in r.stdout + r.stderr, r.stdout + r.stderr

