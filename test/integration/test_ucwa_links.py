"""Every link a signed-in client can reach leads somewhere: a crawl that follows each
`_links` href (and those of embedded resources) of every resource reachable with GET,
breadth first, de-duplicated and bounded, from the applications of alice (available, in
a conversation with a message, with a contact and a presence subscription), of bob (the
other side) and of a lurker (no makeMeAvailable, which may start a conversation). A link
that answers 404 or 5xx fails the test, listed with every other one; a link served only
for other methods (POST-only actions) must answer GET with 405 and an Allow header that
lists them. Only the event channel (it parks) and links that delete things are not
followed. Also: 405 and Allow for every resource and method (docs/extensions.md,
"Methods")."""
from collections import deque
from urllib.parse import urlsplit

import pytest

import mobility

from ucwa_client import start_fe, state_with_tags, stop_fe
from test_ucwa_messaging import connect, signed_in, step

# not followed: the event channel parks, and these end or delete something (a GET of
# them would only be a 405, but a crawler has no business near them)
SKIP_RELS = {"events", "stopMessaging", "cancel", "removeContactFromAllGroups",
             "stopSubscriptionToContactsAndGroups"}
MAX_URLS = 400


@pytest.fixture(scope="module")
def st(workdir, state):
    st = state_with_tags(workdir, state, "state-links", {})
    mobility.make_directory(st, mobility.Topology())   # contact lists are written
    return st


@pytest.fixture(scope="module")
def fe(workdir, st):
    f = start_fe(workdir, st, "ucwa-links", servers=2)
    yield f
    stop_fe(f)


def links_of(doc):
    """(rel, href) of every link of a resource and of its embedded resources."""
    out = []

    def walk(res):
        if not isinstance(res, dict):
            return
        for rel, v in (res.get("_links") or {}).items():
            for link in (v if isinstance(v, list) else [v]):
                if isinstance(link, dict) and isinstance(link.get("href"), str):
                    out.append((rel, link["href"]))
        for v in (res.get("_embedded") or {}).values():
            for r in (v if isinstance(v, list) else [v]):
                walk(r)
    walk(doc)
    return out


def crawl(app):
    """{url: problem} of every link reachable from the application's document."""
    seen, problems = set(), {}
    queue = deque([("self", app.self)])
    while queue and len(seen) < MAX_URLS:
        rel, href = queue.popleft()
        if rel in SKIP_RELS or href.startswith("data:") or href in seen:
            continue
        if urlsplit(href).netloc and not href.startswith(app.user.origin):
            continue   # not this server's
        seen.add(href)
        r = app.user.request("GET", href, timeout=10)
        if r.status_code == 404 or r.status_code >= 500:
            problems[href] = f"{rel}: {r.status_code} {r.text[:120]}"
        elif r.status_code == 405:
            allow = r.headers.get("Allow", "")
            if not allow or "GET" in [m.strip() for m in allow.split(",")]:
                problems[href] = f"{rel}: 405 with Allow {allow!r}"
        elif r.status_code == 400 and "ParameterValidationFailure" in r.text:
            pass   # a link that takes parameters (search's query)
        elif r.status_code != 200:
            problems[href] = f"{rel}: {r.status_code} {r.text[:120]}"
        elif r.headers.get("Content-Type", "").startswith("application/json"):
            queue.extend(links_of(r.json()))
    assert len(seen) < MAX_URLS, "the crawl did not end: a link grows without bound?"
    return problems, seen


