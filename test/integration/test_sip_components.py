"""The SIP side's real components (issue 13, docs/sip.md), shipped and started privately:
Kamailio on the shipped conf.d/sip/kamailio.cfg (defines only), rtpengine (user space),
baresip phones and SIPp gateways, before any UCWA call goes through them.

- Two baresips registered on Kamailio call each other with the media anchored in
  rtpengine: each one's tone (1000 Hz, 1500 Hz) is found by FFT in the other's
  recording, rtpengine's `query` counts packets from both legs, and the call ends from
  either end (rtpengine's session with it).
- A `tel:` call from the trusted UCWA SIP side reaches the SIPp gateway of the gateway
  set it names, with the number as Kamailio got it and the caller's asserted identity; a
  busy gateway's 486 and a cancelled call that nobody answered come back to the caller.
  The same call from any other address (a phone's subnet or not) gets 403, and no
  gateway sees anything; an identity asserted by a phone is dropped.
- Kamailio refuses requests for other domains (no open relay), unknown sources, and
  registrations from outside the phones' subnets; it survives hostile input (garbage
  datagrams, oversized and malformed messages over UDP and TCP) and still registers a
  phone after it, over UDP and TCP.

One SIP side for the module (sip_side.SipSide: Kamailio, rtpengine, a gateway, phones),
with three more gateways; the ports are the tests' offset scheme
(kamailio.free_sip_offset), free ones found at start, so parallel runs do not meet.
"""
import os
import re
import shutil
import socket
import time
from pathlib import Path

import pytest

import kamailio
import rtpengine
import sipp
from sip_side import GATEWAY as GW_ADDR, SipSide

DOMAIN = "contoso.test"
UCWA_ADDR = "127.0.0.1"          # the trusted UCWA SIP side (trusted list, group 1)
PHONE_A, PHONE_B = "127.0.0.33", "127.0.0.34"
STRANGER = "127.0.0.99"          # neither
A_HZ, B_HZ = 1000, 1500

# base ports (+ offset) beside the SIP side's own (sip_side.SipSide: Kamailio 5060,
# rtpengine 2223, gateway set 1 that answers 5070, phones 5100+): the gateways of sets 2
# (busy), 3 (never answers) and 4 (out of service, then set 1's), the UCWA side's UAC
# (ucwa-sipd's place), a gateway's UAC (calls from the PSTN) and its echoed media, a
# second Kamailio (digest authentication)
BASES = dict(gw_busy=5081, gw_noanswer=5082, gw_fail=5083, uac=5085, gw_uac=5086,
             gw_media=5090, auth_kam=5160)

# Kamailio's log lines this module causes on purpose
EXPECTED_KAMAILIO = [re.compile(r"<core> \[core/(parser/|receive\.c|tcp_read\.c)")]


@pytest.fixture(scope="module")
def ports():
    offset = kamailio.free_sip_offset(list(BASES.values()) + list(SipSide.BASES))
    p = {k: b + offset for k, b in BASES.items()}
    p["offset"] = offset
    return p


@pytest.fixture(scope="module")
def gateways(workdir, ports):
    """Gateways by behaviour: set 1's (the side's, answers), and sets 2 to 4's."""
    gws = {name: sipp.Sipp(workdir / "sip-sipp", f"gateway_{name}", addr=GW_ADDR,
                           port=ports[f"gw_{name}"], duration_ms=100)
           for name in ("busy", "noanswer", "fail")}
    for g in gws.values():
        g.start(wait=0)
    time.sleep(0.3)
    for g in gws.values():
        g.check_running()
    yield gws
    for g in gws.values():
        g.stop()


@pytest.fixture(scope="module")
def side(workdir, ports, gateways):
    gw = {n: f"sip:{GW_ADDR}:{ports[f'gw_{n}']}" for n in ("busy", "noanswer", "fail")}
    s = SipSide(workdir / "sip", host="127.0.0.1", domain=DOMAIN, offset=ports["offset"],
                ucwa=[UCWA_ADDR], ucwa_port=5085,
                gateways={2: [gw["busy"]], 3: [gw["noanswer"]],
                          4: [gw["fail"], f"sip:{GW_ADDR}:{5070 + ports['offset']}"]})
    s.start()
    gateways["answer"] = s.gw
    yield s
    s.stop()


