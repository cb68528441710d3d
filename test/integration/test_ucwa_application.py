"""UCWA applications as a phone sees them: created through the real sign-in flow (token,
the user resource's applications link, through the reverse proxy), the document in the
real-capture layout, the same application again for the same endpoint, GET and DELETE,
lenient input, the XML representation, other users, no token, resource revisions, and
the server's capacity limits."""
import re
import time
import uuid
from urllib.parse import urlsplit

import pytest
from lxml import etree

from conftest import forge_token
from ucwa_client import FAST, JSON, NS, XML, App, Fe, User, assert_error, events_of

UCWA_NS = NS.strip("{}")
PUT_GUID = "4d221db7-4af0-476b-9443-8bc874283085"


@pytest.fixture
def alice(deployment, state, urls):
    return User(state / "pki" / "ca.crt", urls["internal"])


@pytest.fixture
def bob(deployment, state, urls):
    return User(state / "pki" / "ca.crt", urls["internal"], "bob@contoso.test")


def test_applications_link_leads_through_the_reverse_proxy(alice, topo, check_logs):
    # the hairpin rule: even an internal phone gets the published (external) URL
    assert alice.applications == f"{topo.external_base}/ucwa/oauth/v1/applications"


def test_create_application_in_the_real_capture_layout(alice, check_logs):
    body = {"userAgent": "Contoso Phone/6.1", "endpointId": str(uuid.uuid4()),
            "culture": "en-GB"}
    r = alice.request("POST", alice.applications, json=body)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["X-MS-Server-Fqdn"] == "pool01.contoso.test"
    doc = r.json()
    a = doc["_links"]["self"]["href"]
    assert a.startswith("/ucwa/oauth/v1/applications/")
    app_id = a.rsplit("/", 1)[1]
    assert app_id.isdigit()
    # clients build URLs from the id property (pyucwa): it is the URL segment
    assert doc["id"] == app_id
    assert doc["rel"] == "application"
    assert (doc["userAgent"], doc["endpointId"], doc["culture"]) == (
        body["userAgent"], body["endpointId"], body["culture"])
    assert doc["_links"] == {"self": {"href": a}, "policies": {"href": a + "/policies"},
                             "batch": {"href": a + "/batch"},
                             "events": {"href": a + "/events?ack=1"}}
    assert urlsplit(r.headers["Location"]).path == a
    emb = doc["_embedded"]
    assert set(emb) == {"me", "people", "onlineMeetings", "communication"}
    for rel, res in emb.items():
        assert res["rel"] == rel
        assert res["_links"]["self"]["href"].startswith(a + "/")
    me = emb["me"]
    assert me["name"] == "Alice Anderson" and me["uri"] == "sip:alice@contoso.test"
    assert set(me["_links"]) == {"self", "makeMeAvailable", "callForwardingSettings",
                                 "phones", "photo"}
    assert me["_links"]["photo"]["href"] == a + "/photos/alice@contoso.test"
    assert {"myContacts", "myGroups", "search", "presenceSubscriptions"} <= set(
        emb["people"]["_links"])
    comm = emb["communication"]
    assert comm[PUT_GUID] == "please pass this in a PUT request"
    assert comm["supportedModalities"] == [] and comm["supportedMessageFormats"] == ["Plain"]
    assert comm["etag"].isdigit()
    assert comm["_links"]["conversations"]["href"] == (
        a + "/communication/conversations?filter=active")
    # the photo cookie, so that <img> tags load photos without an Authorization header
    cookie = r.headers["Set-Cookie"]
    assert cookie == f"cwt_ucwa={alice.token}; path={a}/photos; secure; HttpOnly"
    assert alice.request("DELETE", a).status_code == 204


def test_same_endpoint_gets_the_same_application(alice, check_logs):
    body = {"userAgent": "Contoso Phone", "endpointId": str(uuid.uuid4()), "culture": "en-US"}
    first = alice.request("POST", alice.applications, json=body)
    assert first.status_code == 201
    again = alice.request("POST", alice.applications, json=body)
    assert again.status_code == 200, again.text
    assert again.json()["_links"]["self"] == first.json()["_links"]["self"]
    assert again.json()["id"] == first.json()["id"]
    # a different culture, endpoint or instance is another application
    ids = {first.json()["id"]}
    for change in ({"culture": "fr-FR"}, {"endpointId": str(uuid.uuid4())},
                   {"instanceId": "tab2"}):
        r = alice.request("POST", alice.applications, json=dict(body, **change))
        assert r.status_code == 201, (change, r.text)
        ids.add(r.json()["id"])
    assert len(ids) == 4
    for i in ids:
        assert alice.request("DELETE", f"/ucwa/oauth/v1/applications/{i}").status_code == 204


