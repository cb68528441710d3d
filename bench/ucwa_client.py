"""The client side of bench_ucwa.py: a small HTTP/1.1 client on raw non-blocking sockets
driven by asyncio (one socket per connection, no streams, no threads), and the shard
processes that hold the parked event channels.

A shard is a child process with its own event loop. It holds a share of the channels (one
keep-alive connection and one pending GET each) and answers commands from the bench over a
pipe. Several shards let the client hold more connections than one process's file limit,
and keep its CPU use spread when thousands of responses arrive at once.

Response times are the kernel's receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME) of a
response's first bytes, so a client busy with other sockets does not inflate them; where
the kernel gives none, the time the loop read the bytes.
"""
import asyncio
import json
import os
import random
import re
import socket
import struct
import time
import traceback
from urllib.parse import urlsplit

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
ANC_SPACE = socket.CMSG_SPACE(16)
RECV_SIZE = 65536


class HttpError(Exception):
    pass


class Response:
    __slots__ = ("status", "headers", "body", "t_first", "t_done")

    def __init__(self, status, headers, body, t_first, t_done):
        self.status, self.headers, self.body = status, headers, body
        self.t_first, self.t_done = t_first, t_done

    def json(self):
        return json.loads(self.body)


def request_bytes(method, path, host, token=None, body=None, ctype="application/json",
                  accept="application/json"):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if accept:
        lines.append(f"Accept: {accept}")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else body.encode()
        lines += [f"Content-Type: {ctype}", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Conn:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, loop, addr, port, src=None):
        self.loop, self.addr, self.port, self.src = loop, addr, port, src
        self.sock = None
        self.buf = bytearray()
        self.t_first = None
        self.waiter = None
        self.closed = True
        self.head = None          # (status, headers, body length) once the head is in

    async def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass
        if self.src:
            s.bind((self.src, 0))
        try:
            await self.loop.sock_connect(s, (self.addr, self.port))
        except BaseException:
            s.close()
            raise
        self.sock = s
        self.closed = False
        self.buf.clear()
        self.head = None
        self.loop.add_reader(s.fileno(), self._readable)
        return self

    def close(self):
        if self.sock is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (ValueError, OSError):
                pass
            self.sock.close()
            self.sock = None
        self.closed = True
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(HttpError("connection closed"))
            self.waiter.exception()   # retrieved: its callback, if any, handles it
        self.waiter = None

    async def request(self, raw):
        """Sends one request; returns a future for its Response (await it separately, so
        a caller can park many requests and wait for none)."""
        if self.closed:
            await self.connect()
        if self.waiter and not self.waiter.done():
            raise HttpError("a request is already pending on this connection")
        self.waiter = self.loop.create_future()
        self.t_first = None
        fut = self.waiter
        await self.loop.sock_sendall(self.sock, raw)
        return fut

    async def fetch(self, raw):
        return await (await self.request(raw))

    def _readable(self):
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(RECV_SIZE, ANC_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._fail(HttpError(f"recv: {e}"))
            return
        if not data:
            self._fail(HttpError("connection closed by the server"))
            return
        if self.t_first is None:
            self.t_first = kernel_time(anc)
        self.buf += data
        self._parse()

    def _fail(self, exc):
        w = self.waiter
        self.waiter = None
        self.close()
        if w and not w.done():
            w.set_exception(exc)

    def _parse(self):
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                self._fail(HttpError(f"bad status line {lines[0]!r}"))
                return
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._fail(HttpError("chunked responses are not expected here"))
                return
            status = int(parts[1])
            length = int(headers.get("content-length", "0"))
            if status in (204, 304):
                length = 0
            del self.buf[:end + 4]
            self.head = (status, headers, length)
        status, headers, length = self.head
        if len(self.buf) < length:
            return
        body = bytes(self.buf[:length])
        del self.buf[:length]
        self.head = None
        resp = Response(status, headers, body, self.t_first, time.time())
        self.t_first = None
        w = self.waiter
        self.waiter = None
        if headers.get("connection", "").lower() == "close":
            self.close()
        if w and not w.done():
            w.set_result(resp)


def kernel_time(anc):
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            if sec:
                return sec + nsec / 1e9
    return time.time()


async def run_all(addr, port, raws, concurrency, src=None):
    """Sends every request of raws over concurrency keep-alive connections; returns the
    responses in order. A connection the server closes is opened again."""
    loop = asyncio.get_running_loop()
    out = [None] * len(raws)
    it = iter(range(len(raws)))

    async def worker():
        c = Conn(loop, addr, port, src)
        try:
            for i in it:
                for attempt in range(3):
                    try:
                        out[i] = await c.fetch(raws[i])
                        break
                    except HttpError:
                        if attempt == 2:
                            raise
                        c.close()
        finally:
            c.close()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(raws)) or 1)))
    return out


