"""Calls between mobile users (issue 12): the TURN servers mod_ucwa hands credentials for
(UcwaTurnServer), their shared secret, an Allocate with credentials minted from it exactly
as mod_ucwa mints them (UDP and TCP), the relay's name from outside, what
mediaRelayAccessToken answers a signed-in user (from the client path), and the sizes
calls need (UcwaMaxCalls, UcwaEventSize)."""
import base64
import hashlib
import hmac
import importlib
import json
import os
import secrets
import shutil
import socket
import stat
import struct
import subprocess
import time

import mc_net

UCLIENT = "turnutils_uclient"
DEFAULT_TURN_PORT = 3478
DEFAULT_EVENT_SIZE = 4096
OFFER_EVENT_SIZE = 16384        # holds most offers with video (docs/extensions.md §19)


def rest_credentials(secret, user, minutes):
    """What mod_ucwa mints (docs/extensions.md §18): userName '<expiry>:<user>',
    password base64(HMAC-SHA1(secret, userName))."""
    name = f"{int(time.time()) + 60 * minutes}:{user}"
    mac = hmac.new(secret.encode(), name.encode(), hashlib.sha1).digest()
    return name, base64.b64encode(mac).decode()


def servers(fe):
    """[(host, udp port or None, tcp port or None, directive)] of UcwaTurnServer."""
    out = []
    for d in fe.all("UcwaTurnServer"):
        if not d.args:
            continue
        udp = d.args[1] if len(d.args) > 1 else str(DEFAULT_TURN_PORT)
        tcp = d.args[2] if len(d.args) > 2 else udp
        out.append((d.args[0], int(udp) if udp.isdigit() else None,
                    int(tcp) if tcp.isdigit() else None, d))
    return out


def _path(fe, p):
    return p if os.path.isabs(p) else os.path.join(fe.server_root, p)


def secret(ctx):
    """The shared secret as mod_ucwa reads it, or None (the finding made)."""
    rep, fe = ctx.report, ctx.fe
    inline = fe.all("UcwaTurnSecret")
    files = fe.all("UcwaTurnSecretFile")
    if files and files[-1].args:
        d = files[-1]
        path = _path(fe, d.args[0])
        try:
            st = os.stat(path)
            with open(path, "rb") as f:
                first = f.read(4096).split(b"\n", 1)[0].rstrip(b" \t\r")
        except OSError as e:
            rep.problem("calls.turn-secret-unreadable", path,
                        f"the TURN secret file (UcwaTurnSecretFile, {d.where}) cannot be read "
                        f"{'by root' if os.geteuid() == 0 else 'by this user'}: "
                        f"{e.strerror or e}",
                        "Apache reads it at every configuration load, as the user that starts "
                        "it: without it the configuration does not load, and no user gets "
                        "relay credentials (calls through NAT fail)",
                        "make it readable by the user that starts Apache (root:root 0600)"
                        + ("" if os.geteuid() == 0 else "; run mobility-check as that user"))
            return None
        if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            rep.problem("calls.turn-secret-exposed", path,
                        f"the TURN secret file is readable by every user "
                        f"(mode {stat.S_IMODE(st.st_mode):04o}, {d.where})",
                        "anyone on this host who reads it mints relay credentials for any "
                        "name: the TURN servers relay strangers' traffic",
                        f"chown root:root {path} && chmod 0600 {path} (Apache reads it as "
                        "root, before the children drop privileges)")
        else:
            rep.ok("calls.turn-secret-file", path,
                   f"readable here, mode {stat.S_IMODE(st.st_mode):04o}")
        return first.decode(errors="replace")
    if inline and inline[-1].args:
        return inline[-1].args[0]
    return None


def stun_binding(addr, port, tcp, timeout=2.0):
    """A STUN Binding request (RFC 8489): None when a STUN answer came, else why not."""
    txid = secrets.token_bytes(12)
    msg = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txid
    try:
        if tcp:
            with socket.create_connection((addr, port), timeout=timeout) as s:
                s.sendall(msg)
                data = s.recv(2048)
        else:
            data = mc_net.udp_exchange(addr, port, msg, timeout,
                                       accept=lambda d: d[8:20] == txid)
    except ConnectionRefusedError:
        return f"nothing listens on {'TCP' if tcp else 'UDP'} {addr}:{port}"
    except OSError as e:
        return f"{'TCP' if tcp else 'UDP'} {addr}:{port}: {e}"
    if len(data) >= 20 and data[8:20] == txid:
        return None
    return f"no STUN answer on {'TCP' if tcp else 'UDP'} {addr}:{port} in {timeout:g} s"


def turn_client():
    """The TURN client used for the Allocate: turnutils_uclient (coturn's client tools),
    else python3-aioice, else None."""
    if shutil.which(UCLIENT):
        return UCLIENT
    try:
        importlib.import_module("aioice.turn")
        return "python3-aioice"
    except ImportError:
        return None


