"""Hostile SIP on the paths of issue 13, through real sockets against a running ucwa-sipd
(one Apache with UcwaSip On beside a SIP side: Kamailio, rtpengine, the SIPp gateway
that answers). A live call via work (alice's phone and the target both behind the
gateway) gives a real dialog to attack:

- requests in a forged dialog of that live call (its Call-ID, tags that are not its own),
  sent straight to ucwa-sipd's port from Kamailio's address: re-INVITE, BYE, INFO,
  UPDATE get 481, a CANCEL with a wrong branch 481; the same requests with the dialog's
  real tags from an address that is not UcwaSipProxy get 403 (UCWA01200) and do not end
  it; the call goes on (Connected, no BYE at the gateway) and stopPhoneAudio still ends
  it (a BYE on both legs);
- a flood of INVITEs to numbers (the single number reach look-up) from Kamailio's address
  and from another one: each answered, the process still answers OPTIONS and its status,
  no call left behind;
- INVITEs with hostile Diversion / History-Info / P-Asserted-Identity (huge, many, a
  loop) and numbers with odd `;ext=`, parameters and percent-escapes: answered, nothing
  left; a P-Asserted-Identity naming another user does not make the caller that user
  (alice's application sees the From, as Kamailio passes it); a UDP message over libre's
  8 KiB is dropped without an answer;
- a forged From (bob) sent to Kamailio from an address that is no phone: 403, alice's
  application does not ring;
- the command socket's hostile lines: an error answer or a closed connection each.
Before UCWA01200 the BYE with the real tags from elsewhere got 200 and ended the call;
the other tests are regression guards (they passed before)."""
import json
import re
import socket
import time
import uuid

import pytest

import conftest
import kamailio
import sip_fixtures
from sip_side import SipSide, sipd_status as status
from ucwa_call import CallApp
from ucwa_client import FAST, start_fe, stop_fe

DOMAIN = "contoso.test"
UNTRUSTED = "127.0.0.2"
ALLOWED = list(conftest.ALLOWED_LOG) + [
    re.compile(r"UCWA007[0-9][0-9]"), re.compile(r"UCWA0080[0-9]"),
    re.compile(r"UCWA0086[0-9]"), re.compile(r"UCWA0120[0-9]")]

# route 1: the SIP side's SIPp gateway (answers after 500 ms); alice has a work number
VOICE_SQL = r"""
INSERT INTO ucwa_dial_plans (identity) VALUES ('Global');
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Local', 1, '^\+1555\d{4}$', 'Local', '1', NULL);
INSERT INTO ucwa_voice_users VALUES ('alice@contoso.test', NULL, NULL, 'tel:+14255550111');
"""


@pytest.fixture(scope="module")
def side(workdir):
    offset = kamailio.free_sip_offset(list(SipSide.BASES) + [5088, 5089])
    s = SipSide(workdir / "sip-hostile", host="127.0.0.1", domain=DOMAIN, offset=offset,
                ucwa=["127.0.0.1"])
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fe(workdir, state, side):
    st = sip_fixtures.voice_state(workdir, state, "sip-hostile", VOICE_SQL)
    f = start_fe(workdir, st, "sip-hostile",
                 extra="\n".join([FAST, "UcwaCallRingTimeout 6"] + side.ucwa_directives()))
    yield f
    stop_fe(f, ALLOWED)


logs = sip_fixtures.logs_fixture(ALLOWED)


def sipd_port(side):
    return 5089 + side.offset


