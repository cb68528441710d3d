"""The SIP side (issue 13, docs/sip.md), as the phones, Kamailio and the PSTN gateways meet
it: ucwa-sipd answering OPTIONS on its two ports (UDP; TCP or TLS, the certificate's names
and time), Kamailio (UcwaSipProxy) answering OPTIONS, rtpengine (UcwaRtpengine) answering
an NG ping, and every gateway of Kamailio's dispatcher list (--sip-dispatcher)."""
import secrets
import socket
import ssl
import time

import mc_net

EXT_PORT, PRI_PORT = 5088, 5089


def split_hostport(text, default_port):
    """(host, port) of 'host:port', '[v6]:port' or a bare host."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port) if port.isdigit() else default_port
    return text, default_port


def options(addr, port, transport="udp", uri=None, timeout=2.0):
    """One SIP OPTIONS to addr:port over udp, tcp or tls (the certificate is not checked
    here: certificate() does that): (status code, reason) of the first answer, or
    (None, why there was none)."""
    branch = "z9hG4bK" + secrets.token_hex(8)
    host = f"[{addr}]" if ":" in addr else addr
    uri = uri or f"sip:{host}:{port}"
    via = {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}[transport]
    msg = (f"OPTIONS {uri} SIP/2.0\r\n"
           f"Via: SIP/2.0/{via} {host}:9;branch={branch};rport\r\n"
           "Max-Forwards: 70\r\n"
           f"From: <sip:mobility-check@invalid>;tag={secrets.token_hex(4)}\r\n"
           f"To: <{uri}>\r\nCall-ID: {secrets.token_hex(12)}@mobility-check\r\n"
           "CSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nUser-Agent: mobility-check\r\n"
           "Content-Length: 0\r\n\r\n").encode()
    data = b""
    try:
        if transport == "udp":
            try:
                data = mc_net.udp_exchange(addr, port, msg, timeout)
            except ConnectionRefusedError:
                return None, f"nothing listens on UDP {addr}:{port} (port unreachable)"
            if not data:
                return None, f"no answer on UDP {addr}:{port} in {timeout:g} s"
        else:
            try:
                s = socket.create_connection((addr, port), timeout=timeout)
            except OSError as e:
                return None, f"cannot connect to {transport.upper()} {addr}:{port}: {e}"
            try:
                if transport == "tls":
                    c = ssl.create_default_context()
                    c.check_hostname = False
                    c.verify_mode = ssl.CERT_NONE
                    s = c.wrap_socket(s)
                s.settimeout(timeout)
                s.sendall(msg)
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (OSError, ssl.SSLError) as e:
                if not data:
                    return None, f"{transport.upper()} {addr}:{port}: {e}"
            finally:
                s.close()
    except OSError as e:
        return None, f"{transport.upper()} {addr}:{port}: {e}"
    if not data.startswith(b"SIP/2.0 "):
        return None, f"{transport.upper()} {addr}:{port} answered something that is not SIP"
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    code = line[8:11]
    return (int(code) if code.isdigit() else None), line[12:]


def ng_ping(addr, port, timeout=1.5):
    """rtpengine's NG `ping` over UDP with a cookie: None when it answered pong, else why."""
    cookie = secrets.token_hex(6).encode()
    try:
        data = mc_net.udp_exchange(addr, port, cookie + b" d7:command4:pinge", timeout,
                                   accept=lambda d: d.startswith(cookie + b" "))
    except ConnectionRefusedError:
        return f"nothing listens on UDP {addr}:{port} (port unreachable)"
    except OSError as e:
        return f"UDP {addr}:{port}: {e}"
    if not data:
        return f"no answer on UDP {addr}:{port} in {timeout:g} s"
    body = data[len(cookie) + 1:]
    return None if b"4:pong" in body else f"it answered {body[:80]!r}, not pong"


