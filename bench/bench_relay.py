#!/usr/bin/python3
"""coturn relaying N concurrent audio calls on this machine: the largest N with no loss,
beside the same calls sent directly, measured in one run and printed side by side
(issue 12's relay benchmark).

A call here is its media only, as two UCWA applications that both had to fall back to
their relay candidates would send it: two endpoints, each with its own TURN allocation
on a private coturn (test/lib/turn.py: Debian's turnserver with the TURN REST secret
mod_ucwa mints mediaRelayAccessToken credentials for; the credentials here are minted
the same way, test/lib/turn.py rest_credentials), each sending G.711 at 20 ms packets
(an RTP header and 160 bytes: 50 packets a second) to the other's relayed address, both
ways, for --duration seconds. Channels are bound first (ChannelBind, then ChannelData
frames, as ICE agents do once a relayed pair is chosen). The direct baseline is the
same calls, the same packets and the same schedule between plain UDP sockets on
loopback.

Every stream sends at its own offset within the 20 ms (as independent phones do, not
all at once). A packet carries its stream, sequence number and send time; the receiver
counts what arrived (within a second after the last send) and the one-way delay.
For each N (--steps, doubling from --start) it prints, direct then relayed: packets per
second through the server, lost packets, one-way delay p50/p99 and the CPU coturn used;
it stops at the first N whose relayed calls lost a packet (or at --max). When direct
calls lose packets too, the limit is this load generator (Python, --workers processes
on the same 2 cores as coturn), not coturn: the table says which.

The figures never fail the run; a relay that refuses an allocation does.

  python3 bench/bench_relay.py [--quick] [--start 25] [--max 1600] [--duration 5]
  ./apxs-build.sh bench --relay [--quick]
"""
import argparse
import asyncio
import multiprocessing as mp
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test" / "lib"))
from turn import Coturn, rest_credentials  # noqa: E402

from aioice import turn as aioice_turn  # noqa: E402  (Debian's python3-aioice)

PTIME = 0.020                 # 20 ms packets
PAYLOAD = 160                 # G.711 at 8 kHz: 160 bytes per 20 ms
RTP = struct.Struct("!BBHIIq")  # V/P/X/CC, M/PT, seq, timestamp, ssrc (the stream), send ns


class Sink(asyncio.DatagramProtocol):
    """Counts packets per stream and keeps one-way delays (ms)."""

    def __init__(self, got, delays):
        self.got, self.delays = got, delays

    def datagram_received(self, data, addr):
        if len(data) < RTP.size:
            return
        _, _, _, _, ssrc, sent = RTP.unpack_from(data)
        self.got[ssrc] = self.got.get(ssrc, 0) + 1
        self.delays.append((time.monotonic_ns() - sent) / 1e6)


class Stream:
    """One direction of one call: a way to send a packet to the peer."""

    def __init__(self, ssrc, send):
        self.ssrc, self.send, self.seq = ssrc, send, 0


async def relay_endpoint(server, user, pw, sink):
    transport, _ = await aioice_turn.create_turn_endpoint(lambda: sink, server, user, pw,
                                                          lifetime=600)
    inner = transport._TurnTransport__inner_protocol
    return transport, inner, transport.get_extra_info("sockname")


async def setup_calls(mode, n, first_ssrc, server, secret, got, delays):
    """n calls: 2n streams. Returns (streams, closers)."""
    loop = asyncio.get_running_loop()
    streams, closers = [], []
    sink = Sink(got, delays)
    for i in range(n):
        ssrc_a, ssrc_b = first_ssrc + 2 * i, first_ssrc + 2 * i + 1
        if mode == "direct":
            ta, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
            tb, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
            addr_a, addr_b = ta.get_extra_info("sockname"), tb.get_extra_info("sockname")
            streams.append(Stream(ssrc_a, (lambda t, a: lambda d: t.sendto(d, a))(ta, addr_b)))
            streams.append(Stream(ssrc_b, (lambda t, a: lambda d: t.sendto(d, a))(tb, addr_a)))
            closers += [ta.close, tb.close]
            continue
        user, pw = rest_credentials(secret, f"user{ssrc_a:05d}@contoso.test")
        ta, ia, rel_a = await relay_endpoint(server, user, pw, sink)
        tb, ib, rel_b = await relay_endpoint(server, user, pw, sink)
        # ChannelBind both ways (it also installs the permission), then ChannelData frames
        await ia.send_data(b"\0" * 4, rel_b)
        await ib.send_data(b"\0" * 4, rel_a)
        for inner, peer, ssrc in ((ia, rel_b, ssrc_a), (ib, rel_a, ssrc_b)):
            head = struct.pack("!H", inner.peer_to_channel[peer])
            send = (lambda t, h: lambda d: t.sendto(h + struct.pack("!H", len(d)) + d))(
                inner.transport, head)
            streams.append(Stream(ssrc, send))
        closers += [ta.close, tb.close]
    return streams, closers


