"""Hostile and malformed MCX requests (docs/mcx-protocol.md, "Faults" and "Limits") get a
SOAP 1.1 fault with the documented code and HTTP status, never read a file or expand an
entity, never crash a child, and leave the server working and its session store
consistent. Also the metadata: GET /Mcx/McxService.svc/mex is a WSDL naming every
operation.

The instance here takes bodies up to 200,000 bytes (McxMaxRequestSize), so that a
well-formed document nested 10,000 deep fits and is refused for its depth, not its
size (test_mcx.py tests the default 64 KiB)."""
import sys
import time

import pytest
import requests
from lxml import etree

import mobility
from conftest import forge_token
from ucwa_client import FAST, start_fe, stop_fe

CLIENT_DIR = mobility.REPO / "mod_mcx" / "client"
sys.path.insert(0, str(CLIENT_DIR))
from mcx_client import NS, SOAP, McxClient, envelope, parse_fault  # noqa: E402

MAX = 200000
PW = mobility.DEMO_PASSWORD
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
OPERATIONS = ["SignIn", "SignOut", "KeepAlive", "GetPresence", "PublishPresence",
              "GetContacts", "SubscribePresence", "StartConversation", "AcceptInvitation",
              "DeclineInvitation", "SendMessage", "SetTyping", "EndConversation",
              "RegisterPush", "UnregisterPush", "GetNotifications"]
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "mcx-bad", servers=2,
                 extra=f"{FAST}\nMcxMaxRequestSize {MAX}")
    yield f
    stop_fe(f)


@pytest.fixture(scope="module")
def alice(fe):
    c = McxClient(fe.origin, str(fe.ca))
    c.sign_in(ALICE, PW, device_id="the-one-that-stays")
    return c


@pytest.fixture(scope="module")
def bob(fe):
    c = McxClient(fe.origin, str(fe.ca))
    c.sign_in(BOB, PW, device_id="bobs-phone")
    return c


def expect(answer, code, http_status=500, faultcode="Client"):
    """answer is (status, headers, body) and must be the fault code."""
    status, headers, body = answer
    assert status == http_status, (status, body[:400])
    assert headers.get("Content-Type", "").startswith("text/xml"), headers.get("Content-Type")
    f = parse_fault(status, headers, body)
    assert f is not None and f.code is not None, body[:400]
    assert f.code == code, (f.code, f.message)
    assert f.faultcode.endswith(":" + faultcode), f.faultcode
    assert f.message
    return f


def op(session, inner="", name="GetPresence", ns=NS):
    """An envelope around <m:name> with SessionId and inner (raw XML)."""
    return (f'<s:Envelope xmlns:s="{SOAP}" xmlns:m="{ns}"><s:Body><m:{name}>'
            f'<m:SessionId>{session}</m:SessionId>{inner}</m:{name}></s:Body></s:Envelope>')


# --- not XML, not SOAP, not UTF-8 --------------------------------------------------------