def allocate(addr, port, tcp, user, password, timeout=20):
    """An Allocate with these credentials through turn_client(): (granted, detail);
    (None, why) when no client is installed."""
    client = turn_client()
    if client is None:
        return None, "no TURN client installed"
    if client != UCLIENT:
        return _allocate_aioice(addr, port, tcp, user, password, timeout)
    exe = shutil.which(UCLIENT)
    # -y: no peer (the relay is the question), -c: no RTCP pair, -n 0: nothing sent
    cmd = [exe, "-p", str(port), "-u", user, "-w", password, "-y", "-c", "-n", "0",
           *(["-t"] if tcp else []), addr]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"no answer to the Allocate in {timeout} s"
    text = p.stdout + p.stderr
    if p.returncode == 0 and "Cannot complete Allocation" not in text:
        return True, "allocation granted"
    for line in text.splitlines():
        if "error" in line.lower():
            return False, line.split(":", 2)[-1].strip() or "refused"
    return False, f"{UCLIENT} exited {p.returncode}"


def _allocate_aioice(addr, port, tcp, user, password, timeout):
    import asyncio

    from aioice import stun, turn

    async def run():
        t, _ = await asyncio.wait_for(turn.create_turn_endpoint(
            asyncio.DatagramProtocol, (addr, port), username=user, password=password,
            lifetime=60, transport="tcp" if tcp else "udp"), timeout)
        relayed = t.get_extra_info("sockname")
        t.close()                       # a Refresh with lifetime 0 frees the relay
        await asyncio.sleep(0.2)
        return relayed
    try:
        relayed = asyncio.run(run())
    except stun.TransactionFailed as e:
        return False, f"refused ({e})"
    except (stun.TransactionTimeout, asyncio.TimeoutError):
        return False, f"no answer to the Allocate in {timeout} s"
    except (OSError, ValueError) as e:
        return False, str(e)
    return True, f"allocation granted, relayed address {relayed[0]}:{relayed[1]} (python3-aioice)"


def check(ctx):
    rep, fe = ctx.report, ctx.fe
    turn = servers(fe)
    sip = (fe.value("UcwaSip") or "off").lower() in ("on", "1", "true", "yes")
    if not turn and not sip:
        rep.skip("calls", "no UcwaTurnServer (and UcwaSip not On): calls are not set up "
                 "here; relays and the sizes calls need were not checked")
        return
    max_calls = fe.value("UcwaMaxCalls")
    if max_calls is not None and max_calls.isdigit() and int(max_calls) == 0:
        rep.notice("calls.disabled", fe.all("UcwaMaxCalls")[-1].where,
                   "UcwaMaxCalls 0: calls are disabled on this Front End",
                   "mobile users cannot call each other (or phones, or the PSTN) through it",
                   "UcwaMaxCalls 128 (the default) or more, sized for the calls at the busy "
                   "hour (256 KiB of reserved shared memory each)")
        return
    ev = fe.all("UcwaEventSize")
    size = int(ev[-1].args[0]) if ev and ev[-1].args and ev[-1].args[0].isdigit() \
        else DEFAULT_EVENT_SIZE
    if size < OFFER_EVENT_SIZE:
        rep.notice("calls.event-size", ev[-1].where if ev else fe.path,
                   f"UcwaEventSize {size}{'' if ev else ' (the default)'}: an offer with video "
                   "and a dozen candidates (3-8 KiB, a third more in base64) does not fit an "
                   "event and is sent link-only",
                   "the app must GET the invitation's link to read the offer: a round trip "
                   "more before it rings, and a client that does not follow the link misses "
                   "the call",
                   f"UcwaEventSize {OFFER_EVENT_SIZE} (the memory is reserved, paid only for "
                   "the bytes events hold)")
    else:
        rep.ok("calls.event-size", f"UcwaEventSize {size}", "offers fit an event")
    if not turn:
        rep.skip("calls relay", "no UcwaTurnServer: no mediaRelayAccessToken; calls work only "
                 "where the two ends reach each other directly (not across most NATs)")
        return
    key = secret(ctx)
    if key is None:
        if not fe.all("UcwaTurnSecretFile"):
            rep.problem("calls.turn-secret-missing", turn[0][3].where,
                        "UcwaTurnServer without UcwaTurnSecretFile (or UcwaTurnSecret)",
                        "the configuration does not load (UCWA00503)",
                        "UcwaTurnSecretFile with coturn's static-auth-secret")
        return
    life = fe.value("UcwaTurnTokenLifetime")
    minutes = int(life) if life and life.isdigit() else 480
    user = (ctx.user or "mobility-check").lower().removeprefix("sip:")
    name, password = rest_credentials(key, user, minutes)
    client = turn_client()
    if not client:
        rep.notice("calls.turn-client-missing", UCLIENT,
                   "neither turnutils_uclient (coturn's client tools) nor python3-aioice is "
                   "installed: no Allocate was tried, the servers were only asked a STUN "
                   "Binding", "whether the relays accept the credentials mod_ucwa mints is "
                   "not known", "apt-get install coturn (its turnutils_uclient is used; the "
                   "server need not run here) or python3-aioice")
    for host, udp, tcp, d in turn:
        addrs = [host] if _is_addr(host) else ctx.addrs(host)
        if not addrs:
            rep.problem("calls.turn-dns", host,
                        f"the TURN server's name ({d.where}) does not resolve from inside",
                        "apps on the internal network cannot reach the relay",
                        f"add {host} to the internal DNS zone, or name its address")
            continue
        addr = addrs[0]
        for tcp_side, port in ((False, udp), (True, tcp)):
            if port is None:
                continue
            proto = "TCP" if tcp_side else "UDP"
            subj = f"{proto} {host}:{port}"
            why = stun_binding(addr, port, tcp_side)
            if why:
                rep.problem("calls.turn-unreachable", subj,
                            f"the TURN server (UcwaTurnServer, {d.where}) does not answer: "
                            f"{why}",
                            "calls between users behind NATs (most phones on mobile data) "
                            "need the relay: they connect and stay silent, or fail",
                            "start the TURN server (coturn: systemctl start coturn) and open "
                            f"{proto} {port} to it, or correct UcwaTurnServer")
                continue
            if not client:
                rep.ok("calls.turn-answers", subj, "STUN Binding answered")
                continue
            ok, detail = allocate(addr, port, tcp_side, name, password)
            if ok:
                rep.ok("calls.turn-allocate", subj,
                       f"Allocate granted to credentials minted from the secret ({name}; "
                       f"{client})")
            else:
                rep.problem("calls.turn-refused", subj,
                            f"the TURN server refuses an Allocate with credentials minted "
                            f"from the Front End's secret exactly as mod_ucwa mints them: "
                            f"{detail}",
                            "every relay credential users get is refused: calls through NAT "
                            "fail while the server looks alive",
                            "give the TURN server the same secret (coturn: use-auth-secret "
                            "and static-auth-secret = the first line of UcwaTurnSecretFile) "
                            "and the same clock (NTP): an expired name is refused")
        if ctx.outside is not None and not _is_addr(host):
            out = ctx.addrs(host, True)
            if not out:
                rep.problem("calls.turn-dns-outside", host,
                            f"the TURN server's name does not resolve from outside "
                            f"({ctx.outside})",
                            "phones on the Internet get this name in mediaRelayAccessToken "
                            "and cannot reach the relay: their calls fail across NATs",
                            f"publish {host} in the public DNS zone (its public address)")
            else:
                rep.ok("calls.turn-dns-outside", host, f"outside: {', '.join(out)}")