@pytest.fixture(scope="module")
def rtp(side):
    return side.rtp


@pytest.fixture(scope="module")
def kam(side):
    return side.kam


@pytest.fixture
def kam_log(kam):
    """Fails the test when Kamailio logged an ERROR or worse it did not expect (a test
    appends patterns to the list it gets)."""
    mark = len(kam.log_text())
    allowed = []
    yield allowed
    bad = [line for line in kam.log_text()[mark:].splitlines()
           if re.search(r"\b(ERROR|CRITICAL|ALERT|BUG)\b", line)
           and not any(p.search(line) for p in allowed)]
    assert not bad, "unexpected lines in Kamailio's log:\n" + "\n".join(bad)
    assert kam.alive(), "Kamailio died"


@pytest.fixture(scope="module")
def phones(side):
    return side.phone("alice", 1, tone=A_HZ), side.phone("bob", 2, tone=B_HZ)


def ucwa_call(workdir, ports, kam, number, scenario="ucwa_call", gwset=1, duration_ms=200,
              pai="sip:alice@contoso.test", ruri=None, source=(UCWA_ADDR, "uac")):
    """The UCWA SIP side (SIPp from the trusted address; source: another address and
    port name) calls number (or ruri) through Kamailio: the finished Sipp (its replies,
    its exit status in .rc)."""
    keys = {"service": number, "pai": pai, "gwset": gwset}
    if ruri:
        keys["ruri"] = ruri
    uac = sipp.Sipp(workdir / "sip-sipp", scenario, addr=source[0], port=ports[source[1]],
                    remote=kam.address, calls=1, duration_ms=duration_ms, keys=keys)
    uac.rc = uac.run(timeout=30)
    return uac


def call_between(caller, callee, rtp):
    """caller dials callee; both established: the Call-ID."""
    caller.dial(callee.aor)
    incoming = callee.wait_event("CALL_INCOMING")
    assert incoming["peeruri"] == caller.aor
    callee.accept()
    up = caller.wait_event("CALL_ESTABLISHED")
    callee.wait_event("CALL_ESTABLISHED")
    return up["id"]


