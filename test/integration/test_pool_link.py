"""Two pools, each with its own PostgreSQL and a Front End of its own: alice (pool01)
reaches carol (homed on pool02) as Skype for Business routes to a user's home pool: the
invitation, the accept, messages both ways and leaving cross between the pools over
HTTPS, signed with the key the pools share (UcwaPoolLink, UcwaPoolLinkKeyFile). A message
that is not signed by a linked pool is refused."""
import os
import re
import shutil
import time

import pytest
import requests

import mobility
from ucwa_client import FAST, Fe, stop_fe

import pool as pool_lib
from test_pool import drain, incoming_texts, mobility_allowed, signed_in
from test_ucwa_messaging import OTHER_LEFT, SENDER_FAILED, SENDER_STARTED, connect, seq, step

ALICE, CAROL = "alice@contoso.test", "carol@contoso.test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


def private_pg(workdir, name, port_shift):
    return pool_lib.Postgres(workdir / name,
                          port=5432 + os.getpid() % 1000 + 10000 + port_shift).start()


def start_linked(workdir, topo, tag, n2=1, extra=("", "")):
    """Pool01 (one Front End, p1fe1) and pool02 (n2 of them, p2fe1..), each with its own
    PostgreSQL, linked both ways, extra[i] in pool i's configuration; pool01's link names
    pool02's last Front End. Returns (Front Ends of pool01 + those of pool02, the two
    databases)."""
    st = workdir / f"{tag}-state"
    if st.exists():
        shutil.rmtree(st)
    mobility.make_state(st, topo)
    key = workdir / f"{tag}.key"
    key.write_bytes(os.urandom(32))
    dbs = [private_pg(workdir, f"{tag}-pg{i}", 20 + i) for i in (1, 2)]
    confs = []
    for i, db in zip((1, 2), dbs):
        db.load_directory(st)
        confs.append(db.directory_conf(workdir / f"directory-{tag}{i}.conf"))
    names = (topo.pool, topo.pool2)
    # (pool index, Front End name) of every Front End
    who = [(0, "p1fe1")] + [(1, f"p2fe{j}") for j in range(1, n2 + 1)]

    def start_all():
        bases = (80, 443, 8080, 4443)
        offs, taken = [], set()
        for _ in who:
            off = mobility.free_offset(start=(offs[-1] + 500) if offs else 30000)
            while {b + off for b in bases} & taken:
                # free now, but another Front End's own ports once it runs (4443 + off
                # is 443 + off + 4000)
                off = mobility.free_offset(start=off + 500)
            offs.append(off)
            taken |= {b + off for b in bases}
        topos = [mobility.Topology(offset=o) for o in offs]
        # the port each pool's link reaches the other one at
        link_port = (topos[-1].fe_https, topos[0].fe_https)
        fes = []
        for (i, name), t in zip(who, topos):
            other = 1 - i
            conf = (f'Include "{confs[i]}"\n{FAST}\nUcwaPoolFrontEnd {name}\n{extra[i]}'
                    f"UcwaPoolLink {names[other]} "
                    f"https://{names[other]}:{link_port[i]} 127.0.0.1\n"
                    f'UcwaPoolLinkKeyFile "{key}"\n'
                    f'UcwaPoolLinkCAFile "{st / "pki" / "ca.crt"}"\n')
            apache = mobility.front_end(workdir / f"{tag}-{name}", st, t,
                                        local_pool=names[i], extra=conf, directory=None,
                                        servers=2)
            apache.topo = t
            try:
                apache.start()
            except RuntimeError:
                for f in fes:
                    f.apache.stop()
                raise
            fes.append(Fe(apache, st))
        return fes

    for attempt in range(3):
        # each Front End names another's port: every range is chosen before any starts,
        # and another test may take a port meanwhile; then try other ranges
        try:
            return start_all(), dbs
        except RuntimeError as e:
            if "Address already in use" not in str(e) or attempt == 2:
                for db in dbs:
                    db.stop()
                raise