def bad_xml(session):
    good = op(session)
    return {
        "empty": b"",
        "text": b"hello",
        "truncated": good[:len(good) // 2].encode(),
        "mismatched": good.replace("</m:GetPresence>", "</m:GetPresenc>").encode(),
        "two roots": (good + good).encode(),
        "undeclared prefix": good.replace(f' xmlns:m="{NS}"', "").encode(),
        "nul": good.replace("</m:SessionId>", "\x00</m:SessionId>").encode(),
        "not an envelope": f'<m:GetPresence xmlns:m="{NS}"><m:SessionId>{session}'
                           f'</m:SessionId></m:GetPresence>'.encode(),
        "soap 1.2": good.replace(SOAP, "http://www.w3.org/2003/05/soap-envelope").encode(),
        "no body": f'<s:Envelope xmlns:s="{SOAP}"><s:Header/></s:Envelope>'.encode(),
        "empty body": f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'.encode(),
        "latin-1": ('<?xml version="1.0" encoding="ISO-8859-1"?>' + op(
            session, "<m:Note>caf\xe9</m:Note>", "PublishPresence")).encode("latin-1"),
        "bad utf-8": op(session, "<m:Note>\xc3\x28</m:Note>", "PublishPresence").encode("latin-1"),
        "utf-16": op(session).encode("utf-16"),
    }


@pytest.mark.parametrize("case", list(bad_xml("x")))
def test_not_xml_not_soap_not_utf8_is_bad_request(fe, alice, case):
    body = bad_xml(alice.session_id)[case]
    expect(alice.raw_post(body), "BadRequest")


# --- DTDs and entities ---------------------------------------------------------------------

def with_doctype(doctype, session, note="x"):
    return (f'<?xml version="1.0"?>\n{doctype}\n' +
            op(session, f"<m:Note>{note}</m:Note>", "PublishPresence")).encode()


LOL = ('<!DOCTYPE s:Envelope [<!ENTITY lol "lol">' +
       "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">' for i in range(1, 10)) +
       "]>")

DTDS = {
    "internal subset": ('<!DOCTYPE s:Envelope [<!ELEMENT s:Envelope ANY>]>', "x"),
    "external dtd": ('<!DOCTYPE s:Envelope SYSTEM "file:///etc/passwd">', "x"),
    "external entity": ('<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                        "&xxe;"),
    "parameter entity": ('<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
                         "x"),
    "billion laughs": (LOL, "&lol9;"),
    "internal entity": ('<!DOCTYPE s:Envelope [<!ENTITY e "Busy">]>', "&e;"),
}


@pytest.mark.parametrize("case", list(DTDS))
def test_dtds_and_entities_are_refused(fe, alice, case):
    doctype, note = DTDS[case]
    t0 = time.monotonic()
    status, headers, body = alice.raw_post(with_doctype(doctype, alice.session_id, note))
    assert time.monotonic() - t0 < 2
    expect((status, headers, body), "XmlNotAllowed")
    assert b"root:" not in body and b"lollol" not in body
    assert alice.get_presence()["Note"] != "Busy"


def test_an_undeclared_entity_reference_is_refused(fe, alice):
    body = op(alice.session_id, "<m:Note>&nbsp;</m:Note>", "PublishPresence").encode()
    expect(alice.raw_post(body), "XmlNotAllowed")


def test_predefined_entities_and_character_references_are_fine(fe, alice):
    body = op(alice.session_id, "<m:Note>&lt;&amp;&gt;&quot;&apos; &#x263A;&#9731;</m:Note>",
              "PublishPresence").encode()
    status, _, answer = alice.raw_post(body)
    assert status == 200, answer[:300]
    assert alice.get_presence()["Note"] == "<&>\"' ☺☃"
    alice.publish_presence(note="")


@pytest.mark.parametrize("depth", [20, 10000])
def test_deep_nesting_is_refused(fe, alice, depth):
    inner = "<a>" * depth + "</a>" * depth
    body = op(alice.session_id, inner).encode()
    assert len(body) < MAX
    expect(alice.raw_post(body), "XmlNotAllowed")


def test_unknown_children_with_children_are_ignored(fe, alice):
    """A later minor version may add structured elements: an old server ignores them."""
    inner = "<m:Options><m:Flag>1</m:Flag></m:Options>"
    status, _, answer = alice.raw_post(op(alice.session_id, inner).encode())
    assert status == 200 and b"GetPresenceResponse" in answer, answer[:400]


def test_nesting_within_the_limit_is_fine(fe, alice):
    # Envelope, Body, GetPresence, then 13 levels: 16 in all
    inner = "<m:x>" * 13 + "</m:x>" * 13
    status, _, answer = alice.raw_post(op(alice.session_id, inner).encode())
    assert status == 200, answer[:300]


# --- size ----------------------------------------------------------------------------------

def test_the_size_limit(fe, alice):
    def keepalive_of(size):
        head = envelope("KeepAlive", [("SessionId", alice.session_id), ("Padding", "")])
        body = head.replace("<m:Padding></m:Padding>",
                            "<m:Padding>" + "x" * (size - len(head.encode())) + "</m:Padding>")
        return body.encode()
    assert alice.raw_post(keepalive_of(MAX))[0] == 200
    expect(alice.raw_post(keepalive_of(MAX + 1)), "RequestTooLarge", 413)


def test_ten_megabytes_are_refused_quickly(fe, alice):
    big = op(alice.session_id, "<m:Padding>" + "x" * (10 << 20) + "</m:Padding>").encode()
    t0 = time.monotonic()
    expect(alice.raw_post(big), "RequestTooLarge", 413)
    assert time.monotonic() - t0 < 5

    def chunks():                       # no Content-Length: chunked
        for i in range(0, len(big), 1 << 16):
            yield big[i:i + (1 << 16)]
    t0 = time.monotonic()
    expect(alice.raw_post(chunks()), "RequestTooLarge", 413)
    assert time.monotonic() - t0 < 5


# --- operations, versions, parameters ------------------------------------------------------

def test_unknown_operations(fe, alice):
    for name in ("Frobnicate", "getPresence", "GETPRESENCE", "GetPresenceResponse"):
        expect(alice.raw_post(op(alice.session_id, name=name).encode()), "UnknownOperation")


@pytest.mark.parametrize("version", ["2", "0", "10"])
def test_another_version(fe, alice, version):
    ns = f"urn:mobility-httpd:mcx:{version}"
    expect(alice.raw_post(op(alice.session_id, ns=ns).encode()), "VersionNotSupported")
    body = envelope("SignIn", [("SessionKind", "AlwaysConnected"), ("DeviceId", "v2")], ns=ns)
    expect(alice.raw_post(body.encode()), "VersionNotSupported")


def test_the_operation_is_the_body_not_the_soapaction(fe, alice):
    status, _, body = alice.raw_post(op(alice.session_id).encode(),
                                     {"SOAPAction": f'"{NS}/SignOut"'})
    assert status == 200 and b"GetPresenceResponse" in body, body[:300]
    alice.get_presence()                                  # not signed out


def test_path_case_and_unknown_children(fe, alice):
    body = op(alice.session_id, "<m:FutureElement a='1'>later</m:FutureElement>").encode()
    for path in ("/Mcx/McxService.svc", "/mcx/mcxservice.svc", "/MCX/MCXSERVICE.SVC"):
        status, _, answer = alice.raw_post(body, path=path)
        assert status == 200 and b"GetPresenceResponse" in answer, (path, answer[:300])


INVALID = [
    ("GetPresence", ""),                                            # no SessionId
    ("SendMessage", "<m:Text>x</m:Text>"),                          # no ConversationId
    ("GetNotifications", "<m:Sequence>abc</m:Sequence>"),
    ("GetNotifications", "<m:Sequence>-1</m:Sequence>"),
    ("PublishPresence", "<m:Availability>Sleeping</m:Availability>"),
    ("SubscribePresence", ""),
    ("StartConversation", ""),                                     # no To
    ("AcceptInvitation", ""),                                      # no InvitationId
]


@pytest.mark.parametrize("name,inner", INVALID)
def test_invalid_parameters(fe, alice, name, inner):
    if name == "GetPresence":
        body = f'<s:Envelope xmlns:s="{SOAP}" xmlns:m="{NS}"><s:Body><m:GetPresence/>' \
               '</s:Body></s:Envelope>'
    else:
        body = op(alice.session_id, inner, name)
    expect(alice.raw_post(body.encode()), "InvalidParameter")


def test_sign_in_parameters(fe, alice):
    for fields in ([("SessionKind", "Sometimes"), ("DeviceId", "d")],
                   [("DeviceId", "d" * 101)], [("DeviceId", "")],
                   [("SessionKind", "AlwaysConnected")]):          # no DeviceId
        expect(alice.raw_post(envelope("SignIn", fields).encode()), "InvalidParameter")


def test_another_users_session_does_not_exist(fe, alice, bob):
    theirs = alice.raw_post(op(bob.session_id).encode())
    random = alice.raw_post(op("4242424242").encode())
    f1, f2 = expect(theirs, "SessionNotFound"), expect(random, "SessionNotFound")
    assert (f1.status, f1.message, f1.faultcode) == (f2.status, f2.message, f2.faultcode)
    assert theirs[2].replace(bob.session_id.encode(), b"4242424242") == random[2]
    # and alice's session with bob's ticket
    bob_ticket = bob.ticket
    f = expect(alice.raw_post(op(alice.session_id).encode(),
                              {"Authorization": "Bearer " + bob_ticket}), "SessionNotFound")
    assert f.message == f2.message
    bob.get_presence()


def test_no_ticket_or_a_bad_one_gets_401_and_the_challenge(fe, alice, state):
    key = (state / "token.key").read_bytes()
    now = int(time.time())
    expired = forge_token(key, ALICE, now - 7200, now - 60)
    foreign = forge_token(b"k" * 32, ALICE, now, now + 3600)
    for headers in ({}, {"Authorization": "Bearer cwt=garbage"},
                    {"X-MS-WebTicket": "cwt=garbage"}, {"Authorization": "Bearer " + expired},
                    {"X-MS-WebTicket": expired}, {"Authorization": "Bearer " + foreign}):
        status, h, body = alice.raw_post(op(alice.session_id).encode(), headers, auth=False)
        expect((status, h, body), "Unauthorized", 401)
        oauth = [c for c in h.get_all("WWW-Authenticate") or [] if c.startswith("MsRtcOAuth ")]
        assert oauth, h.get_all("WWW-Authenticate")
        assert "/WebTicket/oauthtoken" in oauth[0] and 'grant_type="password"' in oauth[0]
    # the ticket as X-MS-WebTicket works
    status, _, body = alice.raw_post(op(alice.session_id).encode(),
                                     {"X-MS-WebTicket": alice.ticket}, auth=False)
    assert status == 200 and b"GetPresenceResponse" in body, body[:300]


# --- metadata ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/Mcx/McxService.svc/mex", "/Mcx/McxService.svc?wsdl"])
def test_the_wsdl_names_every_operation(fe, alice, path):
    r = requests.get(fe.origin + path, verify=str(fe.ca), timeout=10)   # no credentials
    assert r.status_code == 200, r.text[:300]
    assert "xml" in r.headers["Content-Type"], r.headers["Content-Type"]
    doc = etree.fromstring(r.content)
    assert doc.tag == f"{{{WSDL}}}definitions"
    port_types = doc.findall(f"{{{WSDL}}}portType")
    assert [p.get("name") for p in port_types] == ["McxService"]
    ops = [o.get("name") for o in port_types[0].findall(f"{{{WSDL}}}operation")]
    assert sorted(ops) == sorted(OPERATIONS)
    binding = doc.find(f"{{{WSDL}}}binding")
    sb = binding.find(f"{{{WSOAP}}}binding")
    assert sb.get("style") == "document" and sb.get("transport") == \
        "http://schemas.xmlsoap.org/soap/http"
    assert sorted(o.get("name") for o in binding.findall(f"{{{WSDL}}}operation")) == \
        sorted(OPERATIONS)
    for o in binding.findall(f"{{{WSDL}}}operation"):
        assert o.find(f"{{{WSOAP}}}operation").get("soapAction") == f"{NS}/{o.get('name')}"
    address = doc.find(f"{{{WSDL}}}service/{{{WSDL}}}port/{{{WSOAP}}}address")
    assert address.get("location") == fe.origin + "/Mcx/McxService.svc"
    # the schema has every request and response, and our requests and answers follow it
    schema = doc.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert schema.get("targetNamespace") == NS
    elements = {e.get("name") for e in schema.findall(f"{{{XS}}}element")}
    assert {x for o in OPERATIONS for x in (o, o + "Response")} <= elements
    xsd = etree.XMLSchema(etree.fromstring(etree.tostring(schema)))   # with the ns in scope
    for body in (envelope("GetPresence", [("SessionId", alice.session_id)]),
                 envelope("SignIn", [("SessionKind", "PushCapable"), ("DeviceId", "d")])):
        el = etree.fromstring(body.encode()).find(f"{{{SOAP}}}Body")[0]
        xsd.assertValid(etree.ElementTree(el))
    _, _, answer = alice.raw_post(envelope("GetPresence",
                                           [("SessionId", alice.session_id)]).encode())
    el = etree.fromstring(answer).find(f"{{{SOAP}}}Body")[0]
    xsd.assertValid(etree.ElementTree(el))


# --- afterwards ----------------------------------------------------------------------------

def test_the_server_still_works(fe, alice, bob):
    """Last in the module: the sessions signed in first still work, a new sign-in and a
    message go through, the store is consistent, no child crashed (stop_fe checks the log
    for 'exit signal')."""
    alice.get_presence()
    c = McxClient(fe.origin, str(fe.ca))
    c.sign_in(ALICE, PW)
    cid, iid = c.start_conversation("sip:" + BOB, message="still alive?")
    inv = bob.wait_for("Invitation", text="still alive?")
    bcid = bob.accept(inv["InvitationId"])
    assert c.wait_for("InvitationResult", InvitationId=iid)["Result"] == "Connected"
    bob.send_message(bcid, "yes")
    assert c.wait_for("Message", ConversationId=cid)["text"] == "yes"
    c.sign_out()
    st = fe.status()
    assert st["consistent"] and st["parked"] == 0, st
    for s in (alice, bob):
        s.sign_out()
