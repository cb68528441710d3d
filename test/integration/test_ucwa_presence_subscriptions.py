"""Presence subscriptions (people/presenceSubscriptions, presenceSubscriptionMemberships,
subscribedContacts): create, extend, delete, memberships, validation, and the
contactPresence / contactNote / contactLocation events a watched user's changes send to
every subscribing application, across child processes.

Presence events are medium priority: held for the medium window (5 s) unless the poll
times out first, so the polls here use timeout=1 (UcwaEventTimeoutRange 1 1800) and
collect events over several polls. Not covered here: a subscription's own expiry and the
"about to expire" update (durations are at least 10 minutes; test_ucwa_subs.c covers
them with a clock of its own)."""
import json
import re
import time

import pytest

from ucwa_client import (FAST, SPREAD, Conn, Fe, assert_error, events_of, in_thread,
                         other_child, pid_of, start_fe, stop_fe, wait_log, wait_parked)

SUBS = "/people/presenceSubscriptions"
MEMBERS = "/people/presenceSubscriptionMemberships"
CONTACTS = "/people/subscribedContacts"
XML_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
XML_IN = "application/vnd.microsoft.com.ucwa+xml"


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-subs", extra=f"{FAST}\n{SPREAD}", servers=4)
    yield f
    assert f.status()["consistent"], f.status()
    stop_fe(f)


def collect(app, want, timeout=20, params="timeout=1"):
    """Polls until every event in want was seen; want holds tuples (type, link rel, link
    href) or (type, link rel, link href, in rel, in href). Returns every event polled, as
    events_of gives them."""
    seen = []
    deadline = time.time() + timeout
    while True:
        seen += events_of(app.poll(params))
        missing = [w for w in want if not any(matches(e, w) for e in seen)]
        if not missing:
            return seen
        assert time.time() < deadline, f"never got {missing}; got {[brief(e) for e in seen]}"


def matches(e, w):
    sender, typ, rel, ev = e
    got = (typ, rel, ev["link"]["href"])
    if len(w) == 5:
        got += (ev.get("in", {}).get("rel"), ev.get("in", {}).get("href"))
    return sender == "people" and got == tuple(w)


def brief(e):
    sender, typ, rel, ev = e
    return (sender, typ, rel, ev["link"]["href"], ev.get("in", {}).get("href"))


def collect_n(app, n, timeout=20):
    """The people events of polls until there are n of them (and one more empty poll)."""
    got = []
    deadline = time.time() + timeout
    while len(got) < n:
        assert time.time() < deadline, got
        got += people_events(events_of(app.poll("timeout=1")))
    got += people_events(events_of(app.poll("timeout=1")))
    return got


def drain(app):
    """Polls until a poll brings nothing."""
    while events_of(app.poll("timeout=1")):
        pass


def people_events(events):
    return [brief(e) for e in events if e[0] == "people"]


def subscribe(app, uris, duration=11, expect=201):
    r = app.post(SUBS, {"duration": duration, "uris": uris})
    assert r.status_code == expect, r.text
    return r.json()


def sub_doc(app, sid):
    base = app.self
    return {"id": sid,
            "_links": {"self": {"href": f"{base}{SUBS}/{sid}"},
                       "memberships": {"href": f"{base}{MEMBERS}?presenceSubscriptionId={sid}"},
                       "addToPresenceSubscription":
                           {"href": f"{base}{MEMBERS}?presenceSubscriptionId={sid}"}},
            "rel": "presenceSubscription"}


def contact(app, sip):
    return f"{app.self}/people/{sip}"


@pytest.fixture
def alice(fe):
    u = fe.user()
    yield u
    for a in u.created:
        a.delete()


@pytest.fixture
def bob(fe):
    u = fe.user("bob@contoso.test")
    yield u
    # presence, note and location outlive applications: reset them
    app = u.create()
    app.available()
    for sub in ("/me/presence", "/me/note", "/me/location"):
        assert app.post(sub, {}).status_code == 204
    for a in u.created:
        a.delete()