class Udp:
    """A UDP socket on addr sending to ucwa-sipd; answers read back by Call-ID."""

    def __init__(self, side, addr="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((addr, 0))
        self.addr, self.port = self.s.getsockname()
        self.dest = ("127.0.0.1", sipd_port(side))
        self.seen = []

    def request(self, method, ruri, call_id, from_tag, to_tag=None, cseq=1, branch=None,
                headers="", body=b"", from_uri=f"sip:mallory@{DOMAIN}",
                to_uri=f"sip:alice@{DOMAIN}"):
        branch = branch or "z9hG4bK" + uuid.uuid4().hex[:16]
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        msg = (f"{method} {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={branch};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <{from_uri}>;tag={from_tag}\r\n"
               f"To: <{to_uri}>{';tag=' + to_tag if to_tag else ''}\r\n"
               f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
               f"Contact: <sip:mallory@{self.addr}:{self.port}>\r\n{headers}{ctype}"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.s.sendto(msg, self.dest)

    def final(self, call_id, method, timeout=3.0):
        """The first final answer (>= 200) to method in call_id: its status code. Answers
        to other requests are kept for later calls (a 487 may come before the CANCEL's
        200)."""
        deadline = time.time() + timeout
        while True:
            for i, data in enumerate(self.seen):
                m = re.match(r"SIP/2.0 (\d{3})", data)
                if (m and int(m.group(1)) >= 200 and f"Call-ID: {call_id}\r" in data
                        and re.search(rf"CSeq: \d+ {method}\r", data)):
                    del self.seen[i]
                    return int(m.group(1))
            if time.time() >= deadline:
                return None
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                self.seen.append(self.s.recv(65535).decode(errors="replace"))
            except socket.timeout:
                return None

    def close(self):
        self.s.close()


SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def live_call(users, side):
    """alice's call via work, connected: (app, call, leg A's INVITE at the gateway, the
    gateway's tag in that dialog)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    call = alice.call_via_work("tel:+15550200", phone="tel:+15550103")
    call.connected(timeout=20)
    inv = [m for m in side.gw.requests("INVITE") if m.user == "+15550103"][-1]
    cid = inv.header("Call-ID")
    ok = [m for m in side.gw.messages(received=False)
          if m.status == 200 and m.header("Call-ID") == cid][0]
    gw_tag = re.search(r"tag=([^;>\s]+)", ok.header("To")).group(1)
    return alice, call, inv, gw_tag


def byes_for(side, cid):
    return [m for m in side.gw.requests("BYE") if m.header("Call-ID") == cid]


def test_forged_and_foreign_requests_leave_a_live_call_up(fe, side, users):
    alice, call, inv, gw_tag = live_call(users, side)
    cid = inv.header("Call-ID")
    sipd_tag = re.search(r"tag=([^;>\s]+)", inv.header("From")).group(1)
    ruri = f"sip:ucwa@127.0.0.1:{sipd_port(side)}"
    trusted, other = Udp(side), Udp(side, UNTRUSTED)
    try:
        # a forged dialog: the live call's Call-ID, tags that are not its own
        for method in ("INVITE", "BYE", "INFO", "UPDATE"):
            trusted.request(method, ruri, cid, gw_tag, to_tag="forged" + method,
                            body=SDP if method == "INVITE" else b"")
            assert trusted.final(cid, method) == 481, method
        trusted.request("BYE", ruri, cid, "forged", to_tag=sipd_tag)
        assert trusted.final(cid, "BYE") == 481
        trusted.request("CANCEL", ruri, cid, gw_tag, branch="z9hG4bKnotthebranch")
        assert trusted.final(cid, "CANCEL") == 481
        # a foreign dialog (another Call-ID)
        for method in ("BYE", "INFO", "UPDATE"):
            trusted.request(method, ruri, "foreign-" + cid, gw_tag, to_tag=sipd_tag)
            assert trusted.final("foreign-" + cid, method) == 481, method
        # the real dialog's tags, from an address that is not Kamailio's
        for n, method in enumerate(("INFO", "UPDATE", "INVITE", "BYE"), start=50):
            other.request(method, ruri, cid, gw_tag, to_tag=sipd_tag, cseq=n,
                          body=SDP if method == "INVITE" else b"")
            assert other.final(cid, method) == 403, method
    finally:
        trusted.close()
        other.close()
    time.sleep(0.5)
    assert not byes_for(side, cid), "the forged requests ended the call"
    assert call.phone_audio()["state"] == "Connected"
    assert status(fe)["calls"] >= 1
    r = alice.post(call.phone_audio()["_links"]["stopPhoneAudio"]["href"], expect=(204,))
    assert r is not None
    deadline = time.time() + 10
    while not byes_for(side, cid):
        assert time.time() < deadline, "stopPhoneAudio sent no BYE on leg A"
        time.sleep(0.05)
    call.ended()


def options_ok(side):
    u = Udp(side)
    try:
        cid = "opt-" + uuid.uuid4().hex
        u.request("OPTIONS", f"sip:ucwa@127.0.0.1:{sipd_port(side)}", cid, "o")
        return u.final(cid, "OPTIONS") == 200
    finally:
        u.close()


def flood(u, invites, batch=25, timeout=5.0):
    """Sends invites ([(ruri, call_id, headers)]) batch by batch; {call_id: final}."""
    got = {}
    for i in range(0, len(invites), batch):
        part = invites[i:i + batch]
        for ruri, cid, headers in part:
            u.request("INVITE", ruri, cid, "fl", headers=headers, body=SDP,
                      from_uri=f"sip:+15550999@{DOMAIN};user=phone")
        want = {cid for _, cid, _ in part}
        deadline = time.time() + timeout
        while want - got.keys() and time.time() < deadline:
            u.s.settimeout(max(0.01, deadline - time.time()))
            try:
                data = u.s.recv(65535).decode(errors="replace")
            except socket.timeout:
                break
            m = re.match(r"SIP/2.0 (\d{3})", data)
            c = re.search(r"Call-ID: (\S+)", data)
            if m and c and int(m.group(1)) >= 200:
                got[c.group(1)] = int(m.group(1))
    return got


def test_invite_flood_to_numbers(fe, side):
    """INVITEs to numbers nobody has (the single number reach look-up: SQL for each),
    odd spellings among them, from Kamailio's address (a final answer each, no call left)
    and from another address (403 each, UCWA00717). The process answers all along."""
    pid = status(fe)["pid"]
    numbers = [f"sip:+1555{n:04d}@{DOMAIN};user=phone" for n in range(150)] + [
        f"sip:1555{n:04d}@{DOMAIN};user=phone" for n in range(40)] + [
        f"sip:+1555{n:04d};ext={n}@{DOMAIN};user=phone" for n in range(20)] + [
        f"sip:%2B1555{n:04d}@{DOMAIN};user=phone" for n in range(20)] + [
        f"sip:+1555%30{n:03d}@{DOMAIN};user=phone;x=y;user=ip" for n in range(20)] + [
        f"sip:+{'9' * 40}@{DOMAIN};user=phone", f"sip:+@{DOMAIN};user=phone",
        f"sip:;ext=1@{DOMAIN};user=phone", f"sip:+1555%@{DOMAIN};user=phone",
        f"sip:+1555_100@{DOMAIN};user=phone", f"sip:+14255550111;ext=%00@{DOMAIN};user=phone"]
    trusted = Udp(side)
    try:
        invites = [(r, f"flood-{i}-{uuid.uuid4().hex[:8]}", "") for i, r in enumerate(numbers)]
        got = flood(trusted, invites)
    finally:
        trusted.close()
    missing = [r for r, cid, _ in invites if cid not in got]
    assert not missing, f"{len(missing)} INVITEs not answered: {missing[:5]}"
    assert all(code >= 400 for code in got.values()), sorted(set(got.values()))
    other = Udp(side, UNTRUSTED)
    try:
        invites = [(f"sip:+14255550111@{DOMAIN};user=phone", f"untrusted-{i}", "")
                   for i in range(100)]
        got = flood(other, invites)
    finally:
        other.close()
    assert len(got) == 100 and set(got.values()) == {403}, sorted(set(got.values()))
    assert options_ok(side)
    st = status(fe)
    assert st["pid"] == pid and st["calls"] == 0, st


def test_hostile_identity_headers(fe, side, users):
    """INVITEs to alice's work number with hostile Diversion / History-Info /
    P-Asserted-Identity (huge, 90 of them, a Diversion loop through her own number,
    another user's identity; under libre's 8 KiB, a bigger one is dropped) from Kamailio's address: alice's application rings for each
    with the caller the From names (a number), never the user a P-Asserted-Identity
    names; each INVITE is canceled and ends (487), no call left."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    line = "tel:+14255550111"
    hostile = {
        "huge-diversion": f"Diversion: <sip:{'a' * 3000}@{DOMAIN}>;reason=unconditional\r\n",
        "many-diversion": "".join(f"Diversion: <tel:+1555{n:04d}>;reason=no-answer;"
                                  f"counter={n}\r\n" for n in range(90)),
        "diversion-loop": f"Diversion: <{line}>;reason=unconditional;counter=99\r\n" * 20,
        "history-info": "".join(f"History-Info: <sip:alice@{DOMAIN}?Reason=SIP%3Bcause%3D"
                                f"302>;index=1.{n}\r\n" for n in range(60)),
        "pai-other-user": f"P-Asserted-Identity: <sip:bob@{DOMAIN}>\r\n"
                          f"P-Asserted-Identity: \"Bob\" <tel:+15550222>\r\n"
                          f"P-Preferred-Identity: <sip:bob@{DOMAIN}>\r\n",
        "pai-garbage": "P-Asserted-Identity: <<<sip:@>>>;;;\r\n"
                       f"P-Asserted-Identity: {'x' * 4000}\r\n",
    }
    u = Udp(side)
    try:
        # past what libre decodes (a UDP message over its buffer): dropped, nothing rings
        cid = "too-big-" + uuid.uuid4().hex[:8]
        u.request("INVITE", f"sip:+14255550111@{DOMAIN};user=phone", cid, "hh",
                  headers=f"Diversion: <sip:{'a' * 20000}@{DOMAIN}>\r\n", body=SDP)
        assert u.final(cid, "INVITE", timeout=1) in (None, 400, 413, 513)
        for what, headers in hostile.items():
            cid, branch = f"{what}-{uuid.uuid4().hex[:8]}", "z9hG4bK" + uuid.uuid4().hex[:12]
            u.request("INVITE", f"sip:+14255550111@{DOMAIN};user=phone", cid, "hh",
                      headers=headers, body=SDP, branch=branch,
                      from_uri=f"sip:+15550999@{DOMAIN};user=phone")
            ring = alice.ringing(timeout=10)
            # the caller as shown: the from participant and link (not the offer's bytes)
            shown = json.dumps([ring.inv.get("_embedded", {}).get("from"),
                                ring.links.get("from")])
            assert "bob" not in shown.lower() and "15550222" not in shown, (what, shown)
            assert "15550999" in shown, (what, shown)
            u.request("CANCEL", f"sip:+14255550111@{DOMAIN};user=phone", cid, "hh",
                      branch=branch, from_uri=f"sip:+15550999@{DOMAIN};user=phone")
            assert u.final(cid, "CANCEL") == 200, what
            assert u.final(cid, "INVITE", timeout=5) == 487, what
            alice.wait("audioVideoInvitation", "completed", timeout=10)
    finally:
        u.close()
    assert options_ok(side)
    deadline = time.time() + 5
    while status(fe)["calls"] and time.time() < deadline:
        time.sleep(0.1)
    assert status(fe)["calls"] == 0, status(fe)


def test_forged_from_through_kamailio_is_not_that_user(fe, side, users):
    """An INVITE to alice sent to Kamailio from an address that is neither a phone, a
    gateway nor the UCWA SIP side, its From naming bob (a user of this server): it does
    not reach alice as bob (Kamailio refuses it, or alice sees another caller)."""
    alice = CallApp.signed_in(users("alice@contoso.test"))
    u = Udp(side, UNTRUSTED)
    u.dest = (side.kam.host, side.kam.port)
    cid, branch = "forged-from-" + uuid.uuid4().hex[:8], "z9hG4bK" + uuid.uuid4().hex[:12]
    try:
        u.request("INVITE", f"sip:alice@{DOMAIN}", cid, "ff", body=SDP, branch=branch,
                  from_uri=f"sip:bob@{DOMAIN}",
                  headers=f"P-Asserted-Identity: <sip:bob@{DOMAIN}>\r\n")
        code = u.final(cid, "INVITE", timeout=3)
        if code is None:
            ring = alice.ringing(timeout=5)
            shown = json.dumps([ring.inv.get("_embedded", {}).get("from"),
                                ring.links.get("from")]).lower()
            assert "bob@" not in shown, shown
            u.request("CANCEL", f"sip:alice@{DOMAIN}", cid, "ff", branch=branch,
                      from_uri=f"sip:bob@{DOMAIN}")
            assert u.final(cid, "CANCEL") == 200
        else:
            assert code >= 400, code
            assert alice.pump(timeout=1) == 0 or not any(
                e.rel == "audioVideoInvitation" for e in alice.queue), alice.queue
    finally:
        u.close()


def test_hostile_command_lines(fe):
    """The command socket's JSON lines (Apache's children are its only peers, but a child
    can be buggy): wrong types, ids too long, duplicate keys, deep nesting, a `pool`
    message on a Front End not in a pool, a line over the 64 KiB limit, a line never
    ended: each gets an error answer or its connection closed, and the same process
    answers status afterwards (UCWA00649 logged for the bad ones)."""
    pid = status(fe)["pid"]
    path = str(fe.apache.root / "run" / f"ucwa-sipd.{fe.apache.proc.pid}.sock")
    lines = [b'{"cmd":5}', b'{"cmd":null}', b'{"cmd":["status"]}', b'[]', b'"status"',
             b'{"cmd":"status","id":"' + b"i" * 65 + b'"}', b'{"cmd":"status","id":""}',
             b'{"cmd":"status","id":{"a":1}}', b'{"cmd":"status","cmd":"pool"}',
             b'[' * 5000 + b']' * 5000, b'{"cmd":"status\\u0000x"}',
             b'{"cmd":"pool","body":7}', b'{"cmd":"pool","body":"{\\"k\\":\\"fe-gone\\"}"}',
             b'{"cmd":"ng-ping","id":"' + b"\xff\xfe" * 10 + b'"}', b'\x00' * 100]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    f = s.makefile("rwb")
    for line in lines:
        f.write(line + b"\n")
        f.flush()
        answer = json.loads(f.readline())
        assert answer["ok"] is False, (line[:60], answer)
    s.close()
    # a line over the limit: the connection is closed (or the line refused)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(b'{"cmd":"status","x":"' + b"a" * 70000 + b'"}\n')
        got = s.recv(65536)
        assert not got or json.loads(got.split(b"\n")[0])["ok"] is False, got[:100]
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    # a line never ended, its connection dropped
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"cmd":"sta')
    s.close()
    st = status(fe)
    assert st["ok"] and st["pid"] == pid, st
