"""Autodiscover as a mobile client sees it: the root on the lyncdiscover names and on the
IIS path, the three representations, the query forms, the user resource (challenge,
authenticated document, redirect), the domain resource and the XFrame page."""
import re

import pytest
from lxml import etree

AD_XML = "application/vnd.microsoft.rtc.autodiscover+xml;v=1"
AD_JSON = "application/vnd.microsoft.rtc.autodiscover+json;v=1"
ROOT = "/Autodiscover/AutodiscoverService.svc/root"


def xml_links(resp):
    doc = etree.fromstring(resp.content)
    assert doc.tag == "AutodiscoverResponse"
    return doc, {l.get("token"): l.get("href") for l in doc.iter("Link")}


# --- root ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", ROOT, ROOT.lower(), ROOT.upper(), ROOT + "/",
                                  "/autodiscover/AutodiscoverService.svc/Root"])
def test_root_answers_on_discovery_host_and_iis_path_in_any_case(deployment, http, urls, topo,
                                                                 path, check_logs):
    r = http.get(urls["internal"] + path)
    assert r.status_code == 200, r.text
    links = r.json()["_links"]
    assert set(links) == {"self", "user", "xframe"}
    base = topo.internal_base + ROOT
    assert links["self"]["href"] == base + "?originalDomain=contoso.test"
    assert links["user"]["href"] == base + "/oauth/user?originalDomain=contoso.test"
    assert links["xframe"]["href"] == topo.internal_base + "/Autodiscover/XFrame/XFrame.html"


def test_slash_on_the_pool_name_is_not_the_discovery_root(deployment, http, topo, check_logs):
    r = http.get(topo.internal_base + "/")
    assert r.status_code in (403, 404)


def test_root_through_reverse_proxy_is_external(deployment, http, urls, topo, check_logs):
    r = http.get(urls["external"] + "/", headers={"Accept": AD_XML})
    assert r.status_code == 200
    doc, links = xml_links(r)
    assert doc.get("AccessLocation") == "External"
    assert links["User"].startswith(topo.external_base + ROOT + "/user")
    assert r.headers["X-MS-Server-Fqdn"] == topo.pool


def test_http_fallback_80_to_8080_serves_autodiscover_only(deployment, http, urls, topo,
                                                          check_logs):
    check_logs.append(re.compile(r"AH01630: client denied by server configuration"))
    r = http.get(urls["external_http"] + "/?sipuri=alice@contoso.test",
                 headers={"Accept": AD_XML})
    assert r.status_code == 200
    doc, links = xml_links(r)
    assert doc.get("AccessLocation") == "External"
    # the links lead back to HTTPS on the external web FQDN
    assert links["User"].startswith("https://" + topo.webext)
    for path in ("/WebTicket/oauthtoken", ROOT + "/user", "/ucwa/oauth/v1/applications"):
        assert http.get(urls["external_http"] + path).status_code == 403, path


def test_internal_site_says_internal(deployment, http, urls, check_logs):
    r = http.get(urls["internal"] + "/?sipuri=alice@contoso.test", headers={"Accept": AD_XML})
    doc, links = xml_links(r)
    assert doc.get("AccessLocation") == "Internal"
    assert {"Domain", "User", "OAuth", "Self", "XFrame"} <= set(links)
    # pidgin-sipe accepts the response only with this Content-Type prefix
    assert r.headers["Content-Type"].startswith("application/vnd.microsoft.rtc.autodiscover+xml")


@pytest.mark.parametrize("query,domain", [("originalDomain=contoso.test", "contoso.test"),
                                          ("sipuri=alice@fabrikam.test", "fabrikam.test"),
                                          ("Domain=fabrikam.test", "fabrikam.test"),
                                          ("SIPURI=sip:alice@fabrikam.test", "fabrikam.test")])
def test_query_forms_set_original_domain(deployment, http, urls, query, domain, check_logs):
    r = http.get(urls["internal"] + ROOT + "?" + query)
    assert r.status_code == 200
    assert r.json()["_links"]["self"]["href"].endswith("?originalDomain=" + domain)