def _is_addr(host):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    except OSError:
        return False


def relay_token(ctx, h, origin, app, auth):
    """From the client path, with a signed-in application app (its JSON): GET
    mediaRelayAccessToken and compare its mediaRelay entries with UcwaTurnServer."""
    turn = servers(ctx.fe)
    if not turn:
        return
    links = (((app.get("_embedded") or {}).get("communication") or {}).get("_links") or {})
    href = (links.get("mediaRelayAccessToken") or {}).get("href")
    url = origin + href if href and href.startswith("/") else href
    if not href:
        return h.fail("path.media-relay", "UCWA: mediaRelayAccessToken", origin,
                      "communication has no mediaRelayAccessToken link",
                      "apps get no relay credentials: calls across NATs fail",
                      "the user's mobility policy must have EnableIPAudioVideo On "
                      "(--policy-user shows it), and the Front End must run this "
                      "configuration (apachectl graceful)")
    a = h.get("mediaRelayAccessToken", "GET", url, True, auth)
    try:
        j = json.loads(a.body) if a.status == 200 else None
    except ValueError:
        j = None
    j = j if isinstance(j, dict) else None
    if not j:
        return h.fail("path.media-relay", "UCWA: mediaRelayAccessToken", url,
                      a.error or f"HTTP {a.status}", "apps get no relay credentials: "
                      "calls across NATs fail", "the error log says why (UCWA00500-00519)", a)
    got = [(r.get("host"), r.get("udpPort"), r.get("tcpPort"))
           for r in (j.get("_embedded") or {}).get("mediaRelay") or []]
    want = [(host, -1 if udp is None else udp, -1 if tcp is None else tcp)
            for host, udp, tcp, _ in turn]
    if got != want:
        return h.fail("path.media-relay", "UCWA: mediaRelayAccessToken", url,
                      f"its relays are {got}, the configuration says {want}",
                      "apps try relays the configuration does not name",
                      "apachectl graceful after changing UcwaTurnServer (every Front End of "
                      "the pool the same)", a)
    h.record("UCWA: mediaRelayAccessToken", True, a,
             ", ".join(f"{x}:{u}/{t}" for x, u, t in got))
