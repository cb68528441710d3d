"""me and self-presence: lurker mode, makeMeAvailable and the events it causes, presence
with every settable availability, note and location, reportMyActivity, phones and
callForwardingSettings, and a user's two applications seeing each other's changes.

The idle transitions (Online -> IdleOnline after UcwaInactiveTimeout, -> Away after
UcwaAwayTimeout) run on a separate instance with both shortened to seconds."""
import pytest

import mobility
from ucwa_client import FAST, assert_error, events_of, in_thread, new_http, start_fe, stop_fe

PUT_GUID = "4d221db7-4af0-476b-9443-8bc874283085"


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-me", servers=2, extra="\n".join([
        FAST, "UcwaInactiveTimeout 60", "UcwaAwayTimeout 120"]))
    yield f
    stop_fe(f)


@pytest.fixture
def alice(fe):
    u = fe.user()
    yield u
    # presence, note and location belong to the user and outlive applications: reset
    app = u.create()
    app.available()
    for sub in ("/me/presence", "/me/note", "/me/location"):
        assert app.post(sub, {}).status_code == 204
    for a in u.created:
        a.delete()


def test_me_in_lurker_mode(alice):
    app = alice.create()
    me = app.get("/me").json()
    assert me["rel"] == "me" and me["name"] == "Alice Anderson"
    assert me["uri"] == "sip:alice@contoso.test" and me["emailAddresses"] == ["alice@contoso.test"]
    assert me["endpointUri"] == (f"sip:alice@contoso.test;opaque=user:epid:"
                                 f"{app.doc['endpointId']};gruu")
    assert set(me["_links"]) == {"self", "makeMeAvailable", "callForwardingSettings", "phones",
                                 "photo"}
    assert me["_links"]["makeMeAvailable"]["href"] == app.self + "/me/makeMeAvailable"
    for sub in ("/me/presence", "/me/note", "/me/location"):
        assert_error(app.get(sub), 409, "Conflict", "MakeMeAvailableRequired")
        assert_error(app.post(sub, {}), 409, "Conflict", "MakeMeAvailableRequired")
    for sub in ("/me/reportMyActivity", "/reportMyActivity"):
        assert_error(app.post(sub), 409, "Conflict", "MakeMeAvailableRequired")
    assert app.get("/communication").json()["supportedModalities"] == []


def test_make_me_available(alice):
    app = alice.create()
    r = app.post("/me/makeMeAvailable", {"SupportedModalities": ["Messaging"]})
    assert r.status_code == 204 and r.content == b""
    pkg = app.poll("timeout=1")
    assert [e[:3] for e in events_of(pkg)] == [
        ("me", "updated", "me"), ("me", "added", "presence"), ("me", "added", "note"),
        ("me", "added", "location"), ("communication", "updated", "communication")]
    links = {e[2]: e[3]["link"]["href"] for e in events_of(pkg)}
    assert links["presence"] == app.self + "/me/presence"
    assert links["note"] == app.self + "/me/note"
    comm = events_of(pkg)[4][3]["_embedded"]["communication"]
    assert comm["supportedModalities"] == ["Messaging"] and comm["rel"] == "communication"
    me = app.get("/me").json()
    assert set(me["_links"]) == {"self", "callForwardingSettings", "phones", "photo",
                                 "presence", "note", "location", "reportMyActivity"}
    doc = app.get().json()
    assert "presence" in doc["_embedded"]["me"]["_links"]
    assert doc["_embedded"]["communication"]["supportedModalities"] == ["Messaging"]
    assert app.get("/me/presence").json()["availability"] == "Online"
    assert_error(app.post("/me/makeMeAvailable", {"SupportedModalities": ["Messaging"]}),
                 409, "Conflict", "AlreadyExists")


def test_make_me_available_with_options(alice):
    app = alice.create()
    for bad in ({"signInAs": "Offline"}, {"supportedModalities": ["Telepathy"]},
                {"supportedMessageFormats": ["Rtf"]}, {"signInAs": 3}):
        assert_error(app.post("/me/makeMeAvailable", bad), 400, "BadRequest",
                     "ParameterValidationFailure")
    assert app.get("/me").json()["_links"].get("makeMeAvailable")   # still a lurker
    app.available({"signInAs": "BeRightBack",
                   "supportedModalities": ["Messaging", "PhoneAudio"],
                   "supportedMessageFormats": ["Plain", "Html"]})
    assert app.get("/me/presence").json()["availability"] == "BeRightBack"
    comm = app.get("/communication").json()
    assert comm["supportedModalities"] == ["Messaging", "PhoneAudio"]
    assert comm["supportedMessageFormats"] == ["Plain", "Html"]


