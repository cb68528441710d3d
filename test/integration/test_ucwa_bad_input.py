"""Hostile and malformed UCWA requests get UCWA's own error {code, subcode, message}, never
crash a child, never create anything, and leave the session store consistent: malformed
JSON, wrong types, oversized bodies, bad event parameters, junk and traversal in paths,
unsupported media types, XML with a DTD or entities."""
import http.client
import ssl
import time

import pytest

from ucwa_client import FAST, JSON, XML, assert_error, start_fe, stop_fe

UCWA_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
P = "/ucwa/oauth/v1/applications"


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-bad", extra=FAST, servers=2)
    yield f
    stop_fe(f)


@pytest.fixture(scope="module")
def alice(fe):
    return fe.user()


@pytest.fixture(scope="module")
def app(alice):
    a = alice.create(endpointId="the-one-that-stays")
    a.available()
    return a


@pytest.fixture(scope="module")
def bob_app(fe):
    return fe.user("bob@contoso.test").create(endpointId="bobs-phone")


def raw(fe, method, path, token=None, headers=None, body=None):
    """A request exactly as written: no client-side normalisation of the path."""
    ctx = ssl.create_default_context(cafile=str(fe.ca))
    c = http.client.HTTPSConnection(fe.topo.pool, fe.topo.fe_https, context=ctx, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    h = {"Accept": JSON}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    for k, v in h.items():
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()

    class R:
        status_code = r.status
        headers = {k: v for k, v in r.getheaders()}
        content = r.read()

        @classmethod
        def json(cls):
            import json
            return json.loads(cls.content)

        text = property(lambda self: self.content.decode(errors="replace"))
    c.close()
    return R


BAD_JSON = [b"{", b'{"userAgent":', b"null", b"[]", b'"text"', b"42", b'{"a":1}}',
            b'{"userAgent":"x" "endpointId":"y"}', b"\xff\xfe{}", b'{"userAgent":"a\x00b"}',
            b"[" * 100 + b"]" * 100, b'{"a":' * 60 + b"1" + b"}" * 60,
            b'{"userAgent":"\xc3\x28"}']


@pytest.mark.parametrize("body", BAD_JSON)
def test_malformed_json(alice, app, body):
    for href in (alice.applications, app.href("/me/presence")):
        r = alice.request("POST", href, data=body, headers={"Content-Type": JSON})
        assert_error(r, 400, "BadRequest", "DeserializationFailure")


@pytest.mark.parametrize("sub,body", [
    ("", {"userAgent": 5, "endpointId": "e", "culture": "en-US"}),
    ("", {"userAgent": "u", "endpointId": ["e"], "culture": "en-US"}),
    ("", {"userAgent": "u", "endpointId": "e", "culture": {"name": "en-US"}}),
    ("", {"userAgent": "", "endpointId": "e", "culture": "en-US"}),
    ("", {"userAgent": "u", "endpointId": "e"}),
    ("", {"userAgent": "u" * 101, "endpointId": "e", "culture": "en-US"}),
    ("", {"userAgent": "u", "endpointId": "e", "culture": "en-US", "instanceId": 7}),
    ("/me/makeMeAvailable", {"supportedModalities": "Messaging"}),
    ("/me/makeMeAvailable", {"supportedModalities": [1, 2]}),
    ("/me/makeMeAvailable", {"supportedMessageFormats": {"Plain": True}}),
    ("/me/presence", {"availability": "Offline"}),
    ("/me/presence", {"availability": "Sleeping"}),
    ("/me/presence", {"availability": True}),
    ("/me/note", {"message": 5}),
    ("/me/location", {"location": ["Lab"]}),
])
def test_wrong_types_and_values(alice, app, sub, body):
    if sub == "/me/makeMeAvailable":
        fresh = alice.create()          # not yet available: the input is what is wrong
        r = fresh.post(sub, body)
        fresh.delete()
    elif sub:
        r = app.post(sub, body)
    else:
        r = alice.request("POST", alice.applications, json=body)
    assert_error(r, 400, "BadRequest", "ParameterValidationFailure")


def test_bodies_over_64_kib(fe, alice, app):
    big = b'{"userAgent":"' + b"a" * 70000 + b'","endpointId":"e","culture":"en-US"}'
    for href in (alice.applications, app.href("/me/note")):
        r = alice.request("POST", href, data=big, headers={"Content-Type": JSON})
        assert_error(r, 413, "EntityTooLarge")
        # chunked, without a Content-Length to refuse it early
        r = alice.request("POST", href, data=iter([big[i:i + 8192]
                                                   for i in range(0, len(big), 8192)]),
                          headers={"Content-Type": JSON})
        assert_error(r, 413, "EntityTooLarge")
    xml = (f'<input xmlns="{UCWA_NS}"><property name="userAgent">' + "a" * 70000 +
           "</property></input>").encode()
    r = alice.request("POST", alice.applications, data=xml, headers={"Content-Type": XML})
    assert_error(r, 413, "EntityTooLarge")
    # just under the limit is read (and refused for what it says, not for its size)
    ok = b'{"message":"' + b"a" * 500 + b'","padding":"' + b"p" * 64000 + b'"}'
    assert len(ok) < 65536
    assert app.post("/me/note", data=ok, headers={"Content-Type": JSON}).status_code == 204


@pytest.mark.parametrize("query", [
    "ack=0", "ack=-1", "ack=abc", "ack=1.5", "ack=", "ack=0x10", "ack=4294967296",
    "ack=99999999999999999999", "ack=1%00", "ack=1;2",
    "ack=1&timeout=-1", "ack=1&timeout=abc", "ack=1&timeout=1e3", "ack=1&timeout=",
    "ack=1&timeout=99999999999999999999", "ack=1&timeout=4294967296",
    "ack=1&low=-5", "ack=1&medium=fast", "ack=1&priority=-1", "ack=1&priority=1000001",
    "ack=1&priority=high", "timeout=1",
])
def test_bad_event_parameters(alice, app, query):
    t0 = time.monotonic()
    r = alice.request("GET", app.href("/events?" + query))
    assert_error(r, 400, "BadRequest", "ParameterValidationFailure")
    assert time.monotonic() - t0 < 1          # refused, not parked


@pytest.mark.parametrize("path,subcode", [
    (P + "/../x", "ResourceNotFound"),
    (P + "/%2e%2e/x", "ResourceNotFound"),
    (P + "/%2E%2E/%2e%2E/v1/x", "ResourceNotFound"),
    (P + "/{id}/../../../../etc/passwd", "ResourceNotFound"),
    (P + "/99999999999999999999", "ApplicationNotFound"),
    (P + "/18446744073709551617", "ApplicationNotFound"),
    (P + "/" + "9" * 5000, "ApplicationNotFound"),
    (P + "/abc", "ApplicationNotFound"),
    (P + "/-1", "ApplicationNotFound"),
    (P + "/0x1F", "ApplicationNotFound"),
    (P + "/%20{id}", "ApplicationNotFound"),
    (P + "/{id}abc", "ApplicationNotFound"),
    (P + "/0{id}", "ApplicationNotFound"),                     # the id as issued only
    (P + "/{id}/me/../../{bob}", "ApplicationNotFound"),       # bob's, by traversal
    (P + "/{id}/nowhere", "ResourceNotFound"),
    (P + "/{id}/me/..%2f..%2f{bob}", None),
])
def test_junk_and_traversal_in_paths(fe, alice, app, bob_app, path, subcode):
    path = path.format(id=app.id, bob=bob_app.id)
    r = raw(fe, "GET", path, token=alice.token)
    if subcode is None:
        # an encoded slash: Apache itself refuses it (AllowEncodedSlashes Off)
        assert r.status_code == 404 and b"Bob" not in r.content
        return
    assert_error(r, 404, "NotFound", subcode)
    assert b"root:" not in r.content and b"Bob" not in r.content


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", "image/jpeg",
                                   "application/octet-stream"])
