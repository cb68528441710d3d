"""people: the contact list (groups and memberships, kept in SQL) and its events, the
contact resource and its presence, note, location and modalities, directory search, and
photos. One Front End for the module, on a state of its own (a new database, so the
schema is created from nothing), whose directory has a few more people: a hidden one
(Dave, who can sign in but whom the address book does not show) and entries whose names
hold the characters search must match literally."""
import json
import re
import sqlite3
import uuid

import pytest
import requests

import conftest
import mobility
from ucwa_client import (FAST, JSON, NS, XML, assert_error, clean_log, events_of, start_fe,
                         stop_fe)

BOB = "bob@contoso.test"


def add_directory_people(st):
    """Dave (hidden, can sign in), and people that exist only in the directory."""
    con = sqlite3.connect(st / "directory.db")
    con.execute("INSERT INTO users SELECT 'dave@contoso.test', password, home_pool, "
                "'Dave Davis', NULL FROM users WHERE sip_uri = 'alice@contoso.test'")
    con.execute("INSERT INTO user_details (sip_uri, title, email, hidden) "
                "VALUES ('dave@contoso.test', 'Secret Agent', 'dave.davis@contoso.test', 1)")
    for uri, name in (("o'brien@contoso.test", "Pat O'Brien"),
                      ("helpdesk@contoso.test", "Help_Desk 100% Support"),
                      ("backslash@contoso.test", "Back\\Slash")):
        con.execute("INSERT INTO users VALUES (?, 'x', 'pool01.contoso.test', ?, NULL)",
                    (uri, name))
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def fe(workdir, topo):
    st = mobility.make_state(workdir / "people-state", topo)
    add_directory_people(st)
    f = start_fe(workdir, st, "ucwa-people", servers=3, extra=FAST)
    yield f
    stop_fe(f)


@pytest.fixture(autouse=True)
def logs(fe, allowed_log):
    yield from clean_log(fe, allowed_log)


@pytest.fixture
def alice(fe):
    u = fe.user()
    yield u
    app = u.create()
    # leave alice's contact list empty for the next test
    for g in app.get("/people/groups").json()["_embedded"]["group"]:
        app.user.request("DELETE", g["_links"]["self"]["href"])
    for c in app.get("/people/contacts?expand=false").json()["_links"]["contact"]:
        app.post("/people/groupMemberships/removeContactFromAllGroups",
                 {"contactUri": "sip:" + c["href"].rsplit("/", 1)[1]})
    for a in u.created:
        a.delete()


@pytest.fixture
def bob(fe):
    u = fe.user(BOB)
    yield u
    app = u.create()
    app.available()
    for sub in ("/me/presence", "/me/note", "/me/location"):
        app.post(sub, {})
    for a in u.created:
        a.delete()


def people_events(app, n=None):
    """The people events of the next package: [(type, link rel, link href, in rel)]."""
    pkg = app.poll("timeout=1")
    out = [(e[1], e[2], e[3]["link"]["href"], e[3].get("in", {}).get("rel"))
           for e in events_of(pkg) if e[0] == "people"]
    if n is not None:
        assert len(out) == n, out
    return out


def drain(app):
    app.poll("timeout=1")


def new_group(app, name):
    r = app.post("/people/groups", {"displayName": name})
    assert r.status_code == 204, r.text
    return r.headers["Location"].rsplit("/", 1)[1]


# --- the contact list ----------------------------------------------------------------------