def read_dispatcher(path):
    """Kamailio's dispatcher list: [(setid, uri, line number)]."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 2 and parts[0].isdigit():
                out.append((int(parts[0]), parts[1], n))
    return out


def uri_target(uri):
    """(host, port, transport) a SIP URI sends to (no NAPTR/SRV: the host and its port)."""
    u = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    params = {}
    if ";" in u:
        u, _, rest = u.partition(";")
        for p in rest.split(";"):
            k, _, v = p.partition("=")
            params[k.lower()] = v.lower()
    u = u.split("@", 1)[-1]
    secure = uri.lower().startswith("sips:")
    host, port = split_hostport(u, 5061 if secure else 5060)
    transport = params.get("transport", "tls" if secure else "udp")
    return host, port, transport if transport in ("udp", "tcp", "tls") else "udp"


def _addr(ctx, host):
    if all(c in "0123456789.:abcdefABCDEF" for c in host) and any(c in host for c in ".:"):
        return host
    a = ctx.addrs(host)
    return a[0] if a else None


def check(ctx):
    rep = ctx.report
    fe = ctx.fe
    if (fe.value("UcwaSip") or "off").lower() not in ("on", "1", "true", "yes"):
        rep.skip("sip", "UcwaSip is not On: ucwa-sipd, Kamailio and rtpengine not checked")
        return
    d = fe.all("UcwaSip")[-1]
    listen = fe.value("UcwaSipListenAddress", "127.0.0.1")
    # every address: asked on this host's loopback (run the check on the Front End)
    listen = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(listen, listen)
    ports = []
    for name, default in (("UcwaSipExternalListeningPort", EXT_PORT),
                          ("UcwaSipPrimaryListeningPort", PRI_PORT)):
        v = fe.value(name)
        port = int(v) if v and v.isdigit() else default
        if port not in [p for p, _ in ports]:
            ports.append((port, name))
    cert = fe.all("UcwaSipCertificateFile")
    stream = "tls" if cert else "tcp"
    for port, name in ports:
        for transport in ("udp", stream):
            subj = f"{transport.upper()} {listen}:{port}"
            code, why = options(listen, port, transport)
            if code is None or code >= 300:
                rep.problem("sip.port", subj,
                            f"ucwa-sipd does not answer OPTIONS on {name} ({transport.upper()}): "
                            + (why if code is None else f"{code} {why}"),
                            "Kamailio sends the calls of SIP phones and the PSTN to this port: "
                            "a mobile user's desk phone and PSTN calls never reach the app "
                            "(and call via work never rings)",
                            f"check that Apache runs with this configuration ({d.where}), "
                            "that the error log has UCWA00654 (listening) and no UCWA00641/"
                            "UCWA00647, and that no firewall drops SIP to "
                            f"{listen}:{port}")
            else:
                rep.ok("sip.port", subj, f"OPTIONS answered {code} {why}")
        if cert:
            _certificate(ctx, listen, port, cert[-1])
    proxy = fe.all("UcwaSipProxy")
    if proxy and proxy[-1].args:
        pd = proxy[-1]
        host, port = split_hostport(pd.args[0], 5060)
        addr = _addr(ctx, host)
        for transport in ("udp", "tcp"):
            subj = f"{transport.upper()} {pd.args[0]}"
            code, why = options(addr, port, transport) if addr else (None, f"{host} does not "
                                                                      "resolve")
            if code is None:
                rep.problem("sip.proxy", subj,
                            f"Kamailio (UcwaSipProxy, {pd.where}) does not answer OPTIONS over "
                            f"{transport.upper()}: {why}",
                            "every call between an app and a SIP phone or the PSTN goes "
                            "through it: none can be made or received",
                            "start Kamailio (conf.d/sip/kamailio.cfg, docs/sip.md) listening "
                            f"on {host}:{port}, or correct UcwaSipProxy")
            else:
                rep.ok("sip.proxy", subj, f"OPTIONS answered {code} {why}")
    else:
        rep.skip("sip proxy", "no UcwaSipProxy: ucwa-sipd has no next hop for phones and "
                 "the PSTN")
    rtp = fe.all("UcwaRtpengine")
    if rtp and rtp[-1].args:
        rd = rtp[-1]
        host, port = split_hostport(rd.args[0], 2223)
        addr = _addr(ctx, host)
        why = ng_ping(addr, port) if addr else f"{host} does not resolve"
        if why:
            rep.problem("sip.rtpengine", rd.args[0],
                        f"rtpengine (UcwaRtpengine, {rd.where}) does not answer an NG ping: "
                        f"{why}",
                        "the media of calls between the apps (ICE, SRTP) and phones or the "
                        "PSTN (plain RTP) goes through rtpengine: such calls ring and stay "
                        "silent, or fail (UCWA00655 in the error log)",
                        f"start rtpengine with listen-ng={host}:{port} (docs/sip.md), or "
                        "correct UcwaRtpengine")
        else:
            rep.ok("sip.rtpengine", rd.args[0], "NG ping answered pong")
    else:
        rep.skip("sip rtpengine", "no UcwaRtpengine: calls to phones and the PSTN have no "
                 "media anchor")
    if ctx.sip_dispatcher:
        gateways(ctx, ctx.sip_dispatcher)
    else:
        rep.skip("sip gateways", "no dispatcher list named (--sip-dispatcher FILE): the PSTN "
                 "gateways were not asked")


def gateways(ctx, path):
    rep = ctx.report
    sets = {}
    for setid, uri, line in read_dispatcher(path):
        host, port, transport = uri_target(uri)
        addr = _addr(ctx, host)
        code, why = options(addr, port, transport, uri=uri) if addr else \
            (None, f"{host} does not resolve")
        alive = code is not None
        sets.setdefault(setid, []).append((uri, alive, why))
        subj = f"set {setid} {uri}"
        if alive:
            rep.ok("sip.gateway", subj, f"OPTIONS answered {code} {why}")
        else:
            rep.notice("sip.gateway", subj,
                       f"the gateway ({path}:{line}) does not answer OPTIONS: {why}",
                       "Kamailio tries it, waits for its timeout, then the next of the set: "
                       "a PSTN call through this set rings later",
                       "start the gateway or mend the path to it, or remove it from the "
                       "list (then kamcmd dispatcher.reload)")
    for setid, gws in sorted(sets.items()):
        if not any(alive for _, alive, _ in gws):
            rep.problem("sip.gateway-set", f"set {setid}",
                        f"no gateway of set {setid} answers OPTIONS ({path}: "
                        f"{', '.join(u for u, _, _ in gws)})",
                        "every PSTN call routed to this set fails: a mobile user cannot call "
                        "out (or call via work) through it",
                        "bring one of its gateways back, or add one that answers and run "
                        "kamcmd dispatcher.reload")


def _certificate(ctx, listen, port, d):
    """The TLS certificate of a SIP port: names the Front End and its pool, valid --days."""
    rep = ctx.report
    c = mc_net.served_certificate(listen, port, ctx.pool_names()[0] if ctx.pool_names()
                                  else listen, ctx.ca)
    subj = f"TLS {listen}:{port}"
    if c.error:
        return          # the OPTIONS probe has reported it
    missing = [n for n in ctx.pool_names() if not mc_net.name_matches(n, c.sans)]
    f = d.args[0] if d.args else "?"
    if missing:
        rep.problem("sip.certificate-names", subj,
                    f"the certificate of the SIP port does not name {', '.join(missing)}: "
                    f"SANs {', '.join(c.sans) or 'none'}",
                    "Kamailio and the PSTN gateways reach the Front End by the pool's name "
                    "and check it: TLS to this port fails and so do the calls",
                    f"reissue {f} (UcwaSipCertificateFile, {d.where}) with DNS:"
                    + " DNS:".join(ctx.pool_names()) + ", then apachectl graceful")
    else:
        rep.ok("sip.certificate-names", subj, f"names {', '.join(ctx.pool_names())}")
    if not c.chain_ok:
        rep.problem("sip.certificate-chain", subj,
                    f"the chain served does not verify ({c.chain_error})",
                    "Kamailio and the gateways refuse the connection: no calls",
                    f"serve the intermediates with the certificate in {f}"
                    + ("" if ctx.ca else ", or name the private CA with --ca"))
    left = (c.not_after - time.time()) / 86400
    if left < ctx.days:
        rep.problem("sip.certificate-expiry", subj,
                    f"the certificate expires in {left:.0f} days "
                    f"({time.strftime('%Y-%m-%d', time.gmtime(c.not_after))})",
                    "when it expires no call reaches the apps from a phone or the PSTN",
                    f"renew {f} before then and apachectl graceful (threshold --days "
                    f"{ctx.days})")
    else:
        rep.ok("sip.certificate-expiry", subj, f"{left:.0f} days left")