# --- event channels ------------------------------------------------------------------

ACK_RE = re.compile(r"[?&]ack=(\d+)")


def next_ack(pkg, base):
    """The ack of the package's next link, checking it belongs to the application."""
    href = pkg["_links"]["next"]["href"]
    if not href.startswith(base + "/events"):
        raise HttpError(f"next link {href!r} is not under {base}")
    return int(ACK_RE.search(href).group(1))


def package_events(pkg):
    """(rel, href, type) of every event of a package."""
    out = []
    for sender in pkg.get("sender", []):
        for ev in sender.get("events", []):
            link = ev.get("link", {})
            out.append((link.get("rel"), link.get("href"), ev.get("type")))
    return out


class Channel:
    __slots__ = ("idx", "user", "base", "token", "ack", "conn", "pending", "watch",
                 "bounces", "drains", "reconnects", "since", "mode", "timeout", "once",
                 "timeouts")

    def __init__(self, idx, user, base, token, ack):
        self.idx, self.user, self.base, self.token, self.ack = idx, user, base, token, ack
        self.conn = None
        self.pending = False      # a GET is outstanding
        self.watch = None         # (round, expected rel, repark) while armed
        self.bounces = self.drains = self.reconnects = 0
        self.since = 0.0
        self.mode = "idle"        # idle | park
        self.timeout = None       # timeout= of its requests (None: the shard's)
        self.once = False         # stop after an answer at the timeout
        self.timeouts = 0