async def send_for(streams, start, duration):
    """Every stream sends a packet every 20 ms at its own offset, from start on."""
    loop = asyncio.get_running_loop()
    k = len(streams)
    offsets = [PTIME * i / k for i in range(k)]
    payload = b"\xd5" * (PAYLOAD - 8)          # G.711 A-law silence, after the send time
    ticks = int(duration / PTIME)
    sent = 0
    for tick in range(ticks):
        base = start + tick * PTIME
        i = 0
        while i < k:
            due = base + offsets[i]
            now = loop.time()
            if due > now + 0.0005:
                await asyncio.sleep(due - now)
            # everything due by now, in one go
            now = loop.time()
            while i < k and base + offsets[i] <= now + 0.0005:
                s = streams[i]
                s.seq += 1
                s.send(RTP.pack(0x80, 0, s.seq & 0xFFFF, (s.seq * 160) & 0xFFFFFFFF, s.ssrc,
                                time.monotonic_ns()) + payload)
                sent += 1
                i += 1
    return sent


def worker(mode, n, first_ssrc, server, secret, duration, start_at, q):
    """A process of its own: n calls, then sending until start_at + duration."""
    async def run():
        got, delays = {}, []
        streams, closers = await setup_calls(mode, n, first_ssrc, server, secret, got, delays)
        q.put(("ready", None))
        loop = asyncio.get_running_loop()
        # start_at is time.time(); convert to the loop's clock
        start = loop.time() + max(0.0, start_at.value - time.time())
        while start_at.value == 0:
            await asyncio.sleep(0.01)
            start = loop.time() + max(0.0, start_at.value - time.time())
        sent = await send_for(streams, start, duration)
        await asyncio.sleep(1.0)                 # late packets
        for c in closers:
            c()
        received = sum(got.values())
        q.put(("done", (sent, received, delays)))
    try:
        asyncio.run(run())
    except Exception as e:                       # noqa: BLE001 (reported to the parent)
        q.put(("error", repr(e)))


def cpu_ticks(pid):
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])           # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def measure(mode, n, turn, workers, duration):
    """One run of n calls: (pps through, lost, p50, p99, coturn CPU %)."""
    q = mp.Queue()
    start_at = mp.Value("d", 0.0)
    share = [n // workers + (1 if w < n % workers else 0) for w in range(workers)]
    procs, first = [], 0
    for w in range(workers):
        if share[w] == 0:
            continue
        p = mp.Process(target=worker, args=(mode, share[w], first, (turn.host, turn.port),
                                            turn.secret, duration, start_at, q))
        p.start()
        procs.append(p)
        first += 2 * share[w]
    for _ in procs:
        kind, val = q.get(timeout=120 + n / 10)
        if kind == "error":
            raise RuntimeError(f"{mode} {n} calls: {val}")
    ticks0, t0 = cpu_ticks(turn.proc.pid), time.monotonic()
    start_at.value = time.time() + 0.2
    sent = received = 0
    delays = []
    for _ in procs:
        kind, val = q.get(timeout=60 + duration * 2)
        if kind == "error":
            raise RuntimeError(f"{mode} {n} calls: {val}")
        sent += val[0]
        received += val[1]
        delays += val[2]
    ticks1, t1 = cpu_ticks(turn.proc.pid), time.monotonic()
    for p in procs:
        p.join(10)
    cpu = 100.0 * (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    delays.sort()
    p50 = delays[len(delays) // 2] if delays else float("nan")
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else float("nan")
    return {"pps": sent / duration, "sent": sent, "lost": sent - received, "p50": p50,
            "p99": p99, "cpu": cpu if mode == "relay" else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 s per step, up to 400 calls")
    ap.add_argument("--start", type=int, default=25, help="calls at the first step (25)")
    ap.add_argument("--max", type=int, default=None, help="calls at most (1600; --quick 400)")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds of media per step (5; --quick 2)")
    ap.add_argument("--workers", type=int, default=2, help="sending processes (2)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    duration = a.duration or (2.0 if a.quick else 5.0)
    top = a.max or (400 if a.quick else 1600)
    root = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    # two allocations per call, each a relay port: a range wide enough for the largest step
    turn = Coturn(root / "coturn", relay_ports=(40000, 40000 + 2 * top + 100),
                  extra=["total-quota=0", "user-quota=0"])
    turn.start()
    print(f"coturn {turn.host}:{turn.port}, {os.cpu_count()} cores, {a.workers} sending "
          f"processes, {duration:g} s of G.711 (50 packets/s each way) per step")
    print(f"{'calls':>6} | {'direct pps':>10} {'lost':>6} {'p50 ms':>7} {'p99 ms':>7} | "
          f"{'relay pps':>10} {'lost':>6} {'p50 ms':>7} {'p99 ms':>7} {'coturn CPU':>10}")
    best, limit_note = 0, ""
    try:
        n = a.start
        while n <= top:
            d = measure("direct", n, turn, a.workers, duration)
            r = measure("relay", n, turn, a.workers, duration)
            print(f"{n:>6} | {d['pps']:>10.0f} {d['lost']:>6} {d['p50']:>7.2f} {d['p99']:>7.2f} | "
                  f"{r['pps']:>10.0f} {r['lost']:>6} {r['p50']:>7.2f} {r['p99']:>7.2f} "
                  f"{r['cpu']:>9.0f}%", flush=True)
            if r["lost"] > 0:
                limit_note = (" (direct calls lost packets too at the next step: the load "
                              "generator's limit, not coturn's)" if d["lost"] > 0 else
                              " (direct calls lost none at the next step: coturn's limit)")
                break
            best = n
            n *= 2
        else:
            limit_note = f" (the largest step tried, --max {top})"
        print(f"largest N with no loss through coturn: {best} concurrent calls{limit_note}")
    finally:
        turn.stop()
        if not a.keep:
            import shutil
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")


if __name__ == "__main__":
    main()
