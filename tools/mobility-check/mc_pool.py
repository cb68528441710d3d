"""The pool (issue 11): with UcwaPoolFrontEnd, the pool's PostgreSQL reachable with the
connection mod_dbd is given, the other Front Ends the load balancer names answering,
the load balancer's timeouts longer than the longest event request, and the linked pools
(UcwaPoolLink) reachable with a certificate valid for their name."""
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse

import mc_net

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def haproxy_seconds(text):
    m = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", text.strip())
    if not m:
        return None
    return int(m.group(1)) * UNITS[m.group(2) or "ms"]     # HAProxy: milliseconds by default


def _env(text):
    """HAProxy's "${VAR}" and "${VAR-default}" from the environment it would run in."""
    def rep(m):
        # an unset variable without a default stays as written: the finding names it
        return os.environ.get(m.group(1), m.group(3) if m.group(2) else m.group(0))
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(-([^}]*))?\}", rep, text).replace('"', "")


def read_haproxy(path):
    """[(section, name, [(keyword args, line)])] of an HAProxy configuration."""
    sections, cur = [], None
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].rstrip()
            if not line.strip():
                continue
            words = _env(line).split()
            if not raw[0].isspace():
                cur = (words[0], words[1] if len(words) > 1 else "", [])
                sections.append(cur)
            elif cur:
                cur[2].append((words, n))
    return sections


def _hostport(text, default):
    host, _, port = text.rpartition(":")
    return (host.strip("[]"), int(port)) if port.isdigit() and host else (text, default)


def check(ctx):
    rep, fe = ctx.report, ctx.fe
    pfe = fe.all("UcwaPoolFrontEnd")
    if not pfe or not pfe[-1].args:
        rep.skip("pool", "no UcwaPoolFrontEnd: this Front End is alone (its database, "
                 "the load balancer's members and pool links not checked)")
        return
    me = pfe[-1]
    _database(ctx, me)
    longest = ctx.event_max()
    if ctx.hlb_config:
        _haproxy(ctx, ctx.hlb_config, longest)
    members = []
    for cfg in (fe, ctx.rp):
        for bal in cfg.sections("Proxy") if cfg else []:
            if bal.args and bal.args[0].startswith("balancer://"):
                members += [(d.args[0], d.where) for d in bal.children
                            if d.name.lower() == "balancermember" and d.args]
    for url, where in members:
        u = urllib.parse.urlsplit(url)
        _answers(ctx, u.hostname, u.port or (443 if u.scheme == "https" else 80), where)
    if not ctx.hlb_config and not members:
        rep.skip("pool front ends", "no load balancer configuration (--hlb-config for "
                 "HAProxy, --proxy-config for Apache's hlb.conf): the pool's other Front "
                 "Ends and the balancer's timeouts were not checked")
    _links(ctx)


def _database(ctx, me):
    rep, fe = ctx.report, ctx.fe
    driver = (fe.value("DBDriver") or "").lower()
    if driver != "pgsql":
        rep.problem("pool.database-driver", me.where,
                    f"UcwaPoolFrontEnd with DBDriver {driver or '(none)'}, not pgsql",
                    "the pool's Front Ends share presence, IM and calls through PostgreSQL: "
                    "this one stays alone (UCWA00422) and its users cannot reach the "
                    "others' users",
                    "DBDriver pgsql and DBDParams naming the pool's database (docs/"
                    "directives.md, UcwaPoolFrontEnd)")
        return
    d = fe.all("DBDParams")
    params = d[-1].args[0] if d and d[-1].args else ""
    where = d[-1].where if d else me.where
    shown = re.sub(r"password=\S+", "password=...", params)
    isready, psql = shutil.which("pg_isready"), shutil.which("psql")
    if isready:
        cmd = [isready, "-d", params, "-t", "5"]
    elif psql:
        cmd = [psql, "-d", params, "-tAc", "SELECT 1"]
    else:
        rep.skip("pool database", "neither pg_isready nor psql is installed "
                 "(apt-get install postgresql-client): the pool's database was not asked")
        return
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=15,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
        ok, out = p.returncode == 0, (p.stdout + p.stderr).strip()
    except subprocess.TimeoutExpired:
        ok, out = False, "no answer in 15 s"
    if ok:
        rep.ok("pool.database", shown, f"{os.path.basename(cmd[0])}: {out or 'answers'}")
        return
    rep.problem("pool.database", shown,
                f"the pool's PostgreSQL does not accept connections with DBDParams "
                f"({where}): {out.splitlines()[-1] if out else 'no answer'}",
                "the Front Ends of the pool share presence, IM and calls through it: new "
                "conversations answer 503, contacts on other Front Ends look offline, "
                "sign-in fails when the directory is there too",
                "start PostgreSQL (systemctl start postgresql), allow this host in "
                "pg_hba.conf and listen_addresses, or correct DBDParams")


def _answers(ctx, host, port, where):
    addrs = [host] if re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+", host or "") else ctx.addrs(host)
    subj = f"{host}:{port}"
    why = None
    if not addrs:
        why = f"{host} does not resolve"
    else:
        t0 = time.monotonic()
        try:
            socket.create_connection((addrs[0], port), timeout=5).close()
        except OSError as e:
            why = f"cannot connect to {addrs[0]}:{port}: {e}"
        secs = time.monotonic() - t0
    if why:
        ctx.report.problem("pool.front-end-down", subj,
                           f"a Front End of the pool ({where}) does not answer: {why}",
                           "the load balancer takes it out (or sends clients to it until its "
                           "check fails): the pool runs on fewer Front Ends, and the users it "
                           "held sign in again",
                           "start Apache on that Front End, or remove it from the load "
                           "balancer")
    else:
        ctx.report.ok("pool.front-end", subj, f"answers ({secs * 1000:.0f} ms)")


