"""mobility-check run on a Director (`-f` the Director's configuration): the Director
dir01 on its own loopback address (conf.d/sites/director.conf, mod_autodiscover alone),
a reverse proxy publishing the Director's external site (lyncdiscover, dirext) and the
home pool's external web FQDN (webext), and the session's Front End pool01 as the home
pool of alice. The test's tiny DNS servers say where lyncdiscover[internal] point.

A correct Director deployment reports nothing wrong, with the client path followed from
the Director's redirect to the home pool's user resource and UCWA; a Director
certificate without lyncdiscoverinternal, a redirect to a pool the topology does not
name, and a home pool that does not answer are each found and named with the hop."""
import re
import shutil

import pytest

import mobility
from conftest import ALLOWED_LOG, unexpected_log_lines
from test_mobility_check import TinyDNS, run_check

DIR = "dir01.contoso.test"
DIREXT = "dirext.contoso.test"
DIR_ADDR = "127.0.0.31"          # the Director
RP_ADDR = "127.0.0.32"           # the reverse proxy in front of it (and of webext)
NOSAN_ADDR = "127.0.0.33"        # a Director whose certificate lacks lyncdiscoverinternal
NOQUERY_ADDR = "127.0.0.35"      # a Director without AutodiscoverDirectoryQuery
DEAD_ADDR = "127.0.0.34"         # nothing listens here


def director_state(workdir, state, name, names):
    """A state for Director-side hosts: their own certificate (names as SANs, from the
    demo CA), the token key and the directory of the Front End's state (a token the
    Director issues is accepted by the home pool)."""
    st = workdir / name
    pki = st / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    st.chmod(0o755)
    shutil.copy(state / "pki" / "ca.crt", pki / "ca.crt")
    shutil.copy(state / "token.key", st / "token.key")
    (st / "token.key").chmod(0o600)
    if not (st / "directory.db").is_symlink():
        (st / "directory.db").symlink_to(state / "directory" / "directory.db")
    mobility.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-subj", f"/CN={names[0]}", "-keyout", pki / "server.key",
                  "-out", pki / "server.csr"])
    (pki / "server.ext").write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names)
                                    + "\nextendedKeyUsage=serverAuth\n")
    mobility.run(["openssl", "x509", "-req", "-in", pki / "server.csr", "-CA",
                  state / "pki" / "ca.crt", "-CAkey", state / "pki" / "ca.key",
                  "-CAcreateserial", "-CAserial", pki / "ca.srl", "-days", "365",
                  "-extfile", pki / "server.ext", "-out", pki / "server.crt"])
    (pki / "server.key").chmod(0o600)
    return st


def director_topology(t, home_pool=None):
    """What the Director runs: the SIP domain answered by the Director, the Director and
    the two Front End pools (home_pool renames pool01, as a topology edited later)."""
    pool = home_pool or t.pool
    webext = t.webext if not home_pool else "webext3.contoso.test"
    sfx = t.suffix(t.rp_https, 443)
    return "\n".join([
        f"AutodiscoverSipDomain {t.sip_domain} {DIR}",
        f"AutodiscoverPool {DIR} role=Director site=Site1 "
        f"internal=https://{DIR}{t.suffix(t.fe_https, 443)} external=https://{DIREXT}{sfx}",
        f"AutodiscoverPool {pool} role=FrontEnd site=Site1 "
        f"internal=https://{pool}{t.suffix(t.fe_https, 443)} external=https://{webext}{sfx} "
        f"mcx={t.mcx}",
        f"AutodiscoverPool {t.pool2} role=FrontEnd site=Site1 "
        f"internal=https://{t.pool2}{t.suffix(t.fe_https, 443)} "
        f"external=https://{t.webext2}{sfx} mcx={t.mcx}",
        f"AutodiscoverLocalPool {DIR}",
        "AutodiscoverTokenKeyFile ${MOBILITY_STATE}/token.key"])


# The directory without AutodiscoverDirectoryQuery: sign-in only, every user's home pool
# is then the pool of the SIP domain, here the Director itself (docs/directives.md).
NO_HOME_POOL_QUERY = """DBDriver sqlite3
DBDParams "${MOBILITY_STATE}/directory.db"
<AuthnProviderAlias dbd mobility-directory>
    AuthDBDUserPWQuery "SELECT password FROM users WHERE sip_uri = %s"
</AuthnProviderAlias>"""


def director(workdir, st, t, addr, name, directory=None):
    defines = dict(t.defines(st), POOL_FQDN=DIR, WEBEXT_FQDN=DIREXT, FE_ADDR=addr,
                   RP_ADDR=RP_ADDR)
    return mobility.Apache(workdir / name, DIR,
                           mobility.FE_MODULES + ["autodiscover"],
                           [(addr, t.fe_https, "https"), (addr, t.fe_ext_https, "https")],
                           "\n".join([director_topology(t),
                                      directory or mobility.sites_body("directory-sqlite.conf"),
                                      mobility.sites_body("director.conf")]), defines)