@pytest.mark.parametrize("accept,ctype", [
    (None, "application/json"),
    ("*/*", "application/json"),
    ("application/json", "application/json"),
    (AD_XML, "application/vnd.microsoft.rtc.autodiscover+xml"),
    (AD_JSON, "application/vnd.microsoft.rtc.autodiscover+json"),
    ("application/xml", "application/xml"),
    ("text/html,application/xhtml+xml", "application/xml"),
    ("application/json;q=0.2, " + AD_XML, "application/vnd.microsoft.rtc.autodiscover+xml"),
])
def test_representation_follows_accept(deployment, http, urls, accept, ctype, check_logs):
    headers = {"Accept": accept} if accept else {}
    if accept is None:
        headers = {"Accept": None}   # requests sends no Accept header at all
    r = http.get(urls["internal"] + ROOT, headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == ctype
    if ctype == "application/vnd.microsoft.rtc.autodiscover+json":
        body = r.json()
        assert body["AccessLocation"] == "Internal"
        tokens = {l["token"] for l in body["Root"]["Links"]}
        assert {"User", "OAuth", "Domain"} <= tokens
    elif ctype == "application/xml":
        doc = etree.fromstring(r.content)
        assert doc.tag == "{http://schemas.microsoft.com/rtc/2012/03/ucwa}resource"
        assert doc.get("rel") == "root"
        rels = {l.get("rel") for l in doc}
        assert {"user", "xframe"} <= rels


@pytest.mark.parametrize("accept", ["image/png", AD_XML.replace("v=1", "v=2"), "application/json;q=0"])
def test_unacceptable_accept_gets_406(deployment, http, urls, accept, check_logs):
    r = http.get(urls["internal"] + ROOT, headers={"Accept": accept})
    assert r.status_code == 406
    assert r.json()["code"] == "NotAcceptable"
    assert r.headers["X-MS-Server-Fqdn"]


def test_domain_resource(deployment, http, urls, topo, check_logs):
    r = http.get(urls["internal"] + ROOT + "/domain?originalDomain=contoso.test",
                 headers={"Accept": AD_XML})
    assert r.status_code == 200
    doc = etree.fromstring(r.content)
    dom = doc.find("Domain")
    assert dom is not None
    tokens = {l.get("token"): l.get("href") for l in dom.iter("Link")}
    assert tokens["External/Autodiscover"] == topo.external_base + ROOT
    assert dom.find("SipClientExternalAccess").get("fqdn") == topo.sip_external


def test_domain_resource_in_ucwa_xml_has_its_links(deployment, http, urls, topo, check_logs):
    r = http.get(urls["internal"] + ROOT + "/domain", headers={"Accept": "application/xml"})
    doc = etree.fromstring(r.content)
    links = {l.get("rel"): l.get("href") for l in doc}
    assert doc.get("rel") == "domain"
    assert links["external/autodiscover"] == topo.external_base + ROOT


def test_root_only_answers_get(deployment, http, urls, check_logs):
    r = http.post(urls["internal"] + ROOT, data="x")
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


# --- XFrame --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/Autodiscover/XFrame/XFrame.html",
                                  "/autodiscover/xframe/xframe.html", "/xframe", "/XFrame"])
def test_xframe_page(deployment, http, urls, path, check_logs):
    r = http.get(urls["internal"] + path)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert b"postMessage" in r.content


# --- user resource: challenge --------------------------------------------------------

@pytest.mark.parametrize("sub", ["/oauth/user", "/user"])
def test_user_without_credentials_gets_the_oauth_challenge(deployment, http, urls, topo, sub,
                                                           check_logs):
    r = http.get(urls["external"] + ROOT + sub + "?originalDomain=contoso.test")
    assert r.status_code == 401
    challenges = r.raw.headers.getlist("WWW-Authenticate")
    oauth = [c for c in challenges if c.startswith("MsRtcOAuth ")]
    assert oauth == [f'MsRtcOAuth href="{topo.external_base}/WebTicket/oauthtoken",'
                     f'grant_type="password"']
    bearer = [c for c in challenges if c.startswith("Bearer ")]
    assert len(bearer) == 1 and "href" not in bearer[0]
    assert r.headers["X-MS-Server-Fqdn"] == topo.pool
    assert r.headers["X-MS-WebTicketURL"] == topo.external_base + "/WebTicket/WebTicketService.svc"
    # the external site does not offer Basic (only fe-internal.conf turns it on)
    assert not any(c.startswith("Basic") for c in challenges)


