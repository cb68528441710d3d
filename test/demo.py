#!/usr/bin/python3
"""The demo deployment (./apxs-build.sh run): Front End pool01.contoso.test and a reverse
proxy as private Apache instances, in the foreground until Ctrl-C.

As root the real ports are used on two loopback addresses (FE 127.0.0.1: 80, 443, 8080,
4443; reverse proxy 127.0.0.2: 80, 443). DEMO_PORT_OFFSET=N moves every port up by N
(default 10000 when not root). State (certificates, keys, directory, logs) lives in
state/demo of the repository, which git ignores.

DEMO_DEVICES=N sizes the Front End and the reverse proxy for N devices that each keep an
event channel (conf.d/mpm-mobility.conf's arithmetic: mobility.sizing_for) and adds N
users to the directory, user00001@contoso.test to userNNNNN@contoso.test, with the demo
password.

A private coturn (test/lib/turn.py) on 127.0.0.1:3478 (UDP and TCP, plus the offset) is
the TURN relay of calls: every Front End gets UcwaTurnServer and the secret file, so
{A}/communication/mediaRelayAccessToken hands out credentials it accepts.

DEMO_POOL=1 runs pool01 as a pool of two Front Ends (test/lib/pool.py): Front End 1 on
127.0.0.11 and Front End 2 on 127.0.0.12 (the ports above), behind HAProxy running
conf.d/sites/haproxy-pool.cfg on the pool's VIP (127.0.0.1: 80, 443, 8080, 4443), with a
private PostgreSQL as their directory (loaded from the SQLite one at every start). State
lives in state/demo-pool (DEMO_STATE moves it; the tests use that).

DEMO_SIP=1 also starts the SIP side (docs/sip.md, test/lib/sip_side.py) privately beside
Apache: rtpengine (NG on 127.0.0.1:2223, RTP 30000-30199), Kamailio on
conf.d/sip/kamailio.cfg (127.0.0.1:5060 UDP and TCP; the Front End's address is the
trusted UCWA SIP side, whose ucwa-sipd (UcwaSip On) answers on 5088 and 5089; with
DEMO_POOL=1 each Front End runs its own on its address, both in Kamailio's dispatcher
set 9 (UCWA_SET): apps call phones and numbers, phones call apps; phones register from
127.0.0.32/27 without a password) and a SIPp gateway that answers every number
(127.0.0.71:5070, gateway set 1); every port plus the offset. Their state and logs live
in <state>/sip.
"""
import os
import resource
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))
import mobility  # noqa: E402
import pool as pools  # noqa: E402
import turn  # noqa: E402
from sip_side import SipSide  # noqa: E402