def test_subscribe_get_and_delete(alice):
    app = alice.create()
    drain(app)
    r = app.post(SUBS, {"duration": 11, "Uris": ["sip:Bob@Contoso.test"]})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    sid = doc["id"]
    assert re.fullmatch(r"[0-9a-f]{8}", sid), sid
    assert doc == sub_doc(app, sid)
    bob = contact(app, "bob@contoso.test")
    sc = app.self + CONTACTS
    subhref = f"{app.self}{SUBS}/{sid}"
    events = collect(app, [("added", "contact", bob, "subscribedContacts", sc),
                           ("added", "presenceSubscription", subhref),
                           ("updated", "contactPresence", bob + "/presence", "contact", bob)])
    # in the order of the capture, once each, from the people sender
    assert people_events(events) == [
        ("people", "added", "contact", bob, sc),
        ("people", "added", "presenceSubscription", subhref, None),
        ("people", "updated", "contactPresence", bob + "/presence", bob)]
    pkg = app.last
    assert all(s["href"] == app.self + "/people" for s in pkg["sender"] if s["rel"] == "people")

    # the resources
    assert app.get(f"{SUBS}/{sid}").json() == doc
    lst = app.get(SUBS).json()
    assert lst["rel"] == "presenceSubscriptions"
    assert lst["_links"]["self"]["href"] == app.self + SUBS
    assert lst["_embedded"]["presenceSubscription"] == [doc]
    ms = app.get(f"{MEMBERS}?presenceSubscriptionId={sid}").json()
    assert ms["rel"] == "presenceSubscriptionMemberships"
    assert ms["_links"]["self"]["href"] == f"{app.self}{MEMBERS}?presenceSubscriptionId={sid}"
    assert ms["_embedded"]["presenceSubscriptionMembership"] == [{
        "_links": {"self": {"href": f"{app.self}{MEMBERS}/{sid}/bob@contoso.test"},
                   "contact": {"href": bob},
                   "presenceSubscription": {"href": subhref}},
        "rel": "presenceSubscriptionMembership"}]
    assert app.get(MEMBERS).json()["_embedded"] == ms["_embedded"]
    assert app.get(CONTACTS).json() == {"_links": {"self": {"href": sc}, "contact": [{"href": bob}]},
                                        "rel": "subscribedContacts"}
    # the same in XML
    r = app.get(f"{SUBS}/{sid}", headers={"Accept": XML_IN})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(XML_IN)
    assert f'<resource rel="presenceSubscription" href="{subhref}"' in r.text, r.text
    assert f'<property name="id">{sid}</property>' in r.text, r.text

    # delete: 204, then contact deleted and presenceSubscription deleted
    r = alice.request("DELETE", subhref)
    assert r.status_code == 204 and r.content == b""
    events = collect(app, [("deleted", "contact", bob, "subscribedContacts", sc),
                           ("deleted", "presenceSubscription", subhref)])
    assert people_events(events) == [("people", "deleted", "contact", bob, sc),
                                     ("people", "deleted", "presenceSubscription", subhref, None)]
    assert_error(app.get(f"{SUBS}/{sid}"), 404, "NotFound")
    assert_error(app.post(f"{SUBS}/{sid}?duration=11"), 404, "NotFound")
    assert_error(alice.request("DELETE", subhref), 404, "NotFound")
    assert app.get(SUBS).json()["_embedded"]["presenceSubscription"] == []
    assert app.get(CONTACTS).json()["_links"]["contact"] == []


def test_another_users_application_sees_nothing(fe, alice, bob):
    app = alice.create()
    sid = subscribe(app, ["sip:carol@contoso.test"])["id"]
    other = bob.create()
    # bob's application does not have alice's subscription, even by its id
    assert_error(other.get(f"{SUBS}/{sid}"), 404, "NotFound")
    assert_error(other.post(f"{SUBS}/{sid}", {"duration": 10}), 404, "NotFound")
    assert_error(bob.request("DELETE", f"{other.self}{SUBS}/{sid}"), 404, "NotFound")
    assert other.get(SUBS).json()["_embedded"]["presenceSubscription"] == []
    # and alice's URLs with bob's token are another user's application
    assert_error(bob.request("GET", f"{app.self}{SUBS}/{sid}"), 404, "NotFound",
                 "ApplicationNotFound")