def test_a_new_contact_list(alice):
    app = alice.create()
    r = app.get("/people/contacts")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"_links": {"self": {"href": app.self + "/people/contacts"}},
                        "_embedded": {"contact": []}, "rel": "myContacts"}
    groups = app.get("/people/groups").json()
    assert groups["rel"] == "myGroups"
    assert list(groups["_embedded"]) == ["pinnedGroup", "defaultGroup", "group",
                                         "distributionGroup"]
    pinned = groups["_embedded"]["pinnedGroup"]
    assert pinned["id"] == "pinned" and pinned["name"] == "Pinned Contacts"
    assert pinned["_links"] == {
        "self": {"href": app.self + "/people/groups/pinned"},
        "groupContacts": {"href": app.self + "/people/contacts?groupId=pinned"},
        "subscribeToGroupPresence": {
            "href": app.self + "/people/presenceSubscriptions?groupId=pinned"}}
    assert groups["_embedded"]["defaultGroup"]["name"] == "Other Contacts"
    assert groups["_embedded"]["group"] == [] and groups["_embedded"]["distributionGroup"] == []
    links = app.get("/people/groups?expand=false").json()
    assert "_embedded" not in links
    assert links["_links"]["defaultGroup"] == {"href": app.self + "/people/groups/default"}
    assert links["_links"]["group"] == []
    # a group resource has an ETag, and If-None-Match gets 304
    r = app.get("/people/groups/default")
    assert r.json()["rel"] == "defaultGroup" and r.headers["ETag"] == f'"{r.json()["etag"]}"'
    assert app.get("/people/groups/default",
                   headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    assert app.get("/people/groupMemberships").json()["_embedded"] == {"myGroupMembership": []}


def test_alice_adds_bob_to_a_group(alice):
    app, other = alice.create(), alice.create()
    drain(app)
    drain(other)
    team = new_group(app, "Team")
    assert len(team) == 16
    for a in (app, other):   # every application of the user hears of it, at once
        assert people_events(a, 1) == [("added", "group", a.self + "/people/groups/" + team,
                                        "myGroups")]
    r = app.post("/people/groupMemberships", {"contactUri": "sip:bob@contoso.test",
                                              "groupId": team})
    assert r.status_code == 201, r.text
    m = r.json()
    self_href = app.self + f"/people/groupMemberships/{team}/{BOB}"
    assert r.headers["Location"] == self_href
    assert m == {"_links": {"self": {"href": self_href},
                            "contact": {"href": app.self + "/people/" + BOB},
                            "group": {"href": app.self + "/people/groups/" + team}},
                 "rel": "myGroupMembership"}
    assert people_events(other, 2) == [
        ("added", "contact", other.self + "/people/" + BOB, "group"),
        ("added", "contact", other.self + "/people/" + BOB, "myContacts")]
    drain(app)

    contacts = app.get("/people/contacts").json()["_embedded"]["contact"]
    assert len(contacts) == 1
    bob = contacts[0]
    assert bob["uri"] == "sip:bob@contoso.test" and bob["name"] == "Bob Brown"
    assert bob["sourceNetwork"] == "SameEnterprise" and bob["type"] == "User"
    assert bob["title"] == "Software Engineer" and bob["department"] == "Engineering"
    assert bob["office"] == "31/1120" and bob["company"] == "Contoso"
    assert bob["emailAddresses"] == ["bob.brown@contoso.test"]
    assert bob["workPhoneNumber"] == "tel:+14255550102"
    assert bob["rel"] == "contact" and re.fullmatch(r"\d+", bob["etag"])
    base = app.self + "/people/" + BOB
    assert bob["_links"] == {
        "self": {"href": base}, "contactPhoto": {"href": app.self + "/photos/" + BOB},
        "contactPresence": {"href": base + "/presence"},
        "contactLocation": {"href": base + "/location"},
        "contactNote": {"href": base + "/note"},
        "contactSupportedModalities": {"href": base + "/supportedMedia"},
        "contactPrivacyRelationship": {"href": base + "/privacyRelationship"}}
    # the group's contacts; the other groups have none
    g = app.get(f"/people/contacts?groupId={team}").json()
    assert g["rel"] == "groupContacts"
    assert g["_links"]["self"]["href"] == app.self + f"/people/contacts?groupId={team}"
    assert [c["uri"] for c in g["_embedded"]["contact"]] == ["sip:bob@contoso.test"]
    assert app.get("/people/contacts?groupId=default").json()["_embedded"]["contact"] == []
    links = app.get("/people/contacts?expand=false").json()
    assert links["_links"]["contact"] == [{"href": base}] and "_embedded" not in links
    groups = app.get("/people/groups").json()["_embedded"]["group"]
    assert [(x["id"], x["name"], x["rel"]) for x in groups] == [(team, "Team", "group")]
    assert app.get(f"/people/groupMemberships/{team}/{BOB}").json() == m
    ms = app.get("/people/groupMemberships").json()
    assert ms["_embedded"]["myGroupMembership"] == [m]
    assert app.get(f"/people/groupMemberships?groupId={team}").json()["_embedded"] == \
        {"myGroupMembership": [m]}

    # the same again: 409; to the pinned group too (no groupId: the default group)
    assert_error(app.post("/people/groupMemberships", {"contactUri": BOB, "groupId": team}),
                 409, "Conflict", "AlreadyExists")
    r = app.post("/people/groupMemberships", {"contactUri": "SIP:Bob@Contoso.test"})
    assert r.status_code == 201 and r.json()["_links"]["defaultGroup"]["href"].endswith(
        "/people/groups/default")
    assert people_events(app, 1) == [("added", "contact", base, "defaultGroup")]
    assert len(app.get("/people/contacts").json()["_embedded"]["contact"]) == 1

    # out of one group, then of the other: the second takes bob off the list
    assert app.user.request("DELETE", self_href).status_code == 204
    assert people_events(app, 1) == [("deleted", "contact", base, "group")]
    assert_error(app.user.request("DELETE", self_href), 404, "NotFound")
    assert_error(app.get(f"/people/groupMemberships/{team}/{BOB}"), 404, "NotFound")
    r = app.user.request("DELETE", app.self + f"/people/groupMemberships/default/{BOB}")
    assert r.status_code == 204
    assert people_events(app, 2) == [("deleted", "contact", base, "defaultGroup"),
                                     ("deleted", "contact", base, "myContacts")]
    assert app.get("/people/contacts").json()["_embedded"]["contact"] == []


def test_rename_and_delete_a_group(alice):
    app = alice.create()
    drain(app)
    team = new_group(app, "Team")
    new_group(app, "Friends")
    people_events(app, 2)
    assert_error(app.post("/people/groups", {"displayName": "TEAM"}), 409, "Conflict",
                 "AlreadyExists")
    assert_error(app.post("/people/groups", {"displayName": "other contacts"}), 409,
                 "Conflict", "AlreadyExists")
    href = app.self + "/people/groups/" + team
    etag = app.get("/people/groups/" + team).headers["ETag"]
    put = lambda body, h=None: app.user.request("PUT", href, json=body, headers=h or {})
    assert_error(put({"name": "Crew"}), 428, "PreconditionRequired")
    assert_error(put({"name": "Crew"}, {"If-Match": '"123"'}), 412, "PreconditionFailed")
    assert_error(put({"name": "Friends"}, {"If-Match": etag}), 409, "Conflict", "AlreadyExists")
    assert_error(put({"name": ""}, {"If-Match": etag}), 400, "BadRequest",
                 "ParameterValidationFailure")
    r = put({"rel": "group", "id": team, "name": "Crew"}, {"If-Match": etag})
    assert r.status_code == 200 and r.json()["name"] == "Crew"
    assert r.headers["ETag"] != etag
    assert people_events(app, 1) == [("updated", "group", href, "myGroups")]
    assert app.get("/people/groups/" + team).json()["name"] == "Crew"
    # the pinned and default groups are the server's
    for g in ("pinned", "default"):
        e = app.get("/people/groups/" + g).headers["ETag"]
        assert_error(app.user.request("PUT", app.self + "/people/groups/" + g,
                                      json={"name": "Mine"}, headers={"If-Match": e}),
                     403, "Forbidden", "OperationNotSupported")
        assert_error(app.user.request("DELETE", app.self + "/people/groups/" + g), 403,
                     "Forbidden", "OperationNotSupported")
    # delete: bob (only there) leaves the list, carol (also pinned) stays
    for who, group in ((BOB, team), ("carol@contoso.test", team), ("carol@contoso.test", "pinned")):
        assert app.post("/people/groupMemberships",
                        {"contactUri": who, "groupId": group}).status_code == 201
    drain(app)
    assert app.user.request("DELETE", href).status_code == 204
    evs = people_events(app)
    assert ("deleted", "group", href, "myGroups") in evs
    assert ("deleted", "contact", app.self + "/people/" + BOB, "myContacts") in evs
    assert ("deleted", "contact", app.self + "/people/carol@contoso.test", "myContacts") not in evs
    assert_error(app.get("/people/groups/" + team), 404, "NotFound")
    assert_error(app.user.request("DELETE", href), 404, "NotFound")
    assert [c["uri"] for c in app.get("/people/contacts").json()["_embedded"]["contact"]] == \
        ["sip:carol@contoso.test"]


def test_remove_a_contact_from_all_groups(alice):
    app = alice.create()
    friends = new_group(app, "Friends")
    for g in (friends, "pinned", None):
        body = {"contactUri": "sip:bob@contoso.test"}
        if g:
            body["groupId"] = g
        assert app.post("/people/groupMemberships", body).status_code == 201
    drain(app)
    links = app.get("/people/groupMemberships").json()["_links"]
    r = app.user.request("POST", links["removeContactFromAllGroups"]["href"],
                         json={"contactUri": "sip:bob@contoso.test"})
    assert r.status_code == 204
    evs = people_events(app, 4)
    assert sorted(e[3] for e in evs) == ["defaultGroup", "group", "myContacts", "pinnedGroup"]
    assert evs[-1][3] == "myContacts"
    assert app.get("/people/contacts").json()["_embedded"]["contact"] == []
    # nothing to remove is no error (and no event)
    assert app.post("/people/groupMemberships/removeContactFromAllGroups",
                    {"contactUri": BOB}).status_code == 204
    assert people_events(app) == []


def test_an_external_contact_can_be_added(alice):
    app = alice.create()
    r = app.post("/people/groupMemberships", {"contactUri": "sip:someone@fabrikam.test"})
    assert r.status_code == 201
    c = app.get("/people/contacts").json()["_embedded"]["contact"]
    assert [(x["uri"], x["name"], x["sourceNetwork"]) for x in c] == [
        ("sip:someone@fabrikam.test", "someone@fabrikam.test", "Federated")]


# --- search ----------------------------------------------------------------------------------

def search(app, query, **params):
    return app.user.request("GET", app.self + "/people/search",
                            params={"query": query, **params})


def found(app, query, **params):
    r = search(app, query, **params)
    assert r.status_code == 200, r.text
    return [c["uri"] for c in r.json()["_embedded"]["contact"]]


def test_search_by_name_email_address_and_phone(alice):
    app = alice.create()
    r = search(app, "brown", limit="3")
    doc = r.json()
    assert doc["rel"] == "search" and doc["moreResultsAvailable"] is False
    assert doc["_links"]["self"]["href"] == app.self + "/people/search?query=brown&limit=3"
    assert doc["_embedded"]["distributionGroup"] == []
    [bob] = doc["_embedded"]["contact"]
    assert bob["name"] == "Bob Brown" and bob["emailAddresses"] == ["bob.brown@contoso.test"]
    assert bob["_links"]["self"]["href"] == app.self + "/people/" + BOB
    assert found(app, "Bob Brown") == ["sip:bob@contoso.test"]              # name
    assert found(app, "BOB BROWN") == ["sip:bob@contoso.test"]              # any case
    assert found(app, "alice.anderson@") == ["sip:alice@contoso.test"]      # e-mail
    assert found(app, "carol@contoso.test") == ["sip:carol@contoso.test"]   # SIP address
    assert found(app, "5550102") == ["sip:bob@contoso.test"]                # phone
    assert found(app, "5550111") == ["sip:alice@contoso.test"]              # mobile
    assert found(app, "nobody-like-this") == []
    # ordered by name; limit and moreResultsAvailable
    everyone = found(app, "contoso")
    assert everyone[:3] == ["sip:alice@contoso.test", "sip:backslash@contoso.test",
                            "sip:bob@contoso.test"]
    assert len(everyone) == 6
    r = search(app, "contoso", limit="2").json()
    assert r["moreResultsAvailable"] is True and len(r["_embedded"]["contact"]) == 2
    r = search(app, "contoso", limit="6").json()
    assert r["moreResultsAvailable"] is False and len(r["_embedded"]["contact"]) == 6
    assert search(app, "contoso", limit="100").status_code == 200
    assert search(app, "x" * 256).status_code == 200
    assert search(app, "é" * 256).status_code == 200   # characters, not bytes


def test_search_matches_sql_and_like_metacharacters_literally(alice):
    app = alice.create()
    assert found(app, "' OR 1=1 --") == []
    assert found(app, "' OR '1'='1") == []
    assert found(app, "x'; DROP TABLE users; --") == []
    assert found(app, "%") == ["sip:helpdesk@contoso.test"]
    assert found(app, "_") == ["sip:helpdesk@contoso.test"]
    assert found(app, "p_t") == []                      # not "Pat"
    assert found(app, "a%n") == []                      # not "Alice Anderson"
    assert found(app, "\\") == ["sip:backslash@contoso.test"]
    assert found(app, "\\%") == []
    assert found(app, "O'Brien") == ["sip:o'brien@contoso.test"]
    assert found(app, "100% s") == ["sip:helpdesk@contoso.test"]
    # the directory is intact
    assert len(found(app, "contoso")) == 6
    assert alice.create().get("/me").status_code == 200


def test_search_bad_input(alice):
    app = alice.create()
    for params in ({}, {"query": ""}, {"query": "x" * 257}, {"query": "é" * 257},
                   {"query": "bob", "limit": "0"}, {"query": "bob", "limit": "101"},
                   {"query": "bob", "limit": "-1"}, {"query": "bob", "limit": "ten"},
                   {"query": "bob", "limit": ""}, {"query": "x" * 2000}):
        r = app.user.request("GET", app.self + "/people/search", params=params)
        assert_error(r, 400, "BadRequest", "ParameterValidationFailure")
    assert_error(app.user.request("GET", app.self + "/people/search?query=%ff"), 400,
                 "BadRequest", "ParameterValidationFailure")
    assert_error(app.post("/people/search", {}), 405, "MethodNotAllowed")


# --- a contact, its presence, and privacy ------------------------------------------------------

def test_contact_resource(alice):
    app = alice.create()
    r = app.get("/people/Bob@Contoso.TEST")
    c = r.json()
    assert c["uri"] == "sip:bob@contoso.test" and c["name"] == "Bob Brown"
    assert c["_links"]["self"]["href"] == app.self + "/people/" + BOB   # lower case
    assert r.headers["ETag"] == f'"{c["etag"]}"'
    assert app.get("/people/" + BOB, headers={"If-None-Match": r.headers["ETag"]}).status_code \
        == 304
    assert app.get("/people/sip:bob@contoso.test").json() == c
    assert app.get("/people/bob@contoso.test/privacyRelationship").json() == {
        "relationshipLevel": "Colleagues",
        "_links": {"self": {"href": app.self + "/people/bob@contoso.test/privacyRelationship"}},
        "rel": "contactPrivacyRelationship"}
    # in XML too
    r = app.get("/people/" + BOB, headers={"Accept": XML})
    assert r.headers["Content-Type"].startswith(XML)
    assert f'<property name="name">Bob Brown</property>' in r.text
    # not an address at all: 404
    for junk in ("bob@@contoso.test", "bob@contoso", "a b@contoso.test", "@contoso.test"):
        assert_error(app.get("/people/" + junk), 404, "NotFound")
    assert_error(app.get("/people/bob@contoso.test/nonsense"), 404, "NotFound")
    assert_error(app.post("/people/" + BOB, {}), 405, "MethodNotAllowed")


def normalise(doc, address):
    """A document as text with its address (and etag, which hashes it) taken out."""
    doc = {k: v for k, v in doc.items() if k != "etag"}
    return json.dumps(doc, sort_keys=True).replace(address, "ADDRESS")


def test_the_directory_decides_who_can_be_seen(alice, fe):
    """Dave is hidden from the address book: his contact resource, presence and photo are
    those of an address that does not exist, even while he is signed in and Online."""
    dave = fe.user("dave@contoso.test")
    dapp = dave.create()
    dapp.available()
    assert dapp.post("/me/note", {"message": "Top secret"}).status_code == 204
    app = alice.create()
    for sub in ("", "/presence", "/note", "/location", "/supportedMedia", "/privacyRelationship"):
        hidden = app.get("/people/dave@contoso.test" + sub)
        ghost = app.get("/people/ghost@contoso.test" + sub)
        assert hidden.status_code == ghost.status_code == 200
        assert normalise(hidden.json(), "dave@contoso.test") == \
            normalise(ghost.json(), "ghost@contoso.test"), sub
    c = app.get("/people/dave@contoso.test").json()
    assert c["sourceNetwork"] == "Federated" and c["name"] == "dave@contoso.test"
    assert "title" not in c
    assert app.get("/people/dave@contoso.test/presence").json()["availability"] == "Offline"
    assert found(app, "dave") == [] and found(app, "Secret Agent") == []
    assert app.get("/photos/dave@contoso.test").content == \
        app.get("/photos/ghost@contoso.test").content
    dapp.delete()


def test_contact_presence_follows_bob(alice, bob):
    app = alice.create()
    base = app.self + "/people/" + BOB
    p = app.get("/people/" + BOB + "/presence").json()
    assert p == {"availability": "Offline", "deviceType": "Unknown",
                 "_links": {"self": {"href": base + "/presence"}}, "rel": "contactPresence"}
    assert app.get("/people/" + BOB + "/supportedMedia").json()["modalities"] == []
    b = bob.create()
    # signed in but not available (lurker): still Offline
    assert app.get("/people/" + BOB + "/presence").json()["availability"] == "Offline"
    b.available()
    r = app.get("/people/" + BOB + "/presence")
    p = r.json()
    assert p["availability"] == "Online" and p["deviceType"] == "Mobile"
    assert re.fullmatch(r"/Date\(\d{13}\)/", p["lastActive"])
    assert '"lastActive":"\\/Date(' in r.text          # the ASP.NET spelling
    assert app.get("/people/" + BOB + "/supportedMedia").json() == {
        "modalities": ["Messaging"], "_links": {"self": {"href": base + "/supportedMedia"}},
        "rel": "contactSupportedModalities"}
    assert b.post("/me/presence", {"availability": "Busy"}).status_code == 204
    assert app.get("/people/" + BOB + "/presence").json()["availability"] == "Busy"
    assert b.post("/me/note", {"message": "In a meeting until 3"}).status_code == 204
    assert b.post("/me/location", {"location": "Building 31"}).status_code == 204
    assert app.get("/people/" + BOB + "/note").json() == {
        "message": "In a meeting until 3", "type": "Personal",
        "_links": {"self": {"href": base + "/note"}}, "rel": "contactNote"}
    assert app.get("/people/" + BOB + "/location").json()["location"] == "Building 31"
    # XML: lastActive in ISO 8601
    r = app.get("/people/" + BOB + "/presence", headers={"Accept": XML})
    assert re.search(r'<property name="lastActive">\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</property>',
                     r.text), r.text
    b.delete()
    p = app.get("/people/" + BOB + "/presence").json()
    assert p["availability"] == "Offline" and p["deviceType"] == "Unknown"
    assert "location" not in app.get("/people/" + BOB + "/location").json()


# --- photos --------------------------------------------------------------------------------------

def test_photos(alice):
    app = alice.create()
    r = app.get("/photos/" + BOB)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert r.content[:3] == b"\xff\xd8\xff" and r.content[-2:] == b"\xff\xd9"
    assert r.content == mobility.photo_jpeg(*mobility.DIRECTORY_DETAILS[BOB]["photo"])
    etag = r.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag) and "Expires" in r.headers
    r = app.get("/photos/" + BOB, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == etag
    assert app.get("/photos/" + BOB, headers={"If-None-Match": '"x", ' + etag}).status_code == 304
    # size is accepted (one size here)
    assert app.get("/photos/" + BOB + "?size=HR64X64").content == \
        app.get("/photos/" + BOB).content
    # no photo in the directory, or no such person: the default picture
    carol = app.get("/photos/carol@contoso.test")
    assert carol.status_code == 200 and carol.headers["ETag"] != etag
    assert carol.content == mobility.photo_jpeg(200, 120)
    assert app.get("/photos/nobody@contoso.test").content == carol.content
    # the me resource's photo link
    assert app.get(app.doc["_embedded"]["me"]["_links"]["photo"]["href"][len(app.self):]) \
        .content == mobility.photo_jpeg(*mobility.DIRECTORY_DETAILS["alice@contoso.test"]["photo"])
    assert_error(app.get("/photos/not-an-address"), 404, "NotFound")


def test_photos_with_the_cookie(alice, fe):
    """A browser's <img>: no Authorization, the cwt_ucwa cookie the application set."""
    app = alice.create()
    url = alice.url(app.self + "/photos/" + BOB)
    r = alice.http.get(url)                      # the session keeps the cookie
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert "Authorization" not in r.request.headers and "cwt_ucwa=" in r.request.headers["Cookie"]
    # without the cookie, or with a bad one, or elsewhere than photos: 401
    plain = requests.Session()
    plain.trust_env = False
    plain.verify = str(fe.ca)
    assert plain.get(url).status_code == 401
    assert plain.get(url, headers={"Cookie": "cwt_ucwa=cwt=forged"}).status_code == 401
    assert plain.get(url, headers={"Cookie": "x=1; cwt_ucwa=" + alice.token + "; y=2"}) \
        .status_code == 200
    assert plain.get(alice.url(app.self + "/people/contacts"),
                     headers={"Cookie": "cwt_ucwa=" + alice.token}).status_code == 401
    # another user's application: not found, as for a bearer token
    bob = fe.user(BOB)
    other = bob.create()
    r = plain.get(alice.url(other.self + "/photos/" + BOB),
                  headers={"Cookie": "cwt_ucwa=" + alice.token})
    assert_error(r, 404, "NotFound", "ApplicationNotFound")
    other.delete()


# --- bad input -------------------------------------------------------------------------------------

def test_bad_input(alice):
    app = alice.create()
    unknown = "AAAAAAAAAAAAAAAA"
    for path in ("/people/contacts?groupId=" + unknown, "/people/contacts?groupId=junk'--",
                 "/people/groups/" + unknown, "/people/groups/x" * 3, "/people/groups/%27--",
                 "/people/groupMemberships?groupId=nope",
                 f"/people/groupMemberships/{unknown}/{BOB}",
                 "/people/groupMemberships/default/not-an-address",
                 "/people/groupMemberships/a/b/c"):
        r = app.get(path)
        assert_error(r, 404, "NotFound")
    assert_error(app.get("/people/contacts?expand=maybe"), 400, "BadRequest",
                 "ParameterValidationFailure")
    for body in ({}, {"contactUri": ""}, {"contactUri": "bob"}, {"contactUri": 42},
                 {"contactUri": "sip:' OR 1=1 --"}, {"contactUri": ["sip:" + BOB]}):
        assert_error(app.post("/people/groupMemberships", body), 400, "BadRequest",
                     "ParameterValidationFailure")
    assert_error(app.post("/people/groupMemberships", {"contactUri": BOB, "groupId": unknown}),
                 404, "NotFound")
    assert_error(app.post("/people/groupMemberships", {"contactUri": BOB, "groupId": "../x"}),
                 404, "NotFound")
    assert_error(app.post("/people/groupMemberships", {"contactUri": BOB, "groupId": 7}), 400,
                 "BadRequest")
    for name in ("", "   ", "x" * 257, "tab\there", None, 5):
        assert_error(app.post("/people/groups", {"displayName": name}), 400, "BadRequest",
                     "ParameterValidationFailure")
    r = app.post("/people/groups", data=b"{not json", headers={"Content-Type": JSON})
    assert_error(r, 400, "BadRequest", "DeserializationFailure")
    assert_error(app.post("/people/groupMemberships/removeContactFromAllGroups", {}), 400,
                 "BadRequest")
    assert_error(app.user.request("PUT", app.self + "/people/contacts"), 405, "MethodNotAllowed")
    assert_error(app.user.request("DELETE", app.self + "/people/groups"), 405, "MethodNotAllowed")
    assert_error(app.get("/people/groupMemberships/removeContactFromAllGroups"), 405,
                 "MethodNotAllowed")
    # another user's application, and an application that does not exist
    assert_error(app.user.request("GET", "/ucwa/oauth/v1/applications/123/people/contacts"),
                 404, "NotFound", "ApplicationNotFound")
    # a 256-character group name is fine, and its 257th character is not
    assert app.post("/people/groups", {"displayName": "é" * 256}).status_code == 204
    # nothing of this reached the list
    assert app.get("/people/contacts").json()["_embedded"]["contact"] == []


def test_group_presence_subscription(alice, bob):
    """subscribeToGroupPresence: a presence subscription to the group's members."""
    app = alice.create()
    team = new_group(app, "Team")
    assert app.post("/people/groupMemberships", {"contactUri": BOB, "groupId": team}) \
        .status_code == 201
    href = app.get("/people/groups/" + team).json()["_links"]["subscribeToGroupPresence"]["href"]
    assert_error(app.user.request("POST", href, json={}), 400, "BadRequest")
    assert_error(app.user.request("POST", href.replace(team, "AAAAAAAAAAAAAAAA"),
                                  json={"duration": 10}), 404, "NotFound")
    r = app.user.request("POST", href, json={"duration": 10})
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["rel"] == "presenceSubscription"
    members = app.user.request("GET", sub["_links"]["memberships"]["href"]).json()
    assert BOB in str(members)