def test_unsupported_content_type(alice, app, ctype):
    body = b'{"userAgent":"u","endpointId":"415","culture":"en-US"}'
    for href in (alice.applications, app.href("/me/note")):
        r = alice.request("POST", href, data=body, headers={"Content-Type": ctype})
        assert_error(r, 415, "UnsupportedMediaType")


XML_ATTACKS = {
    "internal entity": (f'<!DOCTYPE input [<!ENTITY ua "EXPANDED-ENTITY">]>'
                        f'<input xmlns="{UCWA_NS}"><property name="userAgent">&ua;</property>'
                        '<property name="endpointId">x1</property>'
                        '<property name="culture">en-US</property></input>'),
    "external entity": (f'<!DOCTYPE input [<!ENTITY ua SYSTEM "file:///etc/passwd">]>'
                        f'<input xmlns="{UCWA_NS}"><property name="userAgent">&ua;</property>'
                        '<property name="endpointId">x2</property>'
                        '<property name="culture">en-US</property></input>'),
    "billion laughs": ('<!DOCTYPE input [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                       '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;">'
                       '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
                       f'<input xmlns="{UCWA_NS}"><property name="userAgent">&e;&e;&e;</property>'
                       '</input>'),
    "parameter entity": ('<!DOCTYPE input [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>'
                         f'<input xmlns="{UCWA_NS}"/>'),
    "bare doctype": f'<!DOCTYPE input><input xmlns="{UCWA_NS}"/>',
    "undeclared entity": (f'<input xmlns="{UCWA_NS}"><property name="userAgent">&ua;'
                          '</property></input>'),
    "not well-formed": f'<input xmlns="{UCWA_NS}"><property name="userAgent">x</input>',
    "wrong root": '<html><property name="userAgent">x</property></html>',
}