WEBEXT_SITE = """<VirtualHost ${RP_ADDR}:${RP_HTTPS_PORT}>
    ServerName %s
    SSLEngine on
    SSLCertificateFile "${MOBILITY_STATE}/pki/server.crt"
    SSLCertificateKeyFile "${MOBILITY_STATE}/pki/server.key"
    ProxyPreserveHost On
    ProxyPass        "/" "https://%s:${FE_EXT_HTTPS_PORT}/" connectiontimeout=5 ttl=4
    ProxyPassReverse "/" "https://%s:${FE_EXT_HTTPS_PORT}/"
</VirtualHost>"""


@pytest.fixture(scope="module")
def dep(deployment, workdir, state, topo):
    """The Director, its reverse proxy (HTTPS only: no HTTP fallback here), a second
    Director whose certificate lacks lyncdiscoverinternal and a third without
    AutodiscoverDirectoryQuery."""
    good = director_state(workdir, state, "state-director",
                          [DIR, DIREXT, topo.lyncdiscover, topo.lyncdiscoverinternal,
                           topo.webext])
    nosan = director_state(workdir, state, "state-director-nosan",
                           [DIR, DIREXT, topo.lyncdiscover])
    d = director(workdir, good, topo, DIR_ADDR, "director")
    d2 = director(workdir, nosan, topo, NOSAN_ADDR, "director-nosan")
    d3 = director(workdir, good, topo, NOQUERY_ADDR, "director-noquery", NO_HOME_POOL_QUERY)
    rp_defines = dict(topo.defines(good), WEBEXT_FQDN=DIREXT, RP_ADDR=RP_ADDR,
                      FE_EXTERNAL_BACKEND=DIR_ADDR)
    rp = mobility.Apache(workdir / "rp-director", "rp-director.contoso.test",
                         mobility.RP_MODULES, [(RP_ADDR, topo.rp_https, "https")],
                         mobility.sites_body("reverse-proxy.conf") + "\n"
                         + WEBEXT_SITE % (topo.webext, topo.fe_addr, topo.fe_addr), rp_defines)
    started = []
    try:
        for a in (d, d2, d3, rp):
            a.start()
            started.append(a)
        yield {"director": d, "nosan": d2, "noquery": d3, "rp": rp}
    finally:
        for a in started:
            a.stop()
    for a in started:
        # the Director without the directory query refuses alice, as it should
        allowed = ALLOWED_LOG + ([re.compile(r"AD00056")] if a is d3 else [])
        assert not unexpected_log_lines(a.log_text(), allowed), a.log_text()


def inside_table(topo):
    return {DIR: DIR_ADDR, topo.lyncdiscoverinternal: DIR_ADDR, DIREXT: RP_ADDR,
            topo.lyncdiscover: RP_ADDR, topo.pool: topo.fe_addr, topo.webext: RP_ADDR}


def outside_table(topo):
    return {DIREXT: RP_ADDR, topo.lyncdiscover: RP_ADDR, topo.webext: RP_ADDR}


@pytest.fixture(scope="module")
def dns_servers(topo):
    inside, outside = TinyDNS(inside_table(topo)), TinyDNS(outside_table(topo))
    yield inside, outside
    inside.close()
    outside.close()


@pytest.fixture
def views(dns_servers, topo):
    inside, outside = dns_servers
    yield inside, outside
    inside.table = inside_table(topo)
    outside.table = outside_table(topo)


def check(conf, dep, views, state, *extra, pools=(DIR, "pool01.contoso.test")):
    r = run_check(conf, dep["rp"], views, state, *extra, pools=pools)
    r["path"] = next(iter(r["steps"].values()), [])
    return r


def test_correct_director_reports_nothing_and_follows_the_redirect(dep, views, state, topo,
                                                                   check_logs):
    r = check(dep["director"].conf, dep, views, state)
    assert r["rc"] == 0 and r["findings"] == [], r["findings"]
    assert r["role"].startswith(f"Director {DIR}")
    steps = {s["name"]: s for s in r["path"]}
    assert all(s["ok"] for s in r["path"]), r["path"]
    # discovery and sign-in on the Director, then the home pool's user resource and UCWA
    assert DIR in steps["discovery (internal)"]["detail"]
    assert DIR in steps["discovery (external)"]["detail"]
    assert steps["user resource: 401, token endpoint"]["detail"].startswith(f"https://{DIREXT}")
    assert steps[f"user resource: redirect to home pool {topo.pool}"]["detail"].startswith(
        f"{topo.external_base}/Autodiscover/")
    assert steps[f"user resource on {topo.pool}: applications link"]["detail"].startswith(
        f"{topo.external_base}/ucwa/")
    assert f"user resource (internal): redirect to home pool {topo.pool}" in steps
    assert "user resource (internal): hairpin to the external FQDN" in steps
    assert steps["UCWA: create application"]["detail"] == topo.pool
    assert "UCWA: delete application" in steps and "MCX: service description" in steps
    # the Director's certificates were checked for every name clients reach there
    sans = {p["subject"] for p in r["passed"] if p["check"] == "cert.san"}
    for name, at in ((topo.lyncdiscoverinternal, f"{DIR_ADDR}:{topo.fe_https}"),
                     (DIR, f"{DIR_ADDR}:{topo.fe_https}"),
                     (topo.lyncdiscover, f"{RP_ADDR}:{topo.rp_https}"),
                     (DIREXT, f"{RP_ADDR}:{topo.rp_https}"),
                     (topo.lyncdiscover, f"{DIR_ADDR}:{topo.fe_ext_https}"),
                     (DIREXT, f"{DIR_ADDR}:{topo.fe_ext_https}")):
        assert f"{name} at {at}" in sans, sans