def test_extend(alice):
    app = alice.create()
    sid = subscribe(app, ["sip:bob@contoso.test"], duration=10)["id"]
    href = f"{SUBS}/{sid}"
    # duration in the query (as the capture) or in the body: 200 with the same body
    for kw in ({"params": {"duration": "11"}}, {"json": {"duration": 30}},
               {"json": {"Duration": "10"}}):
        r = alice.request("POST", app.href(href), **kw)
        assert r.status_code == 200, r.text
        assert r.json() == sub_doc(app, sid)
    for bad in (9, 31, 0, -10, "abc", "", 10.5, None, [10]):
        assert_error(app.post(href, {"duration": bad}), 400, "BadRequest",
                     "ParameterValidationFailure")
    assert_error(app.post(href, {}), 400, "BadRequest", "ParameterValidationFailure")
    assert_error(app.post(f"{SUBS}/0000abcd", {"duration": 10}), 404, "NotFound")
    assert_error(alice.request("PUT", app.href(href), json={"duration": 10}), 405,
                 "MethodNotAllowed")


def test_validation(alice):
    app = alice.create()
    ok = ["sip:bob@contoso.test"]
    for body in ({"uris": ok}, {"duration": 9, "uris": ok}, {"duration": 31, "uris": ok},
                 {"duration": "ten", "uris": ok}, {"duration": True, "uris": ok}):
        assert_error(app.post(SUBS, body), 400, "BadRequest", "ParameterValidationFailure")
    for uris in (None, 5, [5], [None], ["bob@contoso.test"], ["sip:"], ["sip:bob"],
                 ["sip:@contoso.test"], ["sip:bob@"], ["sip:a@b@contoso.test"],
                 ["sip:bo b@contoso.test"], ["sip:bob/x@contoso.test"],
                 ["sip:bob@contoso.test;user=phone"], ["sip:bob@contoso.test?x"],
                 ["tel:+15551234"], ["sip:" + "x" * 250 + "@contoso.test"],
                 ["sip:bob@contoso.test", "nope"]):
        body = {"duration": 10} if uris is None else {"duration": 10, "uris": uris}
        assert_error(app.post(SUBS, body), 400, "BadRequest", "ParameterValidationFailure")
    # too many contacts in one subscription: 403 LimitExceeded (repeats count once)
    many = [f"sip:user{i}@contoso.test" for i in range(101)]
    assert_error(app.post(SUBS, {"duration": 10, "uris": many}), 403, "Forbidden",
                 "LimitExceeded")
    assert subscribe(app, many[:100] + many[:100])["rel"] == "presenceSubscription"
    # names in any case, the duration as a string, one address as a string, XML input
    subscribe(app, "sip:bob@contoso.test", duration="15")
    r = app.post(SUBS, {"DURATION": 30, "URIS": ["SIP:BOB@CONTOSO.TEST"]})
    assert r.status_code == 201, r.text
    # the fourth is the last this application may have (the table's share: 4 each)
    xml = (f'<input xmlns="{XML_NS}"><property name="duration">12</property>'
           f'<propertyList name="uris"><item>sip:carol@contoso.test</item></propertyList></input>')
    r = app.post(SUBS, data=xml, headers={"Content-Type": XML_IN})
    assert r.status_code == 201, r.text
    assert app.get(f"{MEMBERS}?presenceSubscriptionId={r.json()['id']}").json()[
        "_embedded"]["presenceSubscriptionMembership"][0]["_links"]["contact"]["href"] == \
        contact(app, "carol@contoso.test")
    assert_error(app.post(SUBS, {"duration": 10, "uris": ok}), 403, "Forbidden", "LimitExceeded")
    assert len(app.get(SUBS).json()["_embedded"]["presenceSubscription"]) == 4
    # another application of the same user has its own share
    assert subscribe(alice.create(), ok)["rel"] == "presenceSubscription"
    assert_error(alice.request("PUT", app.href(SUBS), json={}), 405, "MethodNotAllowed")
    assert_error(alice.request("DELETE", app.href(CONTACTS)), 405, "MethodNotAllowed")