@pytest.mark.parametrize("setting,shown,activity", [
    ("Online", "Online", None), ("Busy", "Busy", None), ("DoNotDisturb", "DoNotDisturb", None),
    ("BeRightBack", "BeRightBack", None), ("Away", "Away", None),
    ("Offwork", "Away", "off-work"), ("busy", "Busy", None)])
def test_presence_settable_availability(alice, setting, shown, activity):
    app = alice.create()
    app.available()
    assert app.post("/me/presence", {"availability": setting}).status_code == 204
    res = app.get("/me/presence").json()
    assert res["availability"] == shown and res.get("activity") == activity
    assert res["rel"] == "presence"
    assert res["_links"]["self"]["href"] == app.self + "/me/presence"
    # an empty POST resets: the server computes presence again
    assert app.post("/me/presence").status_code == 204
    assert app.get("/me/presence").json() == {
        "availability": "Online", "_links": {"self": {"href": app.self + "/me/presence"}},
        "rel": "presence"}


def test_presence_refuses_what_cannot_be_set(alice):
    app = alice.create()
    app.available()
    assert app.post("/me/presence?availability=Busy").status_code == 204   # query form
    for bad in ("Offline", "IdleOnline", "Invisible", "", 3, ["Busy"], {"x": 1}):
        r = app.post("/me/presence", {"availability": bad})
        assert_error(r, 400, "BadRequest", "ParameterValidationFailure")
    assert app.get("/me/presence").json()["availability"] == "Busy"
    pkg = app.poll("timeout=1")
    assert ("me", "updated", "presence") in [e[:3] for e in events_of(pkg)]


def test_note_and_location(alice):
    app = alice.create()
    app.available()
    app.poll("timeout=1")
    steps = [("/me/note", {"message": "Heads down today"}, "added"),
             ("/me/note?message=In%20the%20lab", None, "updated"),
             ("/me/note", {"message": ""}, "deleted"),
             ("/me/location", {"location": "Building 7"}, "added"),
             ("/me/location", {"location": "Cafeteria"}, "updated"),
             ("/me/location", {}, "deleted")]
    for sub, body, _ in steps[:2]:
        assert app.post(sub, body).status_code == 204
    assert app.get("/me/note").json()["message"] == "In the lab"
    assert app.get("/me/note").json()["type"] == "Personal"
    for sub, body, _ in steps[2:5]:
        assert app.post(sub, body).status_code == 204
    assert "message" not in app.get("/me/note").json()
    assert app.get("/me/location").json()["location"] == "Cafeteria"
    assert app.post(*steps[5][:2]).status_code == 204
    assert app.get("/me/location").json() == {
        "_links": {"self": {"href": app.self + "/me/location"}}, "rel": "location"}
    pkg = app.poll("timeout=1")
    assert [e[:3] for e in events_of(pkg)] == [("me", t, s.split("?")[0][4:])
                                               for s, _, t in steps]
    # the documented limits
    assert_error(app.post("/me/location", {"location": "x" * 61}), 400, "BadRequest",
                 "ParameterValidationFailure")
    assert_error(app.post("/me/note", {"message": "x" * 512}), 400, "BadRequest",
                 "ParameterValidationFailure")
    assert app.post("/me/note", {"message": "é" * 200}).status_code == 204
    assert app.get("/me/note").json()["message"] == "é" * 200


def test_location_limit_counts_characters_not_bytes(alice):
    app = alice.create()
    app.available()
    # at most 60 characters: a location in Japanese, 25 characters (75 bytes in UTF-8)
    tokyo = "東京都千代田区丸の内一丁目九番一号グラントウキョウ"
    assert len(tokyo) == 25
    assert app.post("/me/location", {"location": tokyo}).status_code == 204
    assert app.get("/me/location").json()["location"] == tokyo


def test_report_my_activity_keeps_the_user_online(alice):
    app = alice.create()
    app.available()
    for sub in ("/me/reportMyActivity", "/reportMyActivity"):
        r = app.post(sub)
        assert r.status_code == 204 and r.content == b""
        assert app.get("/me/presence").json()["availability"] == "Online"