def _haproxy(ctx, path, longest):
    rep = ctx.report
    try:
        sections = read_haproxy(path)
    except OSError as e:
        rep.problem("pool.hlb-config", path, f"cannot read it: {e}",
                    "the load balancer's members and timeouts are not known",
                    "name the HAProxy configuration the load balancer runs")
        return
    defaults = {}
    for kind, name, lines in sections:
        own = {}
        for words, n in lines:
            if words[0] == "timeout" and len(words) >= 3:
                own[words[1]] = (haproxy_seconds(words[2]), f"{path}:{n}")
        if kind == "defaults":
            defaults = dict(defaults, **own)
            continue
        if kind in ("frontend", "backend", "listen"):
            t = dict(defaults, **own)
            sides = ["client"] if kind == "frontend" else \
                ["server"] if kind == "backend" else ["client", "server"]
            for side in sides:
                secs, where = t.get(side, (None, None))
                tunnel = t.get("tunnel", (None, None))[0]
                secs = max(secs or 0, tunnel or 0) or None
                subj = f"{kind} {name}: timeout {side}"
                if secs is not None and secs <= longest:
                    rep.problem("pool.hlb-timeout", subj,
                                f"HAProxy closes a connection idle for {secs:g} s ({where}), "
                                f"not longer than the longest event request ({longest} s, "
                                "UcwaEventTimeoutRange)",
                                "a parked event request is cut: apps see errors, reconnect, "
                                "and miss or repeat events (and may land on another Front "
                                "End)",
                                f"timeout {side} {longest + 100}s (and timeout tunnel) in "
                                f"{path}; keep it above UcwaEventTimeoutRange's max")
                elif secs is not None:
                    rep.ok("pool.hlb-timeout", subj, f"{secs:g} s > {longest} s")
        if kind in ("backend", "listen"):
            for words, n in lines:
                if words[0] != "server" or len(words) < 3:
                    continue
                if "${" in words[2]:
                    rep.problem("pool.hlb-config", f"{path}:{n}",
                                f"server {words[1]} is at {words[2]}: a variable not set in "
                                "this environment",
                                "the check cannot tell which Front End HAProxy sends to "
                                "(and HAProxy, started without it, cannot either)",
                                "run the check with HAProxy's environment (e.g. set -a; . "
                                "/etc/default/haproxy; set +a), or write the address")
                    continue
                host, port = _hostport(words[2], 443)
                _answers(ctx, host, port, f"server {words[1]}, {path}:{n}")


def _links(ctx):
    rep, fe = ctx.report, ctx.fe
    ca_d = fe.all("UcwaPoolLinkCAFile")
    ca = ca_d[-1].args[0] if ca_d and ca_d[-1].args else None
    if ca and not os.path.isabs(ca):
        ca = os.path.join(fe.server_root, ca)
    for d in fe.all("UcwaPoolLink"):
        if len(d.args) < 2:
            continue
        u = urllib.parse.urlsplit(d.args[1])
        host, port = (u.hostname or "").lower(), u.port or 443
        addr = d.args[2] if len(d.args) > 2 else (ctx.addrs(host) or [None])[0]
        subj = f"{d.args[0]} ({host}:{port})"
        if not addr:
            rep.problem("pool.link-unreachable", subj,
                        f"the linked pool's host {host} does not resolve ({d.where})",
                        "invitations and calls to its users fail Unreachable, and their "
                        "presence is unknown here", f"add {host} to DNS, or give its "
                        "address as UcwaPoolLink's third argument")
            continue
        c = mc_net.served_certificate(addr, port, host, ca)
        if c.error:
            rep.problem("pool.link-unreachable", subj,
                        f"the linked pool ({d.where}) does not answer: {c.error}",
                        "invitations and calls to its users fail Unreachable, and their "
                        "presence is unknown here",
                        "start its Front Ends and open HTTPS from this pool to its load "
                        "balancer, or correct the URL (its AutodiscoverPool internal=)")
            continue
        bad = []
        if not mc_net.name_matches(host, c.sans):
            bad.append(f"does not name {host} (SANs {', '.join(c.sans) or 'none'})")
        if not c.chain_ok:
            bad.append(f"does not verify ({c.chain_error}"
                       + (f", against {ca})" if ca else ", against the system's CAs)"))
        left = (c.not_after - time.time()) / 86400
        if left < ctx.days:
            bad.append(f"expires in {left:.0f} days")
        if bad:
            rep.problem("pool.link-certificate", subj,
                        f"the linked pool's certificate {'; '.join(bad)} ({d.where})",
                        "this pool refuses the connection: users of the two pools cannot "
                        "reach each other (invitations fail Unreachable)",
                        f"the linked pool's certificate must name {host} and chain to "
                        + (f"UcwaPoolLinkCAFile ({ca})" if ca else "a CA of the system "
                           "store (or name yours with UcwaPoolLinkCAFile)")
                        + f", valid --days {ctx.days} more")
        else:
            rep.ok("pool.link", subj, f"certificate names {host}, verifies, {left:.0f} "
                   "days left")