def wait_until(check, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


@pytest.mark.parametrize("ender", ["caller", "callee"])
def test_phones_call_each_other_through_rtpengine(phones, rtp, kam_log, ender):
    a, b = phones
    call_id = call_between(a, b, rtp)
    # each hears the other's tone, every packet of it through rtpengine
    heard_b, heard_a = a.heard(B_HZ, seconds=1.0), b.heard(A_HZ, seconds=1.0)
    assert heard_b.ok, f"alice did not hear bob's {B_HZ} Hz: {heard_b}"
    assert heard_a.ok, f"bob did not hear alice's {A_HZ} Hz: {heard_a}"
    legs = rtp.query(call_id)
    assert len(legs) == 2, legs
    assert all(leg["packets"] > 25 for leg in legs.values()), legs
    (a if ender == "caller" else b).hangup()
    closed_a, closed_b = a.wait_event("CALL_CLOSED"), b.wait_event("CALL_CLOSED")
    assert closed_a["id"] == closed_b["id"] == call_id
    assert wait_until(lambda: call_id not in rtp.calls()), "rtpengine kept the session"


def test_the_phones_media_addresses_are_rtpengines(phones, rtp, kam_log):
    """Each phone's SDP got rtpengine's ports in place of the other phone's, so the media
    of both legs goes through rtpengine: its streams are the phones' advertised
    addresses on one side and its own port range on the other."""
    a, b = phones
    call_id = call_between(a, b, rtp)
    try:
        answer = rtp.command({"command": "query", "call-id": call_id})
        local = {s["local port"] for t in answer["tags"].values() for m in t["medias"]
                 for s in m["streams"]}
        assert local and all(rtp.rtp_ports[0] <= p <= rtp.rtp_ports[1] for p in local), local
        endpoints = {s["advertised endpoint"]["address"] for t in answer["tags"].values()
                     for m in t["medias"] for s in m["streams"]}
        assert endpoints == {PHONE_A, PHONE_B}, endpoints
    finally:
        a.hangup()
        a.wait_event("CALL_CLOSED")
        b.wait_event("CALL_CLOSED")


def test_unregistered_domain_user_goes_to_the_ucwa_side(workdir, ports, kam, phones, kam_log):
    """A phone calling a domain user who has no phone registered reaches the UCWA SIP
    side (here a SIPp UAS on the UCWA address), without rtpengine (ucwa-sipd drives it)."""
    a, _ = phones
    ucwa = sipp.Sipp(workdir / "sip-sipp", "gateway_busy", addr=UCWA_ADDR,
                     port=ports["uac"]).start(wait=0.2)
    try:
        a.dial(f"sip:carol@{DOMAIN}")
        a.wait_event("CALL_CLOSED")
        inv = ucwa.wait_request("INVITE")
        assert inv.user == "carol"
        assert f"127.0.0.1:{kam.port}" in (inv.header("Record-Route") or "")
        assert "rtp=anchor" not in (inv.header("Record-Route") or "")
    finally:
        ucwa.stop()


def test_tel_call_from_the_ucwa_side_reaches_the_gateway(workdir, ports, kam, gateways,
                                                          kam_log):
    before = len(gateways["answer"].requests("INVITE"))
    uac = ucwa_call(workdir, ports, kam, "+15550100")
    assert uac.rc == 0, uac.errors()
    assert [r.status for r in uac.replies("INVITE")][-1] == 200
    inv = gateways["answer"].wait_request("INVITE", count=before + 1)
    # the number as Kamailio received it, the caller's work identity, no routing header
    assert inv.user == "+15550100"
    assert inv.ruri == f"sip:+15550100@{GW_ADDR}:{gateways['answer'].port};user=phone"
    assert inv.header("P-Asserted-Identity") == "<sip:alice@contoso.test>"
    assert inv.header("P-Ucwa-Gateway-Set") is None
    assert inv.header("Call-ID") == uac.messages(received=False)[0].header("Call-ID")
    # the gateway got the ACK and the BYE of the call
    assert wait_until(lambda: len(gateways["answer"].requests("BYE")) > 0)
    assert not gateways["busy"].requests() and not gateways["noanswer"].requests()


def test_gateway_sets_busy_and_unanswered(workdir, ports, kam, gateways, kam_log):
    """P-Ucwa-Gateway-Set chooses the set: set 2's gateway is busy (486 comes back, no
    failover to anyone), set 3's never answers (the caller's CANCEL reaches it)."""
    uac = ucwa_call(workdir, ports, kam, "+15550186", gwset=2)
    assert uac.rc == 0, uac.errors()
    assert uac.replies("INVITE")[-1].status == 486
    assert gateways["busy"].wait_request("INVITE").user == "+15550186"
    assert gateways["busy"].wait_request("ACK")
    uac = ucwa_call(workdir, ports, kam, "+15550187", scenario="ucwa_cancel", gwset=3,
                    duration_ms=300)
    assert uac.rc == 0, uac.errors()
    assert [r.status for r in uac.replies("INVITE")][-1] == 487
    inv = gateways["noanswer"].wait_request("INVITE")
    cancel = gateways["noanswer"].wait_request("CANCEL")
    assert inv.user == "+15550187"
    assert cancel.time - inv.time >= 0.25
    assert gateways["noanswer"].wait_request("ACK")


def test_next_gateway_of_the_set_when_one_fails(workdir, ports, kam, gateways, kam_log):
    """Set 4: its first gateway answers 503, the call goes on to the next one."""
    before = len(gateways["answer"].requests("INVITE"))
    uac = ucwa_call(workdir, ports, kam, "+15550144", gwset=4)
    assert uac.rc == 0, uac.errors()
    assert uac.replies("INVITE")[-1].status == 200
    failed = gateways["fail"].wait_request("INVITE")
    answered = gateways["answer"].wait_request("INVITE", count=before + 1)
    assert failed.user == answered.user == "+15550144"
    assert failed.ruri.endswith(";user=phone") and answered.ruri.endswith(";user=phone")
    assert failed.time <= answered.time
    assert [r.status for r in uac.replies("INVITE")].count(503) == 0


def test_an_admin_repoints_a_gateway_set(workdir, ports, kam, gateways, kam_log):
    """The gateway list edited and reloaded (kamcmd dispatcher.reload) while Kamailio
    runs: the next call of the set goes to the new gateway."""
    try:
        kam.gateways[5] = [f"sip:{GW_ADDR}:{gateways['busy'].port}"]
        kam.reload()
        assert ucwa_call(workdir, ports, kam, "+15550155", gwset=5).replies("INVITE")[-1] \
            .status == 486
        kam.gateways[5] = [f"sip:{GW_ADDR}:{gateways['answer'].port}"]
        kam.reload()
        uac = ucwa_call(workdir, ports, kam, "+15550156", gwset=5)
        assert uac.rc == 0 and uac.replies("INVITE")[-1].status == 200
        assert gateways["answer"].requests("INVITE")[-1].user == "+15550156"
    finally:
        del kam.gateways[5]
        kam.reload()


def test_a_gateway_set_with_no_gateway(workdir, ports, kam, gateways, kam_log):
    """A voice route naming a set the dispatcher list does not have: 503, no gateway sees
    anything, and dispatcher says which set (an admin's mistake to fix)."""
    kam_log.append(re.compile(r"dispatcher .*destination set \[7\] not found"))
    seen = {n: len(g.messages()) for n, g in gateways.items()}
    uac = ucwa_call(workdir, ports, kam, "+15550177", gwset=7)
    assert uac.rc == 0, uac.errors()
    assert uac.replies("INVITE")[-1].status == 503
    assert {n: len(g.messages()) for n, g in gateways.items()} == seen


def test_calls_from_a_gateway(workdir, ports, kam, phones, rtp, kam_log):
    """A gateway (in the dispatcher list) calls a user with a phone registered: it rings,
    with the media anchored in rtpengine (the gateway echoes what it gets: the phone hears
    its own tone back through rtpengine), and either side hangs up; it calls a number:
    that goes to the UCWA SIP side, which knows whose number it is (single number
    reach)."""
    _, b = phones
    uac = sipp.Sipp(workdir / "sip-sipp", "ucwa_call", addr=GW_ADDR, port=ports["gw_uac"],
                    remote=kam.address, calls=1, duration_ms=2500,
                    keys={"service": "bob", "ruri": f"sip:bob@{DOMAIN}",
                          "pai": "tel:+14255550123", "gwset": 9},
                    echo_port=ports["gw_media"])
    uac.start(wait=0)
    try:
        incoming = b.wait_event("CALL_INCOMING")
        b.accept()
        b.wait_event("CALL_ESTABLISHED")
        call_id = incoming["id"]
        heard = b.heard(B_HZ, seconds=1.0)
        assert heard.ok, f"bob did not hear his tone echoed by the gateway: {heard}"
        legs = rtp.query(call_id)
        assert len(legs) == 2, "the gateway's call to a phone is not anchored"
        assert all(leg["packets"] > 25 for leg in legs.values()), legs
        assert uac.proc.wait(20) == 0, uac.errors()
        b.wait_event("CALL_CLOSED")
    finally:
        uac.stop()
    invite = [m for m in uac.messages(received=False) if m.method == "INVITE"][0]
    assert call_id == invite.header("Call-ID")
    # the phone hangs up a call from the PSTN: its BYE reaches the gateway
    uac = sipp.Sipp(workdir / "sip-sipp", "ucwa_call", addr=GW_ADDR, port=ports["gw_uac"],
                    remote=kam.address, calls=1, duration_ms=10000,
                    keys={"service": "bob", "ruri": f"sip:bob@{DOMAIN}",
                          "pai": "tel:+14255550123", "gwset": 9})
    uac.start(wait=0)
    try:
        b.wait_event("CALL_INCOMING")
        b.accept()
        b.wait_event("CALL_ESTABLISHED")
        b.hangup()
        b.wait_event("CALL_CLOSED")
        assert wait_until(lambda: uac.requests("BYE")), "the phone's BYE did not reach the gateway"
    finally:
        uac.stop()
    ucwa = sipp.Sipp(workdir / "sip-sipp", "gateway_busy", addr=UCWA_ADDR,
                     port=ports["uac"]).start(wait=0.2)
    try:
        uac = ucwa_call(workdir, ports, kam, "+14255550100", source=(GW_ADDR, "gw_uac"),
                        ruri=f"sip:+14255550100@{DOMAIN};user=phone",
                        pai="tel:+14255550123")
        assert uac.rc == 0, uac.errors()
        assert uac.replies("INVITE")[-1].status == 486
        inv = ucwa.wait_request("INVITE")
        assert inv.user == "+14255550100"
        # a gateway may assert the caller's number; it cannot choose a gateway set
        assert inv.header("P-Asserted-Identity") == "<tel:+14255550123>"
        assert inv.header("P-Ucwa-Gateway-Set") is None
    finally:
        ucwa.stop()


@pytest.mark.parametrize("source", [PHONE_A, STRANGER, "127.0.0.5"])
@pytest.mark.parametrize("target", ["tel:+15550100", f"sip:+15550100@{DOMAIN};user=phone"])
def test_tel_call_from_an_untrusted_address_is_refused(kam, gateways, kam_log, source, target):
    seen = {n: len(g.messages()) for n, g in gateways.items()}
    r = kam.request("INVITE", target, source=(source, 0),
                    headers=["P-Ucwa-Gateway-Set: 1",
                             "P-Asserted-Identity: <sip:alice@contoso.test>"])
    assert r is not None and r.status == 403, r
    time.sleep(0.2)
    assert {n: len(g.messages()) for n, g in gateways.items()} == seen


def test_no_open_relay(kam, kam_log):
    # another domain, from a phone and from the UCWA side
    for source in (PHONE_A, UCWA_ADDR):
        r = kam.request("MESSAGE", "sip:someone@example.org", source=(source, 0),
                        body="hi", headers=["Content-Type: text/plain"])
        assert r is not None and r.status == 403, (source, r)
    # a domain user from an unknown source; a phone registering from outside its subnet
    r = kam.request("INVITE", "bob", source=(STRANGER, 0))
    assert r is not None and r.status == 403, r
    r = kam.register("mallory", source=(STRANGER, 0))
    assert r is not None and r.status == 403, r


@pytest.mark.parametrize("method", ["MESSAGE", "INVITE", "BYE"])
def test_no_relay_inside_a_forged_dialog(kam, gateways, kam_log, method):
    """A request with a To tag (as if inside a dialog) whose Route set goes through
    Kamailio to somewhere else: refused unless it belongs to a dialog Kamailio routed."""
    target = gateways["busy"]
    seen = len(target.messages())
    r = kam.request(method, f"sip:x@{GW_ADDR}:{target.port}", source=(STRANGER, 0),
                    to_tag="forged", headers=[f"Route: <sip:{kam.host}:{kam.port};lr>"])
    assert r is not None and r.status == 403, r
    time.sleep(0.2)
    assert len(target.messages()) == seen


def test_a_phone_cannot_turn_its_call_to_a_gateway(phones, rtp, gateways, kam, kam_log):
    """Inside a phone-to-phone call Kamailio set up, a request from a phone whose target
    is a gateway (the call's identifiers right, a toll fraud's way past the voice policy)
    is refused; the call itself goes on."""
    a, b = phones
    call_id = call_between(a, b, rtp)
    try:
        # the call's two tags (rtpengine knows them; the dialog matches either way round)
        from_tag, to_tag = rtp.query(call_id)
        target = gateways["busy"]
        seen = len(target.messages())
        for method in ("INVITE", "MESSAGE"):
            r = kamailio.sip_request(
                method, f"sip:+15550100@{GW_ADDR}:{target.port};user=phone", kam.address,
                source=(PHONE_A, 0), call_id=call_id, from_tag=from_tag, to_tag=to_tag,
                headers=[f"Route: <sip:{kam.host}:{kam.port};lr>"], cseq=100)
            assert r is not None and r.status == 403, (method, r)
        time.sleep(0.2)
        assert len(target.messages()) == seen
        assert b.heard(A_HZ, seconds=0.5).ok
    finally:
        a.hangup()
        a.wait_event("CALL_CLOSED")
        b.wait_event("CALL_CLOSED")


def test_survives_hostile_input(kam, phones, kam_log):
    kam_log.extend(EXPECTED_KAMAILIO)
    host, port = kam.address
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((STRANGER, 0))
    udp.settimeout(1.0)
    rnd = os.urandom
    junk = [rnd(n) for n in (1, 17, 512, 1400, 8000)]
    junk += [b"\r\n\r\n", b"INVITE", b"INVITE sip:bob@contoso.test SIP/2.0\r\n\r\n",
             b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
             b"REGISTER sip:contoso.test SIP/2.0\r\nVia: SIP/2.0/UDP ;;;;\r\n"
             b"From: <<<>>>\r\nTo: \x00\r\nCall-ID: \r\nCSeq: -1 FOO\r\n"
             b"Content-Length: 99999\r\n\r\n",
             b"OPTIONS sip:" + b"a" * 5000 + b"@contoso.test SIP/2.0\r\n\r\n"]
    for payload in junk * 3:
        udp.sendto(payload, (host, port))
    # an oversized but well-formed request: refused by size before any routing
    big = ("INVITE sip:bob@contoso.test SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {STRANGER}:{udp.getsockname()[1]};branch=z9hG4bKbig;rport\r\n"
           "From: <sip:x@contoso.test>;tag=1\r\nTo: <sip:bob@contoso.test>\r\n"
           "Call-ID: big@x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           + "".join(f"X-Pad-{i}: {'p' * 900}\r\n" for i in range(60))
           + "Content-Length: 0\r\n\r\n").encode()
    assert len(big) > 50000
    udp.sendto(big, (host, port))
    status = None
    try:
        while status is None:
            data = udp.recv(65535)
            m = re.match(rb"SIP/2\.0 (\d+)", data)
            if m and b"Call-ID: big@x" in data:
                status = int(m.group(1))
    except socket.timeout:
        pass
    assert status == 513, status
    udp.close()
    # over TCP: garbage, a header that never ends, a body longer than promised
    for payload in (rnd(4096), b"INVITE sip:x@contoso.test SIP/2.0\r\nVia: " + b"v" * 70000,
                    b"OPTIONS sip:contoso.test SIP/2.0\r\nContent-Length: 10\r\n\r\n" + b"z" * 5000):
        s = socket.create_connection((host, port), timeout=2)
        try:
            s.sendall(payload)
            s.recv(100)
        except OSError:
            pass
        finally:
            s.close()
    # a burst of requests from an unknown source, not waiting for the answers
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind((STRANGER, 0))
    fport = flood.getsockname()[1]
    for i in range(500):
        flood.sendto((f"INVITE sip:bob@{DOMAIN} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP {STRANGER}:{fport};branch=z9hG4bKflood{i}\r\n"
                      f"From: <sip:x@{DOMAIN}>;tag={i}\r\nTo: <sip:bob@{DOMAIN}>\r\n"
                      f"Call-ID: flood{i}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n").encode(), (host, port))
    flood.close()
    assert kam.alive()
    t0 = time.time()
    assert wait_until(lambda: kam.ping(timeout=0.5), timeout=10), "Kamailio stopped answering"
    print(f"answering again {time.time() - t0:.2f} s after the flood")
    # still a registrar: a phone registers, and a registered phone is reached
    r = kam.register("dave", source=("127.0.0.40", 0))
    assert r is not None and r.status == 200, r
    r = kam.register("erin", source=("127.0.0.42", 0), tcp=True)
    assert r is not None and r.status == 200, r
    a, _ = phones
    assert a.registered()


def test_digest_authentication_of_phones(workdir, ports, rtp):
    """WITH_AUTH (and no phone subnet): a phone registers and calls only with the password
    of its account in the db_text table (conf.d/sip/dbtext, as shipped plus one line)."""
    db = workdir / "sip-kamailio-auth" / "dbtext"
    shutil.copytree(kamailio.REPO / "conf.d" / "sip" / "dbtext", db, dirs_exist_ok=True)
    with open(db / "subscriber", "a") as f:
        f.write(f"1:dave:{DOMAIN}:Phone-Passw0rd::\n")
    k = kamailio.Kamailio(workdir / "sip-kamailio-auth", port=ports["auth_kam"],
                          domain=DOMAIN, rtpengine=rtp.ng_socket, trusted={1: [UCWA_ADDR]},
                          auth_db=db).start()
    try:
        r = k.register("dave", source=(PHONE_A, 0))
        assert r.status == 401 and "Digest" in r.headers["www-authenticate"][0], r
        assert k.register("dave", source=(PHONE_A, 0), password="wrong").status in (401, 403)
        assert k.register("dave", source=(PHONE_A, 0), password="Phone-Passw0rd").status == 200
        # another user's account does not register dave
        assert k.register("erin", source=(PHONE_A, 0), password="Phone-Passw0rd").status in (401, 403)
        # a call from a phone without credentials is challenged by the proxy
        r = k.request("INVITE", "dave", source=(PHONE_B, 0), from_=f"sip:dave@{DOMAIN}")
        assert r.status == 407, r
        assert k.alive()
    finally:
        k.stop()


def demo_offset():
    """A port offset where the demo's Apache, coturn and SIP side all find their ports
    free (the ones this module's SIP side holds included)."""
    import mobility
    bases = list(SipSide.BASES) + [3478, 3479, 5085, 5088, 5089]
    for start in range(20000, 60000, 500):
        try:
            offset = mobility.free_offset(start=start, step=500)
        except RuntimeError:
            break
        if max(bases) + offset < 65536 and kamailio.ports_free("127.0.0.1",
                                                               [b + offset for b in bases]):
            return offset
    pytest.fail("no free port range for the demo")


def readme_phone(workdir, offset):
    """A baresip set up exactly as the README's DEMO_SIP section says (its config block
    and its accounts line, the demo's ports moved by the offset), started: it must
    register (a config with sip_listen alone loads no module and never does)."""
    import subprocess
    import baresip
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"has a tone as the microphone:\n\n```\n(.*?)```", readme, re.S)
    account = re.search(r"one line `(<sip:dave@contoso\.test>;outbound=\"sip:127\.0\.0\.1:5060\")`",
                        readme)
    assert block and account, "the README's baresip config or accounts line moved"
    d = workdir / "demo-sip-readme-phone"
    d.mkdir(parents=True, exist_ok=True)
    (d / "config").write_text(block.group(1).replace("DIR", str(d))
                              .replace("127.0.0.33:5062", f"127.0.0.33:{5062 + offset}"))
    (d / "accounts").write_text(account.group(1).replace(":5060", f":{5060 + offset}") + "\n")
    proc = subprocess.Popen([baresip.BARESIP, "-f", str(d)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(proc.stdout.fileno(), False)
    out, deadline = b"", time.time() + 10
    while b"registered successfully" not in out and time.time() < deadline:
        out += proc.stdout.read() or b""
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=10)
    return out.decode(errors="replace")


def test_the_demo_starts_the_sip_side_and_stops_it(workdir):
    """DEMO_SIP=1 (README): Kamailio, rtpengine and a SIPp gateway beside the demo's
    Apache, on the demo's ports plus its offset; a phone registers, the UCWA side (the
    Front End's address) reaches the gateway with a number; Ctrl-C (SIGTERM) stops them."""
    import mobility
    from conftest import ALLOWED_LOG, unexpected_log_lines
    offset = demo_offset()
    root = workdir / "demo-sip"
    demo = mobility.DemoRun(DEMO_SIP=1, DEMO_STATE=root, DEMO_PORT_OFFSET=offset).start()
    try:
        text = demo.text
        assert f"127.0.0.1:{5060 + offset} UDP and TCP" in text, text
        k = kamailio.Kamailio(root / "sip" / "kamailio", port=5060 + offset, domain=DOMAIN)
        assert k.ping()
        assert k.register("alice", source=("127.0.0.33", 0)).status == 200
        out = readme_phone(workdir, offset)
        assert "registered successfully" in out, out
        r = rtpengine.Rtpengine(root / "sip" / "rtpengine", ng_port=2223 + offset)
        assert r.ping()
        uac = sipp.Sipp(workdir / "demo-sip-uac", "ucwa_call", addr="127.0.0.1",
                        port=5085 + offset,
                        remote=k.address, calls=1, duration_ms=100,
                        keys={"service": "+15550100", "pai": "sip:alice@contoso.test",
                              "gwset": 1})
        assert uac.run(timeout=20) == 0, uac.errors()
        assert uac.replies("INVITE")[-1].status == 200
        # the Front End's own SIP side runs, pointed at them (apps and phones call each other)
        assert kamailio.Kamailio(root / "sip" / "ucwa-sipd", port=5089 + offset).ping()
    finally:
        rc = demo.stop()
    assert rc == 0 and "stopped" in demo.text, demo.text
    assert kamailio.ports_free("127.0.0.1", [5060 + offset, 2223 + offset])
    bad = unexpected_log_lines((root / "fe" / "logs" / "error.log").read_text(), ALLOWED_LOG)
    assert not bad, "\n".join(bad)
