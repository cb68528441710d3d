"""What an admin sees: apachectl configtest refusing topology mistakes with a message that
says what to fix, a Director redirecting everyone, and a signed-in user missing from the
directory."""
import pytest
from lxml import etree

import mobility

ROOT = "/Autodiscover/AutodiscoverService.svc/root"


def configtest(workdir, state, name, topology_lines, extra_sites=("fe-internal.conf",)):
    topo = mobility.Topology(offset=mobility.free_offset(start=40000))
    body = "\n".join([topology_lines, mobility.sites_body("directory-sqlite.conf"),
                      f"AutodiscoverTokenKeyFile {state / 'token.key'}",
                      mobility.sites_body(*extra_sites)])
    a = mobility.Apache(workdir / name, topo.pool, mobility.FE_MODULES + mobility.OUR_MODULES,
                        [(topo.fe_addr, topo.fe_http, "http")], body, topo.defines(state))
    return a.configtest()


GOOD_POOL = ("AutodiscoverPool pool01.contoso.test internal=https://pool01.contoso.test "
             "external=https://webext.contoso.test")


@pytest.mark.parametrize("lines,message", [
    ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n"
     "AutodiscoverPool pool01.contoso.test internal=https://web.contoso.test "
     "external=https://WEB.contoso.test\nAutodiscoverLocalPool pool01.contoso.test",
     "the internal web FQDN and the external web FQDN are both"),
    ("AutodiscoverSipDomain contoso.test pool09.contoso.test\n" + GOOD_POOL +
     "\nAutodiscoverLocalPool pool01.contoso.test",
     "SIP domain contoso.test names pool pool09.contoso.test, which no AutodiscoverPool defines"),
    ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n"
     "AutodiscoverPool pool01.contoso.test internal=/ucwa external=https://webext.contoso.test"
     "\nAutodiscoverLocalPool pool01.contoso.test",
     "'/ucwa' is not an absolute URL"),
    ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n"
     "AutodiscoverPool pool01.contoso.test internal=https://pool01.contoso.test/x "
     "external=https://webext.contoso.test\nAutodiscoverLocalPool pool01.contoso.test",
     "must be a base URL"),
    (GOOD_POOL + "\nAutodiscoverLocalPool pool01.contoso.test",
     "no AutodiscoverSipDomain is defined"),
    ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n" + GOOD_POOL +
     "\nAutodiscoverLocalPool pool07.contoso.test",
     "AutodiscoverLocalPool pool07.contoso.test: no AutodiscoverPool defines this pool"),
    ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n" + GOOD_POOL + " colour=blue"
     "\nAutodiscoverLocalPool pool01.contoso.test", "unknown setting 'colour'"),
    ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n" + GOOD_POOL +
     "\nAutodiscoverLocalPool pool01.contoso.test\nAutodiscoverLockoutStore sql",
     "AutodiscoverLockoutStore must be shm or dbd"),
])
def test_configtest_rejects_topology_mistakes(workdir, state, lines, message):
    r = configtest(workdir, state, "cfg", lines)
    assert r.returncode != 0, r.stdout + r.stderr
    assert message in r.stdout + r.stderr


