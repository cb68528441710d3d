"""The SIP side beside a Front End, in one piece (docs/sip.md): rtpengine, Kamailio on
the shipped configuration and a SIPp PSTN gateway that answers (and echoes media), on
the demo's ports plus an offset; phones (baresip) on demand. The demo runs it
(DEMO_SIP=1); a test of calls between UCWA apps and phones or the PSTN starts one the
same way beside its Front End:

    side = SipSide(root, host=topo.fe_addr, domain=topo.sip_domain, offset=topo.offset,
                   ucwa=[topo.fe_addr]).start()
    side.kam.address, side.rtp.ng_socket      # what mod_ucwa's SIP side is pointed at
    bob = side.phone("bob", 1, tone=1500)     # registered on Kamailio from 127.0.0.34
    side.gw.wait_request("INVITE")            # what the gateway got
    side.stop()                               # phones too

Ports (+ offset): Kamailio 5060 (UDP and TCP), rtpengine NG 2223 and RTP 30000-30199
(35000 lower when that passes 65535),
the gateway 5070 on 127.0.0.71 (its echoed media 5071), ucwa-sipd's primary port 5089 on
the first `ucwa` address (where Kamailio sends a domain user with no phone), phone n
(1-9) at 127.0.0.(32+n), SIP 5100+4n (baresip's TLS takes the next port), control
5102+4n, RTP 5200+20n and 19 more.
Phones register from 127.0.0.32/27 without a password. Nothing here needs pytest.
"""
import json
import socket
from pathlib import Path

import baresip
import kamailio
import rtpengine
import sipp

PHONES = "127.0.0.32/27"      # the phones' trusted subnet (group 2)
GATEWAY = "127.0.0.71"        # the SIPp gateway's address (outside the phones' subnet)


class SipSide:
    def __init__(self, root, host="127.0.0.1", domain="contoso.test", offset=0, ucwa=None,
                 ucwa_port=5089, gateways=None):
        """gateways: more gateway sets ({setid: [URI, ...]}) beside set 1, the SIPp one."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.host, self.domain, self.offset = host, domain, offset
        self.ucwa = list(ucwa or [host])
        rtp_lo = 30000 + offset
        if rtp_lo + 199 > 65535:       # large offsets (the pool demo's): 35000 lower
            rtp_lo -= 35000
        self.rtp = rtpengine.Rtpengine(self.root / "rtpengine", host=host,
                                       ng_port=2223 + offset, rtp_ports=(rtp_lo, rtp_lo + 199))
        self.gw = sipp.Sipp(self.root / "gateway", "gateway_answer", addr=GATEWAY,
                            port=5070 + offset, duration_ms=500, echo_port=5071 + offset)
        self.kam = kamailio.Kamailio(
            self.root / "kamailio", host=host, port=5060 + offset, domain=domain,
            ucwa_uri=f"sip:{self.ucwa[0]}:{ucwa_port + offset}", rtpengine=self.rtp.ng_socket,
            trusted={1: self.ucwa, 2: [PHONES]},
            gateways={1: [f"sip:{GATEWAY}:{self.gw.port}"], **(gateways or {})})
        self.phones = []

    # the ports the side takes (+ offset), for kamailio.free_sip_offset
    BASES = (5060, 2223, 5070, 5071, 30000, 30199) + tuple(
        b + i for i in range(4, 40) for b in (5100, 5200))

    def ucwa_directives(self, listen="127.0.0.1"):
        """mod_ucwa's SIP side pointed at this one (UcwaSip On, its ports + offset)."""
        o = self.offset
        return ["UcwaSip On", f"UcwaSipListenAddress {listen}",
                f"UcwaSipExternalListeningPort {5088 + o}",
                f"UcwaSipPrimaryListeningPort {5089 + o}",
                f"UcwaSipProxy {self.kam.host}:{self.kam.port}",
                f"UcwaRtpengine {self.rtp.host}:{self.rtp.ng_port}"]

    def start(self):
        try:
            self.rtp.start()
            self.gw.start(wait=0)
            self.kam.start()
            self.gw.check_running()
        except Exception:
            self.stop()
            raise
        return self

    def phone(self, user, n, tone=1000, register=True):
        """A baresip registered on Kamailio as user@domain (phone n, 1-9): started. Not
        registered (register False): a number's phone behind a gateway set (its address)."""
        o = self.offset
        p = baresip.Baresip(self.root / f"phone-{user}", user, domain=self.domain,
                            proxy=self.kam.address, addr=f"127.0.0.{32 + n}",
                            sip_port=5100 + 4 * n + o, ctrl_port=5102 + 4 * n + o,
                            rtp_ports=(5200 + 20 * n + o, 5219 + 20 * n + o), tone=tone,
                            register=register)
        self.phones.append(p)
        p.start()
        if register:
            p.wait_registered()
        return p

    def stop(self):
        for p in self.phones:
            p.stop()
        self.kam.stop()
        self.gw.stop()
        self.rtp.stop()

    def procs(self):
        """(name, process, log) of each daemon, for a watcher."""
        return [("kamailio", self.kam.proc, self.kam.log_file),
                ("rtpengine", self.rtp.proc, self.rtp.log_file),
                ("sipp gateway", self.gw.proc, self.gw.error_file)]

    def logs(self):
        return [self.kam.log_file, self.rtp.log_file, self.gw.error_file]

    def banner(self):
        k = self.kam
        return f"""
  Kamailio (SIP registrar, proxy) {k.host}:{k.port} UDP and TCP, domain {k.domain}
  rtpengine (media anchor)        NG {self.rtp.ng_socket}, RTP {self.rtp.rtp_ports[0]}-{self.rtp.rtp_ports[1]}
  PSTN gateway (SIPp, answers)    {self.gw.addr}:{self.gw.port}, gateway set 1, echoes media
  Gateway list, trusted list      {k.dispatcher_file}, {k.trusted_file}
                                  (edit, then: kamcmd -s unix:{k.ctl_socket} dispatcher.reload,
                                  and permissions.addressReload for the trusted list)
  SIP phones register from {PHONES} (no password), e.g. with baresip:
    <sip:alice@{k.domain}>;outbound="sip:{k.host}:{k.port}"  (sip_listen 127.0.0.33:5062;
    the modules its config must load: README, "The SIP side")"""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def seed_voice(state, sql):
    """Enterprise Voice rows (dial plans, voice policies, routes, users: SQL) into the
    directory of a state whose tables the module made already (a first start)."""
    import sqlite3
    con = sqlite3.connect(Path(state) / "directory.db")
    con.executescript(sql)
    con.commit()
    con.close()


def sipd_status(fe):
    """ucwa-sipd's answer to the status command (a dict: pid, calls, ...) on its command
    socket, the one of fe's Apache (a ucwa_client Front End)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(fe.apache.root / "run" / f"ucwa-sipd.{fe.apache.proc.pid}.sock"))
    s.sendall(b'{"cmd":"status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        data += s.recv(65536)
    s.close()
    return json.loads(data)