def test_get_and_delete(alice, check_logs):
    app = alice.create()
    r = app.get()
    assert r.status_code == 200
    assert r.json()["id"] == app.id and r.json()["_links"] == app.doc["_links"]
    assert r.headers["Set-Cookie"].startswith(f"cwt_ucwa={alice.token}; path={app.self}/photos")
    r = app.delete()
    assert r.status_code == 204 and r.content == b""
    for method, sub in (("GET", ""), ("DELETE", ""), ("GET", "/me"),
                        ("GET", "/events?ack=1"), ("GET", "/policies")):
        r = alice.request(method, app.href(sub))
        assert_error(r, 404, "NotFound", "ApplicationNotFound")


def test_non_oauth_applications_path(alice, check_logs):
    url = alice.applications.replace("/ucwa/oauth/v1/", "/ucwa/v1/")
    app = alice.create(url=url)
    assert app.self.startswith("/ucwa/v1/applications/")
    assert app.events == app.self + "/events?ack=1"
    assert app.get("/me").json()["_links"]["self"]["href"] == app.self + "/me"
    assert app.delete().status_code == 204


def test_input_names_any_case_trailing_comma_and_query_parameters(alice, check_logs):
    ep = str(uuid.uuid4())
    # the real capture's spelling
    r = alice.request("POST", alice.applications,
                      json={"UserAgent": "UCWA Samples", "EndpointId": ep, "Culture": "en-US"})
    assert r.status_code == 201, r.text
    assert r.json()["userAgent"] == "UCWA Samples" and r.json()["endpointId"] == ep
    ids = [r.json()["id"]]
    # the documentation's capture has a trailing comma
    raw = ('{"userAgent":"UCWA Samples","endpointId":"%s","culture":"en-US",}'
           % uuid.uuid4()).encode()
    r = alice.request("POST", alice.applications, data=raw,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    ids.append(r.json()["id"])
    # inputs as query parameters instead of a body
    ep = str(uuid.uuid4())
    r = alice.request("POST", alice.applications + f"?userAgent=Q&endpointId={ep}&culture=de-DE")
    assert r.status_code == 201, r.text
    assert (r.json()["userAgent"], r.json()["culture"]) == ("Q", "de-DE")
    ids.append(r.json()["id"])
    for i in ids:
        assert alice.request("DELETE", f"/ucwa/oauth/v1/applications/{i}").status_code == 204


def test_limits_count_characters_not_bytes(alice, check_logs):
    # at most 100 characters (UCWA): a Japanese user agent of 40 characters is 120 bytes
    agent = "スカイプフォービジネス" * 4
    assert len(agent) == 44 and len(agent.encode()) == 132
    app = alice.create(userAgent=agent, culture="ja-JP")
    assert app.doc["userAgent"] == agent
    assert app.get().json()["userAgent"] == agent
    assert app.delete().status_code == 204
    r = alice.create(expect=None, userAgent="x" * 101)
    assert r.status_code == 400 and r.json()["subcode"] == "ParameterValidationFailure"


def test_xml_representation(alice, check_logs):
    ep = str(uuid.uuid4())
    body = (f'<?xml version="1.0" encoding="utf-8"?><input xmlns="{UCWA_NS}">'
            '<property name="userAgent">Store App</property>'
            f'<property name="endpointId">{ep}</property>'
            '<property name="culture">en-US</property></input>')
    r = alice.request("POST", alice.applications, data=body.encode(),
                      headers={"Content-Type": XML, "Accept": XML})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith(XML)
    doc = etree.fromstring(r.content)
    assert doc.tag == NS + "resource" and doc.get("rel") == "application"
    a = doc.get("href")
    links = {l.get("rel"): l.get("href") for l in doc.findall(NS + "link")}
    assert links == {"policies": a + "/policies", "batch": a + "/batch",
                     "events": a + "/events?ack=1"}
    props = {p.get("name"): p.text for p in doc.findall(NS + "property")}
    assert props["id"] == a.rsplit("/", 1)[1]
    assert props["userAgent"] == "Store App" and props["endpointId"] == ep
    embedded = {e.get("rel"): e for e in doc.findall(NS + "resource")}
    assert set(embedded) == {"me", "people", "onlineMeetings", "communication"}
    me = {p.get("name"): p.text for p in embedded["me"].findall(NS + "property")}
    assert me["uri"] == "sip:alice@contoso.test"
    comm = embedded["communication"]
    assert comm.find(f"{NS}property[@name='{PUT_GUID}']").text == (
        "please pass this in a PUT request")
    # errors come in XML too
    r = alice.request("GET", a + "/nonsense", headers={"Accept": XML})
    assert r.status_code == 404
    err = etree.fromstring(r.content)
    assert err.tag == NS + "reason" and err.findtext(NS + "code") == "NotFound"
    assert alice.request("DELETE", a).status_code == 204
    r = alice.request("GET", a, headers={"Accept": XML})
    err = etree.fromstring(r.content)
    assert r.status_code == 404 and err.findtext(NS + "subcode") == "ApplicationNotFound"


def test_another_users_token_never_reaches_alices_application(alice, bob, check_logs):
    app = alice.create()
    app.available()
    assert app.post("/me/note", {"message": "alice's secret note"}).status_code == 204
    for method, sub, body in (("GET", "", None), ("GET", "/me", None),
                              ("GET", "/me/note", None), ("GET", "/me/presence", None),
                              ("GET", "/policies", None), ("GET", "/events?ack=1", None),
                              ("POST", "/me/presence", {"availability": "Busy"}),
                              ("POST", "/me/note", {"message": "bob was here"}),
                              ("DELETE", "", None)):
        r = bob.request(method, app.href(sub), json=body)
        assert_error(r, 404, "NotFound", "ApplicationNotFound")
        assert b"alice" not in r.content.lower() and app.id.encode() not in r.content
        assert "Set-Cookie" not in r.headers
    # alice's application is untouched
    r = app.get("/me/note")
    assert r.status_code == 200 and r.json()["message"] == "alice's secret note"
    assert app.get("/me/presence").json()["availability"] == "Online"
    assert app.delete().status_code == 204


def test_no_or_bad_token_gets_the_challenge(alice, state, topo, check_logs):
    app = alice.create()
    key = (state / "token.key").read_bytes()
    now = int(time.time())
    for token in (None, "cwt=garbage", forge_token(key, "alice@contoso.test", now - 7200, now - 60),
                  forge_token(b"k" * 32, "alice@contoso.test", now, now + 3600)):
        for method, href in (("POST", alice.applications), ("GET", app.self),
                             ("GET", app.events)):
            headers = {"Accept": JSON}
            if token:
                headers["Authorization"] = "Bearer " + token
            r = alice.http.request(method, alice.url(href), headers=headers, json={})
            assert r.status_code == 401, (token, href, r.text)
            challenges = r.raw.headers.getlist("WWW-Authenticate")
            oauth = [c for c in challenges if c.startswith("MsRtcOAuth ")]
            assert oauth, challenges
            assert 'href="https://webext.contoso.test' in oauth[0]
            assert "/WebTicket/oauthtoken" in oauth[0] and 'grant_type="password"' in oauth[0]
            assert b"Alice" not in r.content
    assert app.get().status_code == 200
    assert app.delete().status_code == 204


@pytest.mark.parametrize("version,ok", [("1", True), ("2", True), ("2.0", True),
                                        ("3", False), ("2.1", False), ("10", False)])
def test_requires_min_resource_version(alice, version, ok, check_logs):
    h = {"X-MS-RequiresMinResourceVersion": version}
    r = alice.request("POST", alice.applications, headers=h,
                      json={"userAgent": "kenakamu", "endpointId": str(uuid.uuid4()),
                            "culture": "en-US"})
    if ok:
        assert r.status_code == 201, r.text
        app = App(alice, r)
        assert app.get(headers=h).status_code == 200
        assert app.delete().status_code == 204
    else:
        assert_error(r, 404, "NotFound", "APIVersionNotSupported")


def test_full_server_answers_503_while_existing_applications_keep_working(variant, state,
                                                                           allowed_log,
                                                                           check_logs):
    allowed_log.append(re.compile(r"UCWA00041"))   # the store is full
    fe = Fe(variant("ucwa-full", extra=f"UcwaMaxApplications 3\n{FAST}"), state)
    alice, bob = fe.user(), fe.user("bob@contoso.test")
    apps = [alice.create(), alice.create(), bob.create()]
    r = bob.create(expect=None)
    assert_error(r, 503, "ServiceUnavailable")
    assert r.headers["Retry-After"].isdigit()
    assert_error(alice.create(expect=None), 503, "ServiceUnavailable")
    # the three keep working: documents, presence, the event channel
    for app in apps:
        assert app.get().status_code == 200
        app.available()
    pkg = apps[2].poll("timeout=1")
    assert ("me", "added", "presence") in [e[:3] for e in events_of(pkg)]
    assert apps[0].post("/me/presence", {"availability": "Busy"}).status_code == 204
    assert apps[1].get("/me/presence").json()["availability"] == "Busy"
    # a signed-out application frees its place
    assert apps[0].delete().status_code == 204
    assert bob.create().get().status_code == 200
    st = fe.status()
    assert st["consistent"] and st["applications"] == 3 and st["users"] == 2


def test_per_user_limit_is_410_too_many_applications(variant, state, check_logs):
    fe = Fe(variant("ucwa-peruser", extra="UcwaMaxApplicationsPerUser 2"), state)
    alice, bob = fe.user(), fe.user("bob@contoso.test")
    first = alice.create(endpointId="phone")
    alice.create(endpointId="tablet")
    assert_error(alice.create(expect=None, endpointId="laptop"), 410, "Gone",
                 "TooManyApplications")
    # the same endpoint again is the same application, not a third one
    assert alice.create(expect=200, endpointId="phone").id == first.id
    # the limit is per user
    bob.create()
    assert first.delete().status_code == 204
    alice.create(endpointId="laptop")
    st = fe.status()
    assert st["consistent"] and st["applications"] == 3 and st["users"] == 2
