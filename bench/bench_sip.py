#!/usr/bin/python3
"""The SIP side's own share of a call's post-dial delay (issue 13's benchmark), before
ucwa-sipd adds its part: the UCWA SIP side (SIPp, from the trusted address) calls numbers
through a private Kamailio on conf.d/sip/kamailio.cfg to a SIPp gateway that answers,
and, as the baseline in the same run, straight to the gateway without Kamailio.

  relay      --calls calls (500; --quick 100) at --rate calls per second (50): for each,
             the time from the caller's INVITE to the gateway's receiving it (Kamailio's
             routing: trust, gateway set, user=phone), and from the gateway's 200 to the
             caller's receiving it; p50/p99/max, and the calls that did not complete
  baseline   the same calls, caller to gateway directly (what SIPp and the loopback cost)
  media      two baresip phones registered on Kamailio call each other for --seconds (3)
             through rtpengine: packets per second received from each leg (PCMU at 20 ms
             is 50) and each side's tone found in the other's recording
  cvw        --cvw calls via work (20; --quick 10; 0: none), one after the other, from a
             Front End (UcwaSip On) to the same Kamailio, rtpengine and a SIPp gateway
             that answers each leg after 500 ms: t(POST startPhoneAudio -> the INVITE of
             leg A at the gateway), t(the gateway's 200 on leg A -> the INVITE of leg B:
             the leg gap, target < 50 ms), t(the gateway's 200 on leg B -> phoneAudio
             Connected at the app); the relay and baseline lines above are the SIP
             side's own share

State (configurations, logs, traces) in a temporary directory, removed at the end unless
KEEP_TEST_STATE=1. Times come from SIPp's message traces (one clock, this machine's); a figure never fails
the bench, a call that does not complete or a tone not heard does (exit status 1).

  python3 bench/bench_sip.py [--quick] [--calls N] [--rate R] [--seconds S] [--cvw N]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "lib"))
import baresip  # noqa: E402
import kamailio  # noqa: E402
import rtpengine  # noqa: E402
import sipp  # noqa: E402

UCWA, GW, PHONE_A, PHONE_B = "127.0.0.1", "127.0.0.71", "127.0.0.33", "127.0.0.34"
BASES = dict(kam=5060, gw=5080, uac=5085, ng=2223, pa=5061, pb=5062, ca=5071, cb=5072,
             echo=5090, sipd_ext=5088, sipd_pri=5089)
CVW_SQL = r"""
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Bench', 1, '^\+1555\d{4}$', 'Local', '1', NULL);
"""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def delays(sender, receiver, method, sent_by_sender=True):
    """Per Call-ID: receiver's arrival time of the message minus sender's sending time
    (requests of method, or the 200 to it), in ms."""
    def pick(msgs):
        out = {}
        for m in msgs:
            if (m.method == method) if method != "200" else (m.status == 200 and m.cseq_method == "INVITE"):
                out.setdefault(m.header("Call-ID"), m.time)
        return out
    sent, got = pick(sender.messages(received=False)), pick(receiver.messages())
    return [1000 * (got[c] - sent[c]) for c in sent if c in got]


def run_calls(root, target, ports, calls, rate):
    gw = sipp.Sipp(root, "gateway_answer", addr=GW, port=ports["gw"]).start()
    uac = sipp.Sipp(root, "ucwa_call", addr=UCWA, port=ports["uac"], remote=target,
                    calls=calls, duration_ms=100, extra=["-r", str(rate)],
                    keys={"service": "+15550100", "pai": "sip:alice@contoso.test", "gwset": 1})
    rc = uac.run(timeout=calls / rate + 60)
    time.sleep(0.5)
    gw.stop()
    invite = delays(uac, gw, "INVITE")
    answer = delays(gw, uac, "200")
    done = sum(1 for m in uac.messages() if m.status == 200 and m.cseq_method == "BYE")
    return rc, invite, answer, done


def line(name, values):
    if not values:
        return f"  {name:28} no samples"
    return (f"  {name:28} p50 {statistics.median(values):6.2f} ms  p99 {pct(values, 99):6.2f} ms"
            f"  max {max(values):6.2f} ms  ({len(values)} calls)")


def run_cvw(root, kam, rtp, ports, n):
    """n calls via work from alice's application; the three delays per call (ms), and the
    calls that did not connect."""
    from types import SimpleNamespace
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "integration"))
    import mobility
    import ucwa_client as uc
    from sip_side import SipSide, seed_voice
    from ucwa_call import CallApp

    gw = sipp.Sipp(root, "gateway_cvw", addr=GW, port=ports["gw"], duration_ms=500,
                   echo_port=ports["echo"]).start()
    root.mkdir(parents=True, exist_ok=True)
    for d in (root, root.parent):
        d.chmod(0o755)                 # Apache's children read the state
    state = uc.state_with_tags(root, mobility.make_state(root / "state0", mobility.Topology()),
                               "state", {})
    uc.stop_fe(uc.start_fe(root, state, "fe-0"))           # makes the voice tables
    seed_voice(state, CVW_SQL)
    side = SimpleNamespace(offset=ports["sipd_ext"] - 5088, kam=kam, rtp=rtp)
    fe = uc.start_fe(root, state, "fe",
                     extra="\n".join([uc.FAST] + SipSide.ucwa_directives(side)))
    hosts, real = fe.apache.topo.hosts(), socket.getaddrinfo   # *.contoso.test, here
    socket.getaddrinfo = lambda h, *x, **k: real(hosts.get(h.lower(), h)
                                                 if isinstance(h, str) else h, *x, **k)
    post, gap, connected, failed = [], [], [], 0
    try:
        alice = CallApp.signed_in(fe.user("alice@contoso.test"))
        for i in range(n):
            a_num, b_num = f"+1555{1000 + i:04d}", f"+1555{5000 + i:04d}"
            t0 = time.time()
            call = alice.call_via_work(f"tel:{b_num}", phone=f"tel:{a_num}")
            try:
                call.started()
                alice.wait("phoneAudio", "updated", timeout=15,
                           where=lambda e: alice.state_of(e) == "Connected")
                t_conn = time.time()
            except AssertionError:
                failed += 1
                continue
            call.action("stopPhoneAudio")
            call.ended()
            alice.queue.clear()
            sent = {m.header("Call-ID"): m.time for m in gw.messages(received=False)
                    if m.status == 200 and m.cseq_method == "INVITE"}
            inv = {m.user: m for m in gw.requests("INVITE") if "tag=" not in m.header("To")}
            a, b = inv.get(a_num), inv.get(b_num)
            if not a or not b or a.header("Call-ID") not in sent \
                    or b.header("Call-ID") not in sent:
                failed += 1
                continue
            post.append(1000 * (a.time - t0))
            gap.append(1000 * (b.time - sent[a.header("Call-ID")]))
            connected.append(1000 * (t_conn - sent[b.header("Call-ID")]))
    finally:
        socket.getaddrinfo = real
        uc.stop_fe(fe, allowed=list(uc.conftest.ALLOWED_LOG) + [re.compile(r"UCWA00[78]\d\d")])
        gw.stop()
    return post, gap, connected, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--calls", type=int)
    ap.add_argument("--rate", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--cvw", type=int)
    a = ap.parse_args()
    n_cvw = a.cvw if a.cvw is not None else (10 if a.quick else 20)
    calls = a.calls or (100 if a.quick else 500)
    offset = kamailio.free_sip_offset(list(BASES.values()) + [5400, 5300], start=30000)
    ports = {k: b + offset for k, b in BASES.items()}
    root = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    ok = True
    rtp = rtpengine.Rtpengine(root / "rtp", ng_port=ports["ng"],
                              rtp_ports=(5400 + offset, 5599 + offset)).start()
    kam = kamailio.Kamailio(root / "kam", port=ports["kam"], ucwa_uri=f"sip:{UCWA}:{ports['uac']}",
                            rtpengine=rtp.ng_socket, trusted={1: [UCWA], 2: ["127.0.0.32/27"]},
                            gateways={1: [f"sip:{GW}:{ports['gw']}"]}).start()
    try:
        print(f"SIP side bench: {calls} calls at {a.rate}/s, Kamailio {kam.address[1]}, "
              f"rtpengine NG {rtp.ng_port}")
        for name, target in (("relay (through Kamailio)", kam.address),
                             ("baseline (direct)", (GW, ports["gw"]))):
            rc, invite, answer, done = run_calls(root / name.split()[0], target, ports,
                                                 calls, a.rate)
            print(f"{name}: {done}/{calls} calls completed (sipp exit {rc})")
            print(line("INVITE caller -> gateway", invite))
            print(line("200 gateway -> caller", answer))
            ok &= rc == 0 and done == calls
        pa = baresip.Baresip(root / "pa", "alice", proxy=kam.address, addr=PHONE_A,
                             sip_port=ports["pa"], ctrl_port=ports["ca"],
                             rtp_ports=(5300 + offset, 5319 + offset), tone=1000).start()
        pb = baresip.Baresip(root / "pb", "bob", proxy=kam.address, addr=PHONE_B,
                             sip_port=ports["pb"], ctrl_port=ports["cb"],
                             rtp_ports=(5320 + offset, 5339 + offset), tone=1500).start()
        try:
            pa.wait_registered()
            pb.wait_registered()
            pa.dial(pb.aor)
            pb.wait_event("CALL_INCOMING")
            pb.accept()
            call_id = pa.wait_event("CALL_ESTABLISHED")["id"]
            first = rtp.query(call_id)
            time.sleep(a.seconds)
            last = rtp.query(call_id)
            rates = [(last[t]["packets"] - first[t]["packets"]) / a.seconds for t in last]
            heard = pa.heard(1500), pb.heard(1000)
            pa.hangup()
            print(f"media through rtpengine: {', '.join(f'{r:.1f}' for r in rates)} packets/s "
                  f"from each leg (50 expected); tones heard: {heard[0]}; {heard[1]}")
            ok &= all(h.ok for h in heard) and len(rates) == 2
        finally:
            pa.stop()
            pb.stop()
        if n_cvw:
            post, gap, connected, failed = run_cvw(root / "cvw", kam, rtp, ports, n_cvw)
            print(f"call via work: {n_cvw - failed}/{n_cvw} calls connected")
            print(line("POST -> INVITE leg A", post))
            print(line("200 leg A -> INVITE leg B", gap))
            print(line("200 leg B -> Connected event", connected))
            ok &= failed == 0 and (not gap or pct(gap, 50) < 50)
    finally:
        kam.stop()
        rtp.stop()
        if not os.environ.get("KEEP_TEST_STATE"):
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