@pytest.fixture(scope="module")
def pools(workdir, topo):
    fes, dbs = start_linked(workdir, topo, "link")
    yield fes
    for f in fes:
        # UCWA00433: the refused forgery of test_unsigned_relay_refused
        stop_fe(f, allowed=mobility_allowed() + [re.compile(r"UCWA00433")])
    for db in dbs:
        db.stop()


def test_im_between_pools(pools):
    fe1, fe2 = pools
    alice = signed_in(fe1, ALICE)
    carol = signed_in(fe2, CAROL)
    time.sleep(0.5)
    drain(alice)
    drain(carol)
    a_conv, c_conv = connect(alice, carol)
    a_conv, c_conv = a_conv[len(alice.self):], c_conv[len(carol.self):]
    for i in range(3):
        assert alice.post(a_conv + "/messaging/messages", data=f"a{i}",
                          headers={"Content-Type": "text/plain"}).status_code == 201
        assert carol.post(c_conv + "/messaging/messages", data=f"c{i}",
                          headers={"Content-Type": "text/plain"}).status_code == 201
    assert incoming_texts(carol, 3) == [f"a{i}" for i in range(3)]
    assert incoming_texts(alice, 3) == [f"c{i}" for i in range(3)]
    assert carol.user.request("DELETE", carol.self + c_conv).status_code == 204
    assert seq(step(alice)) == OTHER_LEFT
    carol.delete()
    # carol signed out: pool02 has nobody to alert, and says so
    assert alice.post("/communication/messagingInvitations",
                      {"to": "sip:" + CAROL}).status_code == 201
    assert seq(step(alice)) == SENDER_STARTED
    evs = step(alice)
    assert seq(evs) == SENDER_FAILED and evs[1][3]["reason"]["subcode"] == "Unreachable"
    alice.delete()


def test_unsigned_relay_refused(pools):
    fe1 = pools[0]
    t = fe1.topo
    url = f"https://{t.pool}:{t.fe_https}/ucwa-pool/v1/relay"
    body = b'{"k":"presence","fe":"x@pool02.contoso.test","sip":"alice@contoso.test"}'
    s = requests.Session()
    s.trust_env = False
    r = s.post(url, data=body, verify=str(fe1.ca), headers={
        "X-Ucwa-Pool-From": t.pool2, "X-Ucwa-Pool-To": "p1fe1",
        "X-Ucwa-Pool-Time": str(int(time.time())), "X-Ucwa-Pool-Signature": "00" * 32})
    assert r.status_code == 403
    assert "UCWA00433" in fe1.apache.log_text()


def test_presence_between_pools(pools):
    """alice (pool01) reads carol's presence from carol's home pool, and her subscription
    hears carol's changes: reading it made pool02 watch carol for pool01."""
    from test_pool import presence_of, wait_for
    from ucwa_client import events_of
    fe1, fe2 = pools
    alice = signed_in(fe1, ALICE)
    assert presence_of(alice, CAROL) == "Offline"
    carol = signed_in(fe2, CAROL)
    assert alice.post("/people/presenceSubscriptions",
                      {"duration": 30, "uris": ["sip:" + CAROL]}).status_code == 201
    wait_for(lambda: presence_of(alice, CAROL) == "Online", what="carol Online in pool01")
    drain(alice)
    assert carol.post("/me/presence", {"availability": "DoNotDisturb"}).status_code == 204
    deadline = time.monotonic() + 10
    seen = False
    while time.monotonic() < deadline and not seen:
        seen = any(rel == "contactPresence" for _, _, rel, _ in events_of(alice.poll("timeout=1")))
    assert seen, "no contactPresence event in pool01"
    assert presence_of(alice, CAROL) == "DoNotDisturb"
    carol.delete()
    wait_for(lambda: presence_of(alice, CAROL) == "Offline", what="carol Offline in pool01")
    alice.delete()