@pytest.mark.parametrize("lines,message", [
    ("UcwaInactiveTimeout 120\nUcwaAwayTimeout 60",
     "UcwaAwayTimeout must not be shorter than UcwaInactiveTimeout"),
    ("UcwaInactiveTimeout 5", "UcwaInactiveTimeout: '5' must be a number from 10"),
    ("UcwaEventTimeoutRange 300 200", "the minimum is larger than the maximum"),
])
def test_idle_directives_are_checked(workdir, state, lines, message):
    topo = mobility.Topology(offset=mobility.free_offset(start=40000))
    a = mobility.front_end(workdir / "ucwa-cfg", state, topo, extra=lines)
    r = a.configtest()
    assert r.returncode != 0 and message in r.stdout + r.stderr, r.stdout + r.stderr


def test_phones_and_call_forwarding_settings(alice):
    app = alice.create()
    r = app.get("/me/phones")
    assert r.status_code == 200
    # the directory's numbers of the user (the demo's alice has a work and a mobile one)
    assert r.json() == {"_links": {"self": {"href": app.self + "/me/phones"}},
                        "_embedded": {"phone": [
                            {"number": "tel:+14255550101", "type": "Work",
                             "includeInContactCard": True, "rel": "phone"},
                            {"number": "tel:+14255550111", "type": "Mobile",
                             "includeInContactCard": False, "rel": "phone"}]},
                        "rel": "phones"}
    r = app.get("/me/callForwardingSettings")
    assert r.status_code == 200
    cfs = r.json()
    assert cfs["rel"] == "callForwardingSettings"
    assert cfs[PUT_GUID] == "please pass this in a PUT request"
    assert cfs["activeSetting"] in ("None", "ImmediateForward", "SimultaneousRing")
    assert cfs["etag"].isdigit() and r.headers["ETag"] == f'"{cfs["etag"]}"'
    assert cfs["_links"]["self"]["href"] == app.self + "/me/callForwardingSettings"
    # the same resource, the same ETag
    assert app.get("/me/callForwardingSettings").headers["ETag"] == r.headers["ETag"]


def test_two_applications_of_one_user_see_each_others_changes(fe, alice):
    phone, tablet, lurker = alice.create(), alice.create(), alice.create()
    phone.available()
    tablet.available()
    for job in [in_thread(a.poll, "timeout=1", http=new_http(fe.ca)) for a in (phone, tablet)]:
        job.result()
    assert phone.post("/me/presence", {"availability": "DoNotDisturb"}).status_code == 204
    assert tablet.post("/me/note", {"message": "from the tablet"}).status_code == 204
    jobs = [in_thread(a.poll, "timeout=1", http=new_http(fe.ca))
            for a in (phone, tablet, lurker)]
    (p, _), (t, _), (lk, _) = [j.result() for j in jobs]
    for pkg, app in ((p, phone), (t, tablet)):
        assert [e[:3] for e in events_of(pkg)] == [("me", "updated", "presence"),
                                                   ("me", "added", "note")]
        assert pkg["sender"][0]["href"] == app.self + "/me"    # each in its own URLs
    assert tablet.get("/me/presence").json()["availability"] == "DoNotDisturb"
    assert phone.get("/me/note").json()["message"] == "from the tablet"
    # an application in lurker mode is not told about presence
    assert [e[2] for e in events_of(lk)] == []


def test_inactivity_turns_online_into_idle_then_away(workdir, state):
    """Without reportMyActivity the sweeper demotes the user, announces it to the user's
    applications, and reportMyActivity brings the user back."""
    fe = start_fe(workdir, state, "ucwa-idle-presence", servers=2, extra="\n".join([
        FAST, "UcwaInactiveTimeout 10", "UcwaAwayTimeout 20"]))
    try:
        app = fe.user("bob@contoso.test").create()
        app.available()
        app.poll("timeout=1&medium=5")        # the makeMeAvailable package
        seen = []
        for _ in range(8):
            evs = [rel for _, _, rel, _ in events_of(app.poll("timeout=8&medium=5"))]
            if "presence" in evs:
                seen.append(app.get("/me/presence").json()["availability"])
            if "Away" in seen:
                break
        assert seen[:2] == ["IdleOnline", "Away"], seen
        assert app.post("/me/reportMyActivity").status_code == 204
        assert app.get("/me/presence").json()["availability"] == "Online"
    finally:
        stop_fe(fe)