@pytest.fixture(scope="module")
def apps(fe):
    alice, bob = fe.user("alice@contoso.test"), fe.user("bob@contoso.test")
    a_app, b_app = signed_in(alice), signed_in(bob)
    r = a_app.post("/people/groupMemberships", {"contactUri": "sip:bob@contoso.test"})
    assert r.status_code == 201, r.text
    r = a_app.post("/people/presenceSubscriptions", {"duration": 30,
                                                     "uris": ["sip:bob@contoso.test"]})
    assert r.status_code == 201, r.text
    a_conv, _ = connect(a_app, b_app, _links={"message": {
        "href": "data:text/plain;charset=utf-8,Hello"}})
    r = a_app.post(a_conv[len(a_app.self):] + "/messaging/messages", data="again",
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    step(b_app)
    # a lurker in a conversation of its own
    lurker = alice.create()
    connect(lurker, signed_in(bob))
    yield {"alice": a_app, "bob": b_app, "lurker": lurker}
    for u in (alice, bob):
        for a in u.created:
            a.delete()


@pytest.mark.parametrize("who", ["alice", "bob", "lurker"])
def test_every_link_leads_somewhere(apps, who):
    problems, seen = crawl(apps[who])
    assert not problems, f"{len(problems)} of {len(seen)} links fail:\n" + "\n".join(
        f"  {href}  ({why})" for href, why in sorted(problems.items()))
    # the crawl reached the conversation's depth
    assert any(h.endswith("/messaging/typingParticipants") for h in seen), sorted(seen)


def test_lurker_links_are_served_in_lurker_mode(apps):
    """Lurker mode advertises no link that asks for makeMeAvailable first."""
    lurker = apps["lurker"]
    doc = lurker.get().json()
    me = doc["_embedded"]["me"]["_links"]
    assert "makeMeAvailable" in me and "presence" not in me
    for rel, href in links_of(doc):
        if rel in SKIP_RELS:
            continue
        r = lurker.user.request("GET", href)
        assert r.status_code != 409, (rel, href, r.text)


@pytest.mark.parametrize("method,sub,allow", [
    ("GET", "/me/reportMyActivity", "POST"),
    ("GET", "/reportMyActivity", "POST"),
    ("GET", "/me/makeMeAvailable", "POST"),
    ("PUT", "/me", "GET"),
    ("DELETE", "/me/presence", "GET, POST"),
    ("PUT", "/me/note", "GET, POST"),
    ("POST", "/me/phones", "GET"),
    ("DELETE", "/me/callForwardingSettings", "GET, PUT"),
    ("POST", "", "GET, DELETE"),
    ("PUT", "/", "GET, DELETE"),
    ("GET", "/batch", "POST"),
    ("POST", "/policies", "GET"),
    ("DELETE", "/communication", "GET, PUT"),
    ("GET", "/communication/messagingInvitations", "POST"),
    ("DELETE", "/communication/conversations", "GET"),
    ("POST", "/people", "GET"),
    ("DELETE", "/people/contacts", "GET"),
    ("PUT", "/people/groups", "GET, POST"),
    ("POST", "/people/search", "GET"),
    ("POST", "/people/bob@contoso.test", "GET"),
    ("PUT", "/people/bob@contoso.test/presence", "GET"),
    ("POST", "/people/privacyRelationships", "GET"),
    ("DELETE", "/people/contactsAndGroupsSubscription", "GET"),
    ("GET", "/people/contactsAndGroupsSubscription/startOrRefreshSubscriptionToContactsAndGroups",
     "POST"),
    ("PUT", "/people/presenceSubscriptions", "GET, POST"),
    ("POST", "/people/presenceSubscriptionMemberships/S1/bob@contoso.test", "GET, DELETE"),
    ("PUT", "/people/presenceSubscriptionMemberships/S1,bob@contoso.test", "GET, DELETE"),
    ("POST", "/onlineMeetings", "GET"),
    ("DELETE", "/photos/bob@contoso.test", "GET"),
    ("GET", "/reportBackground", "POST"),
    ("DELETE", "/pushRegistrations", "GET, POST"),
    ("OPTIONS", "/me", "GET"),
])
def test_a_method_a_resource_does_not_answer_is_405_with_allow(apps, method, sub, allow):
    app = apps["alice"]
    r = app.user.request(method, app.href(sub), json={} if method in ("PUT", "POST") else None)
    assert r.status_code == 405, (r.status_code, r.text)
    assert r.headers.get("Allow") == allow
    assert r.json()["code"] == "MethodNotAllowed"


def test_405_on_conversation_resources_and_the_collection(apps):
    app = apps["alice"]
    convs = app.get("/communication/conversations").json()["_links"]["conversation"]
    conv = convs[0]["href"]
    for method, href, allow in [("PUT", conv, "GET, DELETE"),
                                ("GET", conv + "/messaging/messages", "POST"),
                                ("GET", conv + "/messaging/typing", "POST"),
                                ("POST", conv + "/participants", "GET"),
                                ("GET", app.user.applications, "POST")]:
        r = app.user.request(method, href, json={} if method in ("PUT", "POST") else None)
        assert (r.status_code, r.headers.get("Allow")) == (405, allow), (method, href, r.text)


def test_the_method_is_checked_before_the_application(fe):
    """Every resource answers a method it does not serve with 405, whether the application
    exists or not (one route table decides before any handler runs)."""
    gone = fe.user("alice@contoso.test").create()
    assert gone.delete().status_code == 204
    for method, sub, allow in [("PUT", "/me", "GET"), ("PUT", "/pushRegistrations", "GET, POST"),
                               ("POST", "/pushRegistrations/r1", "GET, PUT, DELETE"),
                               ("DELETE", "/people/groups", "GET, POST"),
                               ("POST", "/people/bob@contoso.test/presence", "GET"),
                               ("PUT", "/photos/bob@contoso.test", "GET")]:
        body = {} if method in ("PUT", "POST") else None
        r = gone.user.request(method, gone.href(sub), json=body)
        assert (r.status_code, r.headers.get("Allow")) == (405, allow), (method, sub, r.text)
    assert gone.get("/me").json()["subcode"] == "ApplicationNotFound"


def test_trailing_slashes_are_ignored(apps):
    """As IIS: every resource of an application answers with or without a trailing slash."""
    app = apps["alice"]
    for sub in ("", "/me", "/policies", "/communication", "/people/contacts", "/people/groups"):
        plain, slashed = app.get(sub), app.get(sub + "/")
        assert (plain.status_code, slashed.status_code) == (200, 200), (sub, slashed.text)
        assert plain.json().get("_links") == slashed.json().get("_links"), sub


def test_what_does_not_exist_is_404(apps):
    app = apps["alice"]
    for sub in ("/nothing", "/me/nothing", "/people/nothing/else/here", "/communication/x",
                "/onlineMeetings/myOnlineMeetings", "/communication/onlineMeetingInvitations"):
        for method in ("GET", "POST"):
            r = app.user.request(method, app.href(sub), json={} if method == "POST" else None)
            assert r.status_code == 404, (method, sub, r.status_code)
            assert "Allow" not in r.headers


def test_contacts_and_groups_subscription_and_privacy_relationships(apps):
    app = apps["alice"]
    sub = app.get("/people/contactsAndGroupsSubscription").json()
    assert sub["rel"] == "myContactsAndGroupsSubscription" and sub["state"] == "Connected"
    refresh = sub["_links"]["startOrRefreshSubscriptionToContactsAndGroups"]["href"]
    assert app.user.request("POST", refresh, json={"duration": 30}).status_code == 204
    assert app.user.request("POST", refresh + "?duration=10").status_code == 204
    rel = app.get("/people/privacyRelationships").json()
    assert rel == {"rel": "myPrivacyRelationships",
                   "_links": {"self": {"href": app.href("/people/privacyRelationships")}},
                   "_embedded": {"myPrivacyRelationship": []}}
    r = app.get("/people/privacyRelationships", headers={"Accept": "application/xml"})
    assert r.status_code == 200 and b"myPrivacyRelationships" in r.content