def test_memberships(alice):
    app = alice.create()
    drain(app)
    sid = subscribe(app, ["sip:bob@contoso.test"])["id"]
    sid2 = subscribe(app, ["sip:bob@contoso.test"])["id"]
    bob, carol = contact(app, "bob@contoso.test"), contact(app, "carol@contoso.test")
    sc = app.self + CONTACTS
    events = collect(app, [("added", "presenceSubscription", f"{app.self}{SUBS}/{sid2}")])
    # bob was already a subscribed contact when the second subscription came
    assert [e for e in people_events(events) if e[2] == "contact"] == [
        ("people", "added", "contact", bob, sc)]
    assert app.get(CONTACTS).json()["_links"]["contact"] == [{"href": bob}]

    # add carol to the first: 201 with the subscription's memberships
    add = f"{MEMBERS}?presenceSubscriptionId={sid}"
    r = app.post(add, {"uris": ["sip:carol@contoso.test"]})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["_links"]["self"]["href"] == app.self + add
    hrefs = [m["_links"]["self"]["href"] for m in doc["_embedded"]["presenceSubscriptionMembership"]]
    assert hrefs == [f"{app.self}{MEMBERS}/{sid}/bob@contoso.test",
                     f"{app.self}{MEMBERS}/{sid}/carol@contoso.test"]
    events = collect(app, [("added", "contact", carol, "subscribedContacts", sc),
                           ("updated", "contactPresence", carol + "/presence", "contact", carol)])
    assert people_events(events) == [
        ("people", "added", "contact", carol, sc),
        ("people", "updated", "contactPresence", carol + "/presence", carol)]
    # again (uri, or contactUris as Microsoft's reference names it): nothing new, 200
    for body in ({"uri": "sip:Carol@contoso.test"}, {"contactUris": ["sip:carol@contoso.test"]}):
        r = app.post(add, body)
        assert r.status_code == 200 and r.json() == doc
    assert people_events(events_of(app.poll("timeout=1"))) == []
    assert app.get(CONTACTS).json()["_links"]["contact"] == [{"href": bob}, {"href": carol}]
    # every membership of the application, without presenceSubscriptionId
    everything = app.get(MEMBERS).json()["_embedded"]["presenceSubscriptionMembership"]
    assert len(everything) == 3

    # one membership: GET, in either form; DELETE
    m = app.get(f"{MEMBERS}/{sid}/carol@contoso.test").json()
    assert m == doc["_embedded"]["presenceSubscriptionMembership"][1]
    assert app.get(f"{MEMBERS}/{sid},carol@contoso.test").json() == m
    r = alice.request("DELETE", m["_links"]["self"]["href"])
    assert r.status_code == 204
    events = collect(app, [("deleted", "contact", carol, "subscribedContacts", sc)])
    assert people_events(events) == [("people", "deleted", "contact", carol, sc)]
    assert_error(app.get(f"{MEMBERS}/{sid}/carol@contoso.test"), 404, "NotFound")
    # bob stays a subscribed contact while another subscription has him
    assert alice.request("DELETE", app.href(f"{MEMBERS}/{sid}/bob@contoso.test")).status_code == 204
    assert people_events(events_of(app.poll("timeout=1"))) == []
    assert app.get(CONTACTS).json()["_links"]["contact"] == [{"href": bob}]
    assert app.get(f"{MEMBERS}?presenceSubscriptionId={sid}").json()["_embedded"][
        "presenceSubscriptionMembership"] == []
    assert alice.request("DELETE", app.href(f"{SUBS}/{sid2}")).status_code == 204
    events = collect(app, [("deleted", "contact", bob, "subscribedContacts", sc)])
    assert app.get(CONTACTS).json()["_links"]["contact"] == []

    # errors
    assert_error(app.post(MEMBERS, {"uris": ["sip:bob@contoso.test"]}), 400, "BadRequest",
                 "ParameterValidationFailure")
    assert_error(app.post(add, {}), 400, "BadRequest", "ParameterValidationFailure")
    assert_error(app.post(add, {"uris": ["bob"]}), 400, "BadRequest", "ParameterValidationFailure")
    assert_error(app.post(f"{MEMBERS}?presenceSubscriptionId=0000abcd",
                          {"uris": ["sip:bob@contoso.test"]}), 404, "NotFound")
    assert_error(app.get(f"{MEMBERS}?presenceSubscriptionId={sid2}"), 404, "NotFound")
    assert_error(app.get(f"{MEMBERS}/{sid}/nobody@contoso.test"), 404, "NotFound")
    assert_error(app.get(f"{MEMBERS}/{sid}"), 404, "NotFound")
    many = [f"sip:user{i}@contoso.test" for i in range(101)]
    assert_error(app.post(add, {"uris": many}), 403, "Forbidden", "LimitExceeded")
    assert app.post(add, {"uris": many[:100]}).status_code == 201
    assert_error(app.post(add, {"uris": many[100:]}), 403, "Forbidden", "LimitExceeded")