def test_configtest_accepts_the_shipped_templates(workdir, state):
    r = configtest(workdir, state, "cfg-ok",
                   "AutodiscoverSipDomain contoso.test pool01.contoso.test\n" + GOOD_POOL +
                   "\nAutodiscoverLocalPool pool01.contoso.test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Syntax OK" in r.stderr


def test_director_redirects_every_user_to_the_home_pool(variant, http, token, check_logs):
    d = variant("director", sites=("director.conf",), local_pool="dir01.contoso.test",
                extra="AutodiscoverPool dir01.contoso.test role=Director "
                      "internal=https://dir01.contoso.test external=https://dirext.contoso.test")
    t = d.topo
    base = f"https://{t.lyncdiscoverinternal}:{t.fe_https}"
    # the Director signs users in itself (its own WebTicket), then sends them home
    r = http.post(base + "/WebTicket/oauthtoken", data={
        "grant_type": "password", "username": "alice@contoso.test",
        "password": mobility.DEMO_PASSWORD})
    tok = r.json()["access_token"]
    r = http.get(base + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200
    links = r.json()["_links"]
    assert links["redirect"]["href"].startswith(f"https://{t.pool}:{t.fe_https}{ROOT}/oauth/user")
    assert "applications" not in links
    # root links stay on the Director itself
    r = http.get(base + "/")
    assert r.json()["_links"]["user"]["href"].startswith("https://dir01.contoso.test/")


def test_signed_in_user_missing_from_directory_gets_404(variant, http, check_logs):
    # a directory view in which bob is not enabled for this service
    fe = variant("nodir", directory=None, extra="\n".join([
        "DBDriver sqlite3", 'DBDParams "${MOBILITY_STATE}/directory.db"',
        "<AuthnProviderAlias dbd mobility-directory>",
        '    AuthDBDUserPWQuery "SELECT password FROM users WHERE sip_uri = %s"',
        "</AuthnProviderAlias>",
        "AutodiscoverDirectoryQuery \"SELECT home_pool FROM users WHERE sip_uri = %s "
        "AND sip_uri <> 'bob@contoso.test'\""]))
    t = fe.topo
    base = f"https://{t.lyncdiscoverinternal}:{t.fe_https}"
    r = http.post(base + "/WebTicket/oauthtoken", data={
        "grant_type": "password", "username": "bob@contoso.test",
        "password": mobility.DEMO_PASSWORD})
    assert r.status_code == 200
    tok = r.json()["access_token"]
    r = http.get(base + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 404
    assert r.json()["code"] == "NotFound"
    r = http.get(base + ROOT + "/user", headers={
        "Authorization": "Bearer " + tok,
        "Accept": "application/vnd.microsoft.rtc.autodiscover+xml;v=1"})
    assert r.status_code == 404
    etree.fromstring(r.content)


GOOD_TOPOLOGY = ("AutodiscoverSipDomain contoso.test pool01.contoso.test\n" + GOOD_POOL +
                 "\nAutodiscoverLocalPool pool01.contoso.test\n")


@pytest.mark.parametrize("lines,message", [
    ("UcwaPushProvider WebPush On", "UcwaPushProvider WebPush On needs UcwaPushVapidKey"),
    ("UcwaPushProvider APNs On", "UcwaPushProvider APNs On needs UcwaPushApns"),
    # a site's switch wins over the global one: FCM is on for this server's site
    ("UcwaSite Redmond\nUcwaPushProvider FCM Off\nUcwaPushProvider FCM On site:Redmond",
     "UcwaPushProvider FCM On needs UcwaPushFcm"),
    ("UcwaPushProvider Pigeon On", "unknown service 'Pigeon'"),
    ("UcwaPushProvider WebPush On site:", "the scope is site:NAME"),
    ("UcwaPushContent Everything", "UcwaPushContent: None, Sender or Preview"),
    ("UcwaPushVapidKey /nonexistent.pem mailto:a@b", "cannot read /nonexistent.pem"),
    ("UcwaPushVapidKey /etc/hostname ftp://x", "starts with mailto: or https:"),
    ("UcwaPushAllowEndpoint 10.0.0.0/99", "is not a host name, an address or a network"),
    ("<VirtualHost *:1>\nUcwaPushProvider WebPush Off\n</VirtualHost>",
     "cannot occur within <VirtualHost> section"),
])
def test_configtest_rejects_push_mistakes(workdir, state, lines, message):
    r = configtest(workdir, state, "cfg-push", GOOD_TOPOLOGY + lines)
    assert r.returncode != 0, r.stdout + r.stderr
    assert message in r.stdout + r.stderr, r.stdout + r.stderr


def test_configtest_site_switch_can_turn_a_provider_off(workdir, state):
    # APNs is on globally, off for this server's site: no credentials are needed
    r = configtest(workdir, state, "cfg-push-ok", GOOD_TOPOLOGY +
                   "UcwaSite Redmond\nUcwaPushProvider APNs On\n"
                   "UcwaPushProvider APNs Off site:redmond")
    assert r.returncode == 0, r.stdout + r.stderr