def test_home_pool_left_out_by_pool_is_a_clear_notice(dep, views, state, topo, check_logs):
    r = check(dep["director"].conf, dep, views, state, pools=(DIR,))
    assert r["rc"] == 0, r["findings"]
    skipped = {s["check"]: s["why"] for s in r["skipped"]}
    assert topo.pool in skipped["path home pool"] and "--pool" in skipped["path home pool"]
    assert "UCWA: create application" not in [s["name"] for s in r["path"]]


def test_director_certificate_missing_a_san_is_named(dep, views, state, topo, check_logs):
    inside, outside = views
    inside.table[DIR] = inside.table[topo.lyncdiscoverinternal] = NOSAN_ADDR
    r = check(dep["nosan"].conf, dep, views, state)
    assert r["rc"] == 1
    subject = f"{topo.lyncdiscoverinternal} at {NOSAN_ADDR}:{topo.fe_https}"
    assert {s for c, s in r["problems"] if c == "cert.san-missing"} == {subject}, r["problems"]
    f = next(f for f in r["findings"] if f["check"] == "cert.san-missing")
    assert f"DNS:{topo.lyncdiscoverinternal}" in f["fix"]
    assert "state-director-nosan/pki/server.crt" in f["fix"]
    # the internal client's first hop fails on it, and points at the certificate finding
    (f,) = [f for f in r["findings"] if f["check"] == "path.internal-discovery"]
    assert f["subject"] == f"https://{topo.lyncdiscoverinternal}:{topo.fe_https}/"
    assert "Hostname mismatch" in f["what"] and "cert findings" in f["fix"]


def test_redirect_to_a_pool_not_in_the_topology_is_named(dep, views, state, topo,
                                                         check_logs):
    """The topology on disk no longer names pool01 (renamed pool03, edited and not
    reloaded): the running Director's redirect names a pool the topology does not have."""
    d = dep["director"]
    edited = d.root / "conf" / "edited.conf"
    edited.write_text(d.conf.read_text().replace(
        director_topology(topo), director_topology(topo, home_pool="pool03.contoso.test")))
    r = check(edited, dep, views, state, pools=(DIR,))
    assert r["rc"] == 1
    redirects = [f for f in r["findings"] if f["check"] == "path.redirect"]
    assert redirects, r["findings"]
    f = redirects[0]
    assert f["subject"].startswith(f"https://{DIREXT}:{topo.rp_https}/Autodiscover/")
    assert f"{topo.external_base}/Autodiscover/" in f["what"]
    assert f["what"].startswith("user resource")
    failed = [s["name"] for s in r["path"] if not s["ok"]]
    assert failed[0] == "user resource"


def test_home_pool_that_does_not_answer_is_named(dep, views, state, topo, check_logs):
    inside, outside = views
    outside.table[topo.webext] = DEAD_ADDR
    r = check(dep["director"].conf, dep, views, state)
    assert r["rc"] == 1
    (f,) = [f for f in r["findings"] if f["check"] == "path.home-pool"]
    assert f["subject"].startswith(f"{topo.external_base}/Autodiscover/")
    assert f"the home pool {topo.pool}, where {DIR} redirects the user" in f["what"]
    assert f"cannot connect to {DEAD_ADDR}" in f["what"] and topo.webext in f["fix"]
    failed = [s["name"] for s in r["path"] if not s["ok"]]
    assert failed == [f"user resource on {topo.pool}"], r["path"]
    assert not [f for f in r["findings"] if f["check"] == "check.failed"]


def test_director_without_the_home_pool_query_is_named(dep, views, state, topo, check_logs):
    """Without AutodiscoverDirectoryQuery a Director's users are homed on the SIP
    domain's pool, the Director itself: it refuses them after sign-in (404, AD00056)."""
    inside, outside = views
    inside.table[DIR] = inside.table[topo.lyncdiscoverinternal] = NOQUERY_ADDR
    r = check(dep["noquery"].conf, dep, views, state)
    assert r["rc"] == 1
    (f,) = [f for f in r["findings"] if f["check"] == "path.user-not-found"]
    assert f["subject"].startswith(f"https://{DIR}:{topo.fe_https}/Autodiscover/")
    assert f"{DIR} answers 404" in f["what"]
    assert "AD00056" in f["fix"] and "AutodiscoverDirectoryQuery" in f["fix"]
    assert [s["name"] for s in r["path"] if not s["ok"]] == ["user resource (internal)"]