def test_basic_offered_on_internal_xml_user_only(deployment, http, urls, check_logs):
    r = http.get(urls["internal"] + ROOT + "/user", headers={"Accept": AD_XML})
    assert r.status_code == 401
    assert any(c.startswith("Basic ") for c in r.raw.headers.getlist("WWW-Authenticate"))
    r = http.get(urls["internal"] + ROOT + "/oauth/user")
    assert not any(c.startswith("Basic ") for c in r.raw.headers.getlist("WWW-Authenticate"))


# --- user resource: authenticated ----------------------------------------------------

@pytest.mark.parametrize("site", ["internal", "external"])
def test_user_document_hands_out_external_mobility_urls(deployment, http, urls, topo, token,
                                                        site, check_logs):
    tok = token()
    r = http.get(urls[site] + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200, r.text
    links = r.json()["_links"]
    # the hairpin rule: UCWA always on the external web FQDN
    assert links["applications"]["href"] == topo.external_base + "/ucwa/oauth/v1/applications"
    base = topo.internal_base if site == "internal" else topo.external_base
    assert links["self"]["href"].startswith(base + ROOT + "/oauth/user")
    assert "redirect" not in links


def test_user_document_xml(deployment, http, urls, topo, token, check_logs):
    r = http.get(urls["internal"] + ROOT + "/user",
                 headers={"Authorization": "Bearer " + token(), "Accept": AD_XML})
    assert r.status_code == 200
    doc, links = xml_links(r)
    assert doc.get("AccessLocation") == "Internal"
    user = doc.find("User")
    cia = user.find("SipClientInternalAccess")
    assert (cia.get("fqdn"), cia.get("port")) == (topo.pool, "5061")
    cea = user.find("SipClientExternalAccess")
    assert (cea.get("fqdn"), cea.get("port")) == (topo.sip_external, "443")
    assert links["Ucwa"] == topo.external_base + "/ucwa/v1/applications"
    assert links["External/Mcx"] == topo.external_base + "/Mcx/McxService.svc"
    assert links["Internal/Mcx"] == topo.internal_base + "/Mcx/McxService.svc"
    assert links["External/Autodiscover"] == topo.external_base + ROOT
    assert links["Internal/AuthBroker"] == topo.internal_base + "/Reach/sip.svc"
    assert links["XFrame"] == topo.external_base + "/Autodiscover/XFrame/XFrame.html"
    assert "Redirect" not in links


def test_user_document_ad_json(deployment, http, urls, topo, token, check_logs):
    r = http.get(urls["external"] + ROOT + "/user",
                 headers={"Authorization": "Bearer " + token(), "Accept": AD_JSON})
    body = r.json()
    assert body["AccessLocation"] == "External"
    assert body["User"]["SipClientExternalAccess"] == {"fqdn": topo.sip_external, "port": 443}
    assert {l["token"]: l["href"] for l in body["User"]["Links"]}["Ucwa"].startswith(
        topo.external_base)


def test_basic_auth_user_document_for_xml_clients(deployment, http, urls, topo, check_logs):
    import mobility
    r = http.get(urls["internal"] + ROOT + "/user?sipuri=alice@contoso.test",
                 headers={"Accept": AD_XML}, auth=("alice@contoso.test", mobility.DEMO_PASSWORD))
    assert r.status_code == 200
    doc, _ = xml_links(r)
    assert doc.find("User/SipClientInternalAccess").get("fqdn") == topo.pool


def test_user_on_another_pool_is_redirected(deployment, http, urls, topo, token, check_logs):
    tok = token("carol@contoso.test")
    r = http.get(urls["external"] + ROOT + "/oauth/user?originalDomain=contoso.test",
                 headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200
    links = r.json()["_links"]
    assert links["redirect"]["href"] == (f"https://{topo.webext2}:{topo.rp_https}{ROOT}"
                                         "/oauth/user?originalDomain=contoso.test")
    assert "applications" not in links
    r = http.get(urls["internal"] + ROOT + "/user",
                 headers={"Authorization": "Bearer " + tok, "Accept": AD_XML})
    doc, links = xml_links(r)
    assert list(links) == ["Redirect"]
    assert links["Redirect"].startswith(f"https://{topo.pool2}:{topo.fe_https}{ROOT}/user")