@pytest.mark.parametrize("name", list(XML_ATTACKS))
def test_xml_with_dtd_or_entities_is_refused_unexpanded(alice, name):
    t0 = time.monotonic()
    r = alice.request("POST", alice.applications, data=XML_ATTACKS[name].encode(),
                      headers={"Content-Type": XML})
    assert_error(r, 400, "BadRequest", "DeserializationFailure")
    assert time.monotonic() - t0 < 1
    for leak in (b"EXPANDED-ENTITY", b"root:", b"lollol"):
        assert leak not in r.content
    # and in XML for an XML client
    r = alice.request("POST", alice.applications, data=XML_ATTACKS[name].encode(),
                      headers={"Content-Type": XML, "Accept": XML})
    assert r.status_code == 400 and r.headers["Content-Type"].startswith(XML)
    assert b"<code>BadRequest</code>" in r.content
    assert b"<subcode>DeserializationFailure</subcode>" in r.content


def test_methods_not_allowed(alice, app):
    for method, href in (("PUT", app.self), ("PATCH", app.self), ("GET", alice.applications),
                         ("DELETE", alice.applications), ("POST", app.href("/events?ack=1"))):
        r = alice.request(method, href, json={})
        assert_error(r, 405, "MethodNotAllowed")


def test_after_the_barrage_the_store_is_consistent(fe, alice, app, bob_app):
    # nothing above created an application; the two that exist still work
    st = fe.status()
    assert st == {"applications": 2, "expired": 0, "available": 1, "users": 2,
                  "queuedEvents": st["queuedEvents"], "parked": 0, "subscriptions": 0,
                  "subscribedMembers": 0, "conversations": 0, "pushQueued": 0,
                  "pushSending": 0, "consistent": True,
                  "parkedPerChild": [0] * len(st["parkedPerChild"])}
    assert st["parkedPerChild"]   # every running child is counted, none holds a request
    assert app.get().status_code == 200
    assert app.post("/me/presence", {"availability": "Busy"}).status_code == 204
    pkg = app.poll("timeout=1")
    assert pkg["_links"]["next"]["href"].startswith(app.self + "/events?ack=")
    assert app.get("/me/presence").json()["availability"] == "Busy"