class Shard:
    """Runs in a child process: holds channels and idle keep-alive connections."""

    def __init__(self, pipe, addr, port, host, src, timeout, medium):
        self.pipe, self.addr, self.port, self.host, self.src = pipe, addr, port, host, src
        self.timeout, self.medium = timeout, medium
        self.channels = {}
        self.idle = []
        self.samples = {}         # round -> list of sample tuples
        self.errors = []
        self.loop = None
        self.no_retry = False     # a bounced request is not sent again (end of --max)
        self.gave_up = 0

    # -- plumbing
    def run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.done = self.loop.create_future()
        self.loop.add_reader(self.pipe.fileno(), self._command)
        try:
            self.loop.run_until_complete(self.done)
        finally:
            for ch in self.channels.values():
                if ch.conn:
                    ch.conn.close()
            for c in self.idle:
                c.close()
            self.loop.close()

    def _command(self):
        try:
            cmd, args = self.pipe.recv()
        except EOFError:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.loop.create_task(self._dispatch(cmd, args))

    async def _dispatch(self, cmd, args):
        try:
            result = await getattr(self, "cmd_" + cmd)(*args)
            self.pipe.send(("ok", result))
        except Exception as e:  # reported to the bench, which fails loudly
            self.pipe.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))

    # -- commands
    async def cmd_add(self, rows):
        for idx, user, base, token, ack in rows:
            self.channels[idx] = Channel(idx, user, base, token, ack)
        return len(self.channels)

    async def cmd_park(self, idxs, connect_concurrency):
        """Opens a connection per channel and sends its GET; returns once all are sent."""
        sem = asyncio.Semaphore(connect_concurrency)

        async def one(ch):
            async with sem:
                ch.mode = "park"
                await self._issue(ch)
        await asyncio.gather(*(one(self.channels[i]) for i in idxs))
        return len(idxs)

    async def cmd_stats(self):
        chs = self.channels.values()
        return {
            "pending": sum(1 for c in chs if c.pending),
            "bounces": sum(c.bounces for c in chs),
            "bounced_channels": sum(1 for c in chs if c.bounces),
            "max_bounces": max((c.bounces for c in chs), default=0),
            "drains": sum(c.drains for c in chs),
            "reconnects": sum(c.reconnects for c in chs),
            "errors": list(self.errors[:10]),
            "n_errors": len(self.errors),
            "idle_open": sum(1 for c in self.idle if not c.closed),
            "timeouts": sum(c.timeouts for c in chs),
            "gave_up": self.gave_up,
        }

    async def cmd_no_retry(self):
        self.no_retry = True
        return True

    async def cmd_set_timeout(self, seconds):
        """Channels not parked now ask for this timeout, and stop when it answers."""
        n = 0
        for c in self.channels.values():
            if not c.pending and c.mode == "idle":
                c.timeout, c.once = seconds, True
                n += 1
        return n

    async def cmd_arm(self, rnd, idxs, rel, repark):
        for i in idxs:
            self.channels[i].watch = (rnd, rel, repark)
        self.samples.setdefault(rnd, [])
        return len(idxs)

    async def cmd_samples(self, rnd):
        return self.samples.get(rnd, [])

    async def cmd_acks(self):
        return {i: c.ack for i, c in self.channels.items()}

    async def cmd_idle_open(self, n, path, src, concurrency):
        """n keep-alive connections, each after one GET of path (status 200), left open."""
        sem = asyncio.Semaphore(concurrency)
        raw = request_bytes("GET", path, self.host, accept="*/*")
        bad = []

        async def one():
            async with sem:
                c = Conn(self.loop, self.addr, self.port, src)
                r = await c.fetch(raw)
                if r.status != 200:
                    bad.append(r.status)
                self.idle.append(c)
        await asyncio.gather(*(one() for _ in range(n)))
        if bad:
            raise HttpError(f"{len(bad)} static GETs failed, statuses {sorted(set(bad))}")
        return sum(1 for c in self.idle if not c.closed)

    async def cmd_idle_close(self):
        n = len(self.idle)
        for c in self.idle:
            c.close()
        self.idle = []
        return n

    async def cmd_quit(self):
        self.loop.call_soon(lambda: self.done.done() or self.done.set_result(None))
        return True

    # -- the channel machinery
    def _url(self, ch):
        return (f"{ch.base}/events?ack={ch.ack}&timeout={ch.timeout or self.timeout}"
                f"&medium={self.medium}")

    async def _issue(self, ch, fresh=False):
        if ch.conn is None or ch.conn.closed or fresh:
            if ch.conn is not None:
                ch.conn.close()
            ch.conn = Conn(self.loop, self.addr, self.port, self.src)
        raw = request_bytes("GET", self._url(ch), self.host, token=ch.token)
        for attempt in range(5):
            try:
                fut = await ch.conn.request(raw)
                break
            except (HttpError, OSError) as e:
                ch.conn.close()
                ch.reconnects += 1
                if attempt == 4:
                    self.errors.append((ch.idx, f"cannot send the event request: {e}"))
                    ch.pending = False
                    return
                await asyncio.sleep(0.2 * (attempt + 1))
        ch.pending = True
        ch.since = time.time()
        fut.add_done_callback(lambda f, ch=ch: self._answered(ch, f))

    def _answered(self, ch, fut):
        ch.pending = False
        exc = fut.exception()
        if exc is not None:
            # the server closed the keep-alive connection (or it broke): send it again
            ch.reconnects += 1
            if ch.mode == "park":
                self.loop.create_task(self._issue(ch, fresh=True))
            return
        r = fut.result()
        try:
            if r.status != 200:
                raise HttpError(f"status {r.status}: {r.body[:200]!r}")
            pkg = json.loads(r.body)
            if "resync" in pkg.get("_links", {}):
                raise HttpError(f"resync: {r.body[:200]!r}")
            self_href = pkg["_links"]["self"]["href"]
            if ACK_RE.search(self_href).group(1) != str(ch.ack):
                raise HttpError(f"package {self_href} answers ack={ch.ack}")
            events = package_events(pkg)
            ack = next_ack(pkg, ch.base)
        except (HttpError, ValueError, KeyError, AttributeError, TypeError) as e:
            self.errors.append((ch.idx, f"{ch.base}: {e}"))
            if ch.watch:
                rnd = ch.watch[0]
                self.samples[rnd].append((ch.idx, r.t_first, r.t_done, r.status, False,
                                          str(e)[:200]))
                ch.watch = None
            ch.mode = "idle"
            return
        ch.ack = ack
        if ch.watch:
            rnd, rel, repark = ch.watch
            ch.watch = None
            hit = any(e[0] == rel and e[1] and e[1].startswith(ch.base) for e in events)
            self.samples[rnd].append((ch.idx, r.t_first, r.t_done, 200, hit,
                                      "" if hit else f"no {rel} event: {events[:3]}"))
            if not repark:
                ch.mode = "idle"
                return
        elif events:
            ch.drains += 1          # queued events (not a bounce): ask for the next package
        elif r.t_done - ch.since >= (ch.timeout or self.timeout) - 1:
            ch.timeouts += 1        # the request's own timeout: an empty package, as it should
            if ch.once:
                ch.mode = "idle"
                return
        else:
            # an empty package long before the timeout: this child would not park it
            # (UcwaMaxParkedPerChild). Retry on a new connection, which the server may
            # give to another child, after a short pause.
            ch.bounces += 1
            if self.no_retry:
                self.gave_up += 1
                ch.mode = "idle"
                return
            self.loop.call_later(0.05 + random.random() * 0.2,
                                 lambda: self.loop.create_task(self._issue(ch, fresh=True)))
            return
        if ch.mode == "park":
            self.loop.create_task(self._issue(ch))


def shard_main(pipe, addr, port, host, src, timeout, medium):
    os.environ.pop("PYTHONASYNCIODEBUG", None)
    Shard(pipe, addr, port, host, src, timeout, medium).run()


def parse_url(url):
    u = urlsplit(url)
    return u.path + (("?" + u.query) if u.query else "")