def test_watched_users_changes_reach_every_subscriber_across_processes(fe, alice, bob):
    watcher = alice.create()
    tablet = alice.create()
    drain(watcher)
    drain(tablet)
    bob_url = contact(watcher, "bob@contoso.test")
    # the watcher twice (one event each time all the same), the tablet once
    subscribe(watcher, ["sip:bob@contoso.test"])
    subscribe(watcher, ["sip:carol@contoso.test", "sip:bob@contoso.test"])
    subscribe(tablet, ["sip:bob@contoso.test"])
    collect(watcher, [("updated", "contactPresence", bob_url + "/presence")])
    drain(watcher)
    drain(tablet)

    b = bob.create()

    # bob's change, served by one child, reaches the watcher's poll parked in another
    def change(path, body, marker, want):
        c1 = Conn(fe, alice)
        pid1 = pid_of(fe, c1, watcher)
        c2, pid2 = other_child(fe, bob, b, pid1)
        poll = in_thread(c1.request, "GET", watcher.events + f"&timeout=30&medium=5&{marker}=1")
        wait_parked(fe, 1)
        t0 = time.monotonic()
        status, _, _ = c2.request("POST", b.self + path + f"?{marker}=2", body=body)
        assert status == 204
        (status, _, raw), _ = poll.result(15)
        assert status == 200
        pkg = json.loads(raw)
        watcher.events = pkg["_links"]["next"]["href"]
        got = [brief(e) for e in events_of(pkg) if e[0] == "people"]
        assert got == [("people", "updated", want, bob_url + "/" + want[7:].lower(), bob_url)], got
        # (the access log is written after the response: wait for its line)
        assert wait_log(fe, f"&{marker}=1 ") == [pid1] and wait_log(fe, f"?{marker}=2 ") == [pid2]
        for c in (c1, c2):
            c.close()
        return poll.finished_at() - t0

    # makeMeAvailable: Offline -> Online
    elapsed = change("/me/makeMeAvailable", {"SupportedModalities": ["Messaging"]}, "m1",
                     "contactPresence")
    assert elapsed < 8, elapsed
    # medium priority: held for the medium window (5 s) from the moment it is posted
    assert change("/me/presence", {"availability": "Busy"}, "m2", "contactPresence") >= 4.9
    change("/me/note", {"message": "In a meeting"}, "m3", "contactNote")
    change("/me/location", {"location": "Building 7"}, "m4", "contactLocation")
    change("/me/presence", {"availability": "Away"}, "m5", "contactPresence")
    # the tablet got each change too, once
    tb = contact(tablet, "bob@contoso.test")
    presence = ("people", "updated", "contactPresence", tb + "/presence", tb)
    assert collect_n(tablet, 5) == [
        presence, presence, ("people", "updated", "contactNote", tb + "/note", tb),
        ("people", "updated", "contactLocation", tb + "/location", tb), presence]
    # after the subscriptions end, bob's changes reach nobody
    for a in (watcher, tablet):
        for s in a.get(SUBS).json()["_embedded"]["presenceSubscription"]:
            assert alice.request("DELETE", s["_links"]["self"]["href"]).status_code == 204
        drain(a)
    assert b.post("/me/presence", {"availability": "DoNotDisturb"}).status_code == 204
    assert b.post("/me/note", {"message": "later"}).status_code == 204
    time.sleep(1.5)   # a sweep
    for a in (watcher, tablet):
        assert people_events(events_of(a.poll("timeout=1"))) == []
    assert fe.status()["consistent"]


