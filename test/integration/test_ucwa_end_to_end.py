"""The whole mobile flow through the demo topology, as a phone on the Internet sees it:
discovery at lyncdiscover.<domain> through the reverse proxy, the 401 challenge, the
token, the user document's applications link, then UCWA on the external web FQDN (every
request through the reverse proxy to a Front End with three child processes). alice and
bob add each other to their contact lists, alice watches bob's presence, they exchange
messages both ways with typing."""
import re
import time
import urllib.parse

import mobility

ROOT = "/Autodiscover/AutodiscoverService.svc/root"


def sign_in(http, urls, user):
    """Discovery to application, following only what the server hands out."""
    r = http.get(urls["external"] + "/")
    user_href = r.json()["_links"]["user"]["href"]
    r = http.get(user_href)
    assert r.status_code == 401
    oauth = next(c for c in r.raw.headers.getlist("WWW-Authenticate") if c.startswith("MsRtcOAuth"))
    token_href = re.search(r'href="([^"]+)"', oauth).group(1)
    r = http.post(token_href, data={"grant_type": "password", "username": user,
                                    "password": mobility.DEMO_PASSWORD})
    token = r.json()["access_token"]
    h = {"Authorization": "Bearer " + token}
    apps = http.get(user_href, headers=h).json()["_links"]["applications"]["href"]
    r = http.post(apps, headers=h, json={"UserAgent": "e2e", "EndpointId": "e2e-" + user,
                                         "Culture": "en-US"})
    assert r.status_code in (200, 201), r.text
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(apps))
    return Phone(http, origin, h, r.json())


class Phone:
    def __init__(self, http, origin, headers, app):
        self.http, self.origin, self.h, self.app = http, origin, headers, app
        self.base = app["_links"]["self"]["href"]
        self.next = app["_links"]["events"]["href"]
        self.pending = []   # events received and not looked at yet, in order

    def call(self, method, sub, headers=None, **kw):
        url = sub if sub.startswith("http") else self.origin + (
            sub if sub.startswith("/ucwa/") else self.base + sub)
        return self.http.request(method, url, headers={**self.h, **(headers or {})}, **kw)

    def wait_for(self, rel, type_, timeout=20):
        """Polls the event channel until an event (rel, type) arrives; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                ev = self.pending.pop(0)
                if ev["link"]["rel"] == rel and ev["type"] == type_:
                    return ev
            assert time.monotonic() < deadline, f"no {rel} {type_}"
            r = self.call("GET", self.next)
            assert r.status_code == 200, r.text
            pkg = r.json()
            self.next = pkg["_links"]["next"]["href"]
            self.pending = [ev for sender in pkg["sender"] for ev in sender["events"]]


def test_two_phones_through_the_reverse_proxy(deployment, http, urls, topo, check_logs):
    alice = sign_in(http, urls, "alice@contoso.test")
    bob = sign_in(http, urls, "bob@contoso.test")
    assert alice.origin == topo.external_base   # the hairpin: UCWA on the external FQDN
    for phone in (alice, bob):
        r = phone.call("POST", "/me/makeMeAvailable", json={"SupportedModalities": ["Messaging"]})
        assert r.status_code == 204, r.text
        phone.wait_for("presence", "added")

    # contact lists: alice puts bob in a new group, bob puts alice in his default group
    r = alice.call("POST", "/people/groups", json={"displayName": "Team"})
    assert r.status_code in (201, 204), r.text
    team = r.headers["Location"].rsplit("/", 1)[1]
    r = alice.call("POST", "/people/groupMemberships",
                   json={"contactUri": "sip:bob@contoso.test", "groupId": team})
    assert r.status_code == 201, r.text
    r = bob.call("POST", "/people/groupMemberships", json={"contactUri": "sip:alice@contoso.test"})
    assert r.status_code == 201, r.text
    contacts = alice.call("GET", f"/people/contacts?groupId={team}").json()
    assert [c["uri"] for c in contacts["_embedded"]["contact"]] == ["sip:bob@contoso.test"]

    # alice watches bob: his change of presence reaches her event channel
    r = alice.call("POST", "/people/presenceSubscriptions",
                   json={"duration": 11, "Uris": ["sip:bob@contoso.test"]})
    assert r.status_code == 201, r.text
    assert bob.call("POST", "/me/presence", json={"availability": "Busy"}).status_code == 204
    ev = alice.wait_for("contactPresence", "updated")
    assert ev["link"]["href"].endswith("/people/bob@contoso.test/presence")
    assert alice.call("GET", ev["link"]["href"]).json()["availability"] == "Busy"

    # alice writes, bob accepts, types and answers
    r = alice.call("POST", "/communication/messagingInvitations",
                   json={"to": "sip:bob@contoso.test", "operationId": "e2e-1",
                         "_links": {"message": {"href": "data:text/plain;charset=utf-8,Hi+Bob"}}})
    assert r.status_code == 201, r.text
    inv = bob.wait_for("messagingInvitation", "started")["_embedded"]["messagingInvitation"]
    assert inv["direction"] == "Incoming"
    assert urllib.parse.unquote_plus(inv["_links"]["message"]["href"].split(",", 1)[1]) == "Hi Bob"
    assert bob.call("POST", inv["_links"]["accept"]["href"]).status_code == 204
    alice.wait_for("messagingInvitation", "completed")
    conv_a = alice.call("GET", "/communication/conversations").json()["_links"]["conversation"][0]["href"]
    conv_b = bob.call("GET", "/communication/conversations").json()["_links"]["conversation"][0]["href"]
    assert bob.call("POST", conv_b + "/messaging/typing").status_code == 204
    typing = alice.wait_for("participant", "added")
    assert typing["in"]["rel"] == "typingParticipants"
    r = bob.call("POST", conv_b + "/messaging/messages", data="Hello Alice",
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    msg = alice.wait_for("message", "completed")["_embedded"]["message"]
    assert msg["direction"] == "Incoming"
    assert urllib.parse.unquote_plus(msg["_links"]["plainMessage"]["href"].split(",", 1)[1]) \
        == "Hello Alice"
    r = alice.call("POST", conv_a + "/messaging/messages", data="See you",
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    # bob first sees the invitation's text again as a message (delivered on acceptance)
    texts = []
    while "See you" not in texts and len(texts) < 3:
        msg = bob.wait_for("message", "completed")["_embedded"]["message"]
        if msg["direction"] != "Incoming":
            continue   # the completion of bob's own message
        texts.append(urllib.parse.unquote_plus(
            msg["_links"]["plainMessage"]["href"].split(",", 1)[1]))
    assert texts == ["Hi Bob", "See you"]
    for phone in (alice, bob):
        assert phone.call("DELETE", phone.base).status_code == 204