def main():
    default = "0" if os.geteuid() == 0 else "10000"
    offset = int(os.environ.get("DEMO_PORT_OFFSET", default))
    in_pool = os.environ.get("DEMO_POOL", "0") not in ("", "0")
    root = Path(os.environ.get("DEMO_STATE") or
                mobility.REPO / "state" / ("demo-pool" if in_pool else "demo"))
    topo = pools.pool_topology(offset, 2) if in_pool else mobility.Topology(offset=offset)
    state = mobility.make_state(root / "state" if in_pool else root, topo)
    devices = int(os.environ.get("DEMO_DEVICES", "0"))
    sized, extra, users_line = {}, "", ""
    if devices:
        sz = mobility.sizing_for(devices)
        extra = sz.extra()
        # a parked channel is a connection (two at the proxy): Apache inherits this limit
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < 3 * sz.threads:
            print(f"warning: open files limited to {hard}: raise it (ulimit -Hn) for "
                  f"{sz.threads} threads per child", file=sys.stderr)
        mobility.add_generated_users(state, devices)
        # the proxy holds a worker for every parked request it forwards, too
        sized = {"servers": sz.servers, "threads": sz.threads}
        users_line = (f"\n{devices} generated users: {mobility.GENERATED_USER.format(1)} to "
                      f"{mobility.GENERATED_USER.format(devices)}, same password")
        print(f"Sized for {devices} devices: {sz.servers} children x {sz.threads} threads "
              f"(MaxRequestWorkers {sz.servers * sz.threads}), UcwaMaxParkedPerChild "
              f"{sz.cap}, UcwaMaxApplications {sz.apps}", flush=True)
    # the media relay of calls: a private coturn on the Front End's address, 3478 (UDP and
    # TCP) moved by the offset, whose shared secret mints mediaRelayAccessToken
    port = 3478 + offset
    if not turn.port_free(topo.fe_addr, port):
        port = turn.free_port(topo.fe_addr, start=port + 1)
    relay = turn.Coturn(root / "turn", host=topo.fe_addr, port=port, realm=topo.sip_domain)
    extra = "\n".join(filter(None, [extra, relay.directives()]))
    sip = None
    pool = None
    fe_sip = {}
    if os.environ.get("DEMO_SIP", "0") not in ("", "0"):
        # each Front End's own SIP side (ucwa-sipd, on its address): apps call the phones
        # and numbers, phones call the apps; in a pool, Kamailio's dispatcher set 9 lists
        # both, and the one that takes a call rings the user on both Front Ends
        addrs = [pools.FE_ADDR.format(i) for i in (1, 2)] if in_pool else [topo.fe_addr]
        sip = SipSide((root if in_pool else state) / "sip", host=topo.fe_addr,
                      domain=topo.sip_domain, offset=offset, ucwa=addrs,
                      gateways={9: [f"sip:{a}:{5089 + offset}" for a in addrs]}
                      if in_pool else None)
        if in_pool:
            sip.kam.defines.append("UCWA_SET=9")
            sip.kam.probed.add(9)     # Kamailio probes the Front Ends (flag 8)
        for i, a in enumerate(addrs, 1):
            fe_sip[i] = "\n".join(["UcwaSip On", f"UcwaSipListenAddress {a}",
                                   f"UcwaSipExternalListeningPort {5088 + offset}",
                                   f"UcwaSipPrimaryListeningPort {5089 + offset}",
                                   f"UcwaSipProxy {sip.kam.host}:{sip.kam.port}",
                                   f"UcwaRtpengine {sip.rtp.host}:{sip.rtp.ng_port}"])
    if in_pool:
        # the reverse proxy forwards to the external VIP (FE_EXTERNAL_BACKEND: fe_addr)
        pool = pools.start_pool(root, n=2, extra=extra, fe_extra=fe_sip, offset=offset,
                                state=state, start=False, **sized)
        fes = [f.apache for f in pool.fes]
    else:
        fes = [mobility.front_end(state / "fe", state, topo,
                                  extra="\n".join(filter(None, [extra, fe_sip.get(1)])),
                                  **sized)]
    fe = fes[0]
    rp = mobility.reverse_proxy(root / "rp" if in_pool else state / "rp", state, topo, **sized)
    try:
        relay.start()
        if pool:
            pool.start()
            pool.pg.psql(mobility.DEMO_VOICE_SQL)
        else:
            if not mobility.seed_demo_voice(state):
                # mod_ucwa makes its tables at its first start: start it once to make them,
                # and seed with it stopped (a child preparing mod_dbd's statements while
                # another process commits gets 'database is locked', AH00632)
                fe.start()
                fe.stop()
                mobility.seed_demo_voice(state)
            fe.start()
        rp.start()
        if sip:
            sip.start()
    except Exception as e:  # noqa: BLE001 - tell the admin what failed, then stop
        print(e, file=sys.stderr)
        if sip:
            sip.stop()
        if pool:
            pool.stop()
        fe.stop()
        rp.stop()
        relay.stop()
        return 1

    topo.write_hosts(state)         # for ./apxs-build.sh check
    ca = state / "pki" / "ca.crt"
    hosts = topo.hosts()
    lines = {}
    for name, addr in hosts.items():
        lines.setdefault(addr, []).append(name)
    resolve = " ".join(f"--resolve {n}:{p}:{a}" for n, a in hosts.items()
                       for p in {topo.fe_https, topo.rp_https, topo.fe_http, topo.rp_http})
    ext = f"https://{topo.lyncdiscover}{topo.suffix(topo.rp_https, 443)}"
    intl = f"https://{topo.lyncdiscoverinternal}{topo.suffix(topo.fe_https, 443)}"
    if pool:
        sites = "".join(
            f"\n  {f'Front End {f.index} ({f.fqdn})':31}{f.addr}, same ports" for f in pool.fes)
        where = f"""  Pool pool01.contoso.test       HAProxy (haproxy-pool.cfg) on the pool's VIP
                                 internal {topo.fe_addr}:{topo.fe_http}, :{topo.fe_https}
                                 external {topo.fe_addr}:{topo.fe_ext_http}, :{topo.fe_ext_https}{sites}
  PostgreSQL (the directory)     {pool.pg.root} (Unix socket only)"""
        logs = [a.error_log for a in fes] + [pool.haproxy.log_file, pool.pg.log]
        check = ""
    else:
        where = f"""  Front End pool01.contoso.test  internal site {topo.fe_addr}:{topo.fe_http}, :{topo.fe_https}
                                 external site {topo.fe_addr}:{topo.fe_ext_http}, :{topo.fe_ext_https}"""
        logs = [fe.error_log]
        check = "\nCheck the deployment (in another terminal): ./apxs-build.sh check\n"
    logs += [rp.error_log, relay.log_file]
    if sip:
        logs += sip.logs()
    print(f"""
Skype for Business mobility demo is running (Ctrl-C stops it).

{where}
  Reverse proxy                  {topo.rp_addr}:{topo.rp_http} (autodiscover only), :{topo.rp_https}
  TURN relay (coturn)            {relay.host}:{relay.port} UDP and TCP, for calls' media
  pool02.contoso.test            in the topology only (carol is homed there){sip.banner() if sip else ""}

DEMO credentials (never use them anywhere else): alice@contoso.test, bob@contoso.test,
carol@contoso.test, password {mobility.DEMO_PASSWORD}{users_line}

Hosts-file lines (/etc/hosts) for a client on this machine:
""" + "\n".join(f"  {addr}  {' '.join(names)}" for addr, names in lines.items()) + f"""

Try (or add the hosts lines and drop the --resolve options):
  R="{resolve}"
  curl $R --cacert {ca} {intl}/
  curl $R --cacert {ca} -H 'Accept: application/vnd.microsoft.rtc.autodiscover+xml;v=1' '{ext}/?sipuri=alice@contoso.test'
  curl $R --cacert {ca} -d grant_type=password -d username=alice@contoso.test -d password={mobility.DEMO_PASSWORD} {ext}/WebTicket/oauthtoken
  curl $R --cacert {ca} -H "Authorization: Bearer <access_token>" {ext}/Autodiscover/AutodiscoverService.svc/root/oauth/user
{check}
Logs: """ + "\n      ".join(str(p) for p in logs) + "\n", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        watched = pool.procs() if pool else [(fe.name, fe.proc, fe.error_log)]
        watched += [(rp.name, rp.proc, rp.error_log), ("coturn", relay.proc, relay.log_file)]
        watched += sip.procs() if sip else []
        while not stop:
            for name, proc, log in watched:
                if proc.poll() is not None:
                    print(f"{name} exited; see {log}", file=sys.stderr)
                    stop.append(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    if sip:
        sip.stop()
    rp.stop()
    if pool:
        pool.stop()
    else:
        fe.stop()
    relay.stop()
    print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