def test_an_unknown_address_looks_like_an_offline_user(alice):
    """carol is in the directory (homed on pool02, never signed in here); nobody is not:
    their subscriptions answer, list and announce the same way."""
    runs = {}
    for who in ("carol", "nobody"):
        app = alice.create()
        drain(app)
        sip = f"{who}@contoso.test"
        r = app.post(SUBS, {"duration": 10, "uris": [f"sip:{sip}"]})
        sid = r.json()["id"]
        url = contact(app, sip)
        events = collect(app, [("updated", "contactPresence", url + "/presence")])
        add = f"{MEMBERS}?presenceSubscriptionId={sid}"
        resources = [app.get(f"{SUBS}/{sid}"), app.get(add), app.get(CONTACTS),
                     app.post(f"{SUBS}/{sid}", {"duration": 10}),
                     app.post(add, {"uris": [f"sip:{sip}"]}),
                     app.get(f"{MEMBERS}/{sid}/{sip}")]

        def same(text):
            return text.replace(sid, "SID").replace(app.self, "APP").replace(who, "WHO")
        runs[who] = ([r.status_code, sorted(r.headers)] + [(x.status_code, same(x.text))
                                                            for x in resources],
                     [same(str(brief(e))) for e in events])
    assert runs["carol"] == runs["nobody"]


def test_applications_take_their_subscriptions_with_them(state, variant):
    """Two applications fill the table (4 subscriptions each, UcwaMaxApplications 2): a
    deleted application's and an expired one's make room for the next; the watched user,
    whose user slot the table takes back for others, is found again when he signs in."""
    v = variant("ucwa-subs-small", extra="\n".join([
        FAST, "UcwaMaxApplications 2", "UcwaApplicationIdleTimeout 10"]))
    fe = Fe(v, state)
    alice = fe.user()
    first, second = alice.create(), alice.create()
    for a in (first, second):
        for _ in range(4):
            subscribe(a, ["sip:dave@contoso.test"])
        assert_error(a.post(SUBS, {"duration": 10, "uris": ["sip:dave@contoso.test"]}), 403,
                     "Forbidden", "LimitExceeded")
    assert first.delete().status_code == 204
    third = alice.create()
    for _ in range(4):
        subscribe(third, ["sip:dave@contoso.test"])
    assert fe.status()["consistent"]
    # second is never polled: it expires after 10 s without an event request, and its
    # subscriptions go with it
    deadline = time.time() + 20
    while second.get().status_code != 410:
        third.poll("timeout=1")
        assert time.time() < deadline, "second never expired"
    assert fe.status()["consistent"]
    assert third.delete().status_code == 204

    # the user table holds two users: alice, and bob, whom a subscription put there; a
    # subscription to erin takes bob's slot back (he has no application); when bob signs
    # in, the watcher still hears of him
    watcher = alice.create()
    drain(watcher)
    subscribe(watcher, ["sip:bob@contoso.test"])
    subscribe(watcher, ["sip:erin@contoso.test"])
    drain(watcher)
    bob = fe.user("bob@contoso.test")
    d = bob.create()
    d.available()
    url = contact(watcher, "bob@contoso.test")
    collect(watcher, [("updated", "contactPresence", url + "/presence", "contact", url)])
    drain(watcher)
    assert d.post("/me/presence", {"availability": "Busy"}).status_code == 204
    assert d.post("/me/note", {"message": "hello"}).status_code == 204
    collect(watcher, [("updated", "contactPresence", url + "/presence", "contact", url),
                      ("updated", "contactNote", url + "/note", "contact", url)])
    assert fe.status()["consistent"]
    for a in (watcher, d):
        assert a.delete().status_code == 204
