"""callForwardingSettings for users enabled for Enterprise Voice: the voice policy, dial
plan and routes an admin writes into the directory database (global, site, per-user), the
resource and its three settings resources, the actions (a number the user types is
normalised by the dial plan, one the voice policy cannot route is refused 403 NotAllowed),
UCWA's PUT contract (ETag, 412, 428), the settings in SQL across a restart, and the
`callForwardingSettings updated` event to the user's other applications."""
import re
import shutil
import sqlite3

import pytest

import conftest
import mobility
from ucwa_client import FAST, assert_error, events_of, start_fe, state_with_tags, stop_fe

PUT_PROPERTY = "4d221db7-4af0-476b-9443-8bc874283085"
# the two broken rows of VOICE_SQL, skipped at every request that reads them
ALLOWED = conftest.ALLOWED_LOG + [re.compile(r"UCWA00670: voice settings of \S+: "
                                             r"(dial plan Global: normalization rule Broken|"
                                             r"voice route Broken)")]
CFS = "/me/callForwardingSettings"
IFS, SRS, UCS = (CFS + "/immediateForwardSettings", CFS + "/simultaneousRingSettings",
                 CFS + "/unansweredCallSettings")
ALICE, BOB, DAVE = "alice@contoso.test", "bob@contoso.test", "dave@contoso.test"

# What an admin writes (docs/schema.md): a global dial plan with a 4-digit rule, a
# global policy (Local), the site's (Site1, this Front End's UcwaSite: Local and long
# distance, no simultaneous ring) and a per-user one granted to bob (Local only); two
# routes. alice and dave are on the site's policy. And two rows the server must skip: a
# rule whose repetitions would make regcomp take gigabytes, a route that does not compile.
VOICE_SQL = r"""
INSERT INTO ucwa_dial_plans (identity) VALUES ('Global');
INSERT INTO ucwa_dial_plan_rules VALUES ('Global', 'Redmond 4 digit', 1, '^(\d{4})$', '+1425555$1');
INSERT INTO ucwa_dial_plan_rules VALUES ('Global', 'Long distance', 2, '^1?(\d{10})$', '+1$1');
INSERT INTO ucwa_dial_plan_rules VALUES ('Global', 'Broken', 0, '^(\w++++++++++++++++++++++++)$', '$1');
INSERT INTO ucwa_voice_routes VALUES ('Broken', 0, '^(\d', 'Local', 'gw9.contoso.test', NULL);
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_policies VALUES ('Site:Site1', 'Local;LongDistance', 1, 0, NULL);
INSERT INTO ucwa_voice_policies VALUES ('Tag:Mobile', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Redmond', 1, '^\+1425\d{7}$', 'Local', 'gw1.contoso.test', NULL);
INSERT INTO ucwa_voice_routes VALUES ('US', 2, '^\+1\d{10}$', 'LongDistance', 'gw2.contoso.test', NULL);
INSERT INTO ucwa_voice_users VALUES ('bob@contoso.test', 'Mobile', NULL, 'tel:+14255550102');
"""


@pytest.fixture(scope="module")
def st(workdir, state):
    return state_with_tags(workdir, state, "state-call-forwarding", {DAVE: None})


def seed(st):
    con = sqlite3.connect(st / "directory.db")
    con.executescript(VOICE_SQL)
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def fe(workdir, st):
    # the tables are the module's: there once it started. The admin's rows go in while
    # it is stopped (a child preparing its statements while sqlite3 commits would log
    # AH00632); they apply without a restart all the same (the last test)
    stop_fe(start_fe(workdir, st, "ucwa-call-forwarding-0"))
    seed(st)
    f = start_fe(workdir, st, "ucwa-call-forwarding", servers=2, extra=FAST)
    yield f
    stop_fe(f, allowed=ALLOWED)


def get(app, sub=CFS):
    r = app.get(sub)
    assert r.status_code == 200, r.text
    body = r.json()
    if "etag" in body:
        assert r.headers["ETag"] == f'"{body["etag"]}"'
    return body


def put(app, sub, body, etag):
    return app.user.request("PUT", app.href(sub), json=body,
                            headers={"If-Match": f'"{etag}"'} if etag else {})


def test_resource_links_and_settings(fe):
    app = fe.user(BOB).create()
    cfs = get(app)
    # the admin's broken rows are skipped, said in the log, and the rest applies
    log = fe.apache.log_text()
    assert "normalization rule Broken: the pattern repeats a repetition" in log, log[-2000:]
    assert "voice route Broken: the number pattern" in log
    assert cfs["rel"] == "callForwardingSettings"
    assert (cfs["activePeriod"], cfs["activeSetting"], cfs["unansweredCallHandling"]) == \
        ("Always", "None", "Disabled")
    assert cfs[PUT_PROPERTY] == "please pass this in a PUT request"
    assert set(cfs["_links"]) == {"self", "turnOffCallForwarding", "immediateForwardSettings",
                                  "simultaneousRingSettings", "unansweredCallSettings"}
    emb = cfs["_embedded"]
    for sub, rel in ((IFS, "immediateForwardSettings"), (SRS, "simultaneousRingSettings"),
                     (UCS, "unansweredCallSettings")):
        one = get(app, sub)
        assert one == emb[rel] and one["rel"] == rel and one["target"] == "None"
        assert one["_links"]["self"]["href"] == app.self + sub
        # every link advertised answers (no Delegates/Team/Voicemail: nothing behind them)
        for name, link in one["_links"].items():
            assert name in ("self", "immediateForwardToContact", "simultaneousRingToContact",
                            "unansweredCallToContact", "resetUnansweredCallSettings"), name
            assert link["href"].startswith(app.self + sub)
    assert emb["simultaneousRingSettings"]["ringDelay"] == 0
    assert emb["unansweredCallSettings"]["ringDelay"] == 20
    assert app.post(CFS + "/turnOffCallForwarding").status_code == 204
    r = app.user.request("DELETE", app.href(SRS))
    assert r.status_code == 405 and r.headers["Allow"] == "GET, PUT"
    app.delete()


def test_typed_number_normalised_and_told_to_other_applications(fe):
    bob = fe.user(BOB)
    app, other = bob.create(), bob.create(endpointId="cf-other")
    other.available()
    other.poll("timeout=1")
    # bob types 0100: the global dial plan makes it +14255550100, Redmond's route allows it
    r = app.post(SRS + "/simultaneousRingToContact", {"target": "0100"})
    assert r.status_code == 204, r.text
    srs = get(app, SRS)
    assert (srs["target"], srs["contactUri"]) == ("Contact", "tel:+14255550100")
    assert get(app)["activeSetting"] == "SimultaneousRing"
    seen = []
    for _ in range(5):
        seen += events_of(other.poll("timeout=1"))
        if any(rel == "callForwardingSettings" for _, _, rel, _ in seen):
            break
    ev = [e for s, t, rel, e in seen if rel == "callForwardingSettings"]
    assert ev and ev[0]["type"] == "updated", seen
    assert ev[0]["link"]["href"] == other.self + CFS
    assert [s for s, t, rel, e in seen if rel == "callForwardingSettings"][0] == "me"
    # a SIP contact: lower case, with its people link
    assert app.post(UCS + "/unansweredCallToContact",
                    {"target": "sip:Carol@Contoso.test", "ringDelay": 30}).status_code == 204
    ucs = get(app, UCS)
    assert (ucs["target"], ucs["contactUri"], ucs["ringDelay"]) == \
        ("Contact", "sip:carol@contoso.test", 30)
    assert ucs["_links"]["contact"]["href"] == app.self + "/people/carol@contoso.test"
    assert get(app)["unansweredCallHandling"] == "Enabled"
    assert app.post(UCS + "/resetUnansweredCallSettings").status_code == 204
    ucs = get(app, UCS)
    assert (ucs["target"], ucs["ringDelay"], "contactUri" in ucs) == ("None", 20, False)
    app.delete()
    other.delete()


def test_put_contract(fe):
    app = fe.user(BOB).create()
    assert app.post(SRS + "/simultaneousRingToContact",
                    {"target": "tel:+1 (425) 555-0111"}).status_code == 204
    cfs = get(app)
    old = cfs["etag"]
    r = put(app, CFS, dict(cfs, activePeriod="Workhours", activeSetting="None"), None)
    assert_error(r, 428, "PreconditionRequired")
    r = put(app, CFS, dict(cfs, activePeriod="Workhours", activeSetting="None"), old)
    assert r.status_code == 200, r.text
    new = r.json()
    assert (new["activePeriod"], new["activeSetting"]) == ("Workhours", "None")
    assert new["etag"] != old and r.headers["ETag"] == f'"{new["etag"]}"'
    # a stale tag: 412, nothing changed
    r = put(app, CFS, dict(cfs, activeSetting="SimultaneousRing"), old)
    assert_error(r, 412, "PreconditionFailed")
    assert get(app)["activeSetting"] == "None"
    # the GUID property is required; values are checked
    body = {k: v for k, v in new.items() if k != PUT_PROPERTY}
    assert_error(put(app, CFS, body, new["etag"]), 400, "BadRequest", "ParameterValidationFailure")
    assert_error(put(app, CFS, dict(new, activeSetting="Elsewhere"), new["etag"]), 400,
                 "BadRequest", "ParameterValidationFailure")
    # ImmediateForward needs its target
    assert_error(put(app, CFS, dict(new, activeSetting="ImmediateForward"), new["etag"]), 400,
                 "BadRequest", "ParameterValidationFailure")
    # the settings resources: ringDelay in range, a target that exists
    srs = get(app, SRS)
    r = put(app, SRS, dict(srs, ringDelay=10, target="Contact"), srs["etag"])
    assert r.status_code == 200 and r.json()["ringDelay"] == 10, r.text
    assert get(app)["activeSetting"] == "None"   # the target alone activates nothing
    srs = r.json()
    assert_error(put(app, SRS, dict(srs, ringDelay=99), srs["etag"]), 400, "BadRequest")
    assert_error(put(app, SRS, dict(srs, target="Team"), srs["etag"]), 403, "Forbidden",
                 "NoTeamMembersConfigured")
    assert_error(put(app, SRS, dict(srs, ringDelay=5), "1234"), 412, "PreconditionFailed")
    ucs = get(app, UCS)
    assert_error(put(app, UCS, dict(ucs, target="Voicemail"), ucs["etag"]), 403, "Forbidden")
    # immediate forward turns unanswered call handling off, and refuses it while on
    assert app.post(IFS + "/immediateForwardToContact", {"target": "0199"}).status_code == 204
    cfs = get(app)
    assert (cfs["activeSetting"], cfs["unansweredCallHandling"]) == \
        ("ImmediateForward", "Disabled")
    assert cfs["_embedded"]["immediateForwardSettings"]["contactUri"] == "tel:+14255550199"
    assert_error(app.post(UCS + "/unansweredCallToContact", {"target": "0100"}), 403,
                 "Forbidden")
    assert_error(put(app, CFS, dict(cfs, unansweredCallHandling="Enabled"), cfs["etag"]), 403,
                 "Forbidden")
    assert app.post(CFS + "/turnOffCallForwarding").status_code == 204
    assert get(app)["activeSetting"] == "None"
    app.delete()


def test_refused_numbers_by_policy_site_and_user(fe):
    alice, bob = fe.user(ALICE).create(), fe.user(BOB).create()
    # bob's own policy has Local only: long distance is refused, and nothing is stored
    before = get(bob)
    body = assert_error(bob.post(IFS + "/immediateForwardToContact", {"target": "+12065550100"}),
                        403, "Forbidden", "NotAllowed")
    assert "+12065550100" in body["message"]
    assert get(bob) == before
    # alice is on the site's policy: long distance allowed (dialled with the 1 prefix)
    assert alice.post(IFS + "/immediateForwardToContact",
                      {"target": "1 206 555 0100"}).status_code == 204
    assert get(alice, IFS)["contactUri"] == "tel:+12065550100"
    # nobody routes London
    assert_error(alice.post(UCS + "/unansweredCallToContact", {"target": "+442079460018"}),
                 403, "Forbidden")
    assert_error(alice.post(IFS + "/immediateForwardToContact", {"target": "+442079460018"}),
                 403, "Forbidden", "NotAllowed")
    # the site's policy has no simultaneous ring: no link, and the action is refused
    assert "simultaneousRingToContact" not in get(alice, SRS)["_links"]
    assert "simultaneousRingToContact" in get(bob, SRS)["_links"]
    assert_error(alice.post(SRS + "/simultaneousRingToContact", {"target": "0100"}), 403,
                 "Forbidden")
    srs = get(alice, SRS)
    cfs = get(alice)
    assert_error(put(alice, CFS, dict(cfs, activeSetting="SimultaneousRing"), cfs["etag"]), 403,
                 "Forbidden")
    # not a number, not an address, too long, missing
    assert_error(alice.post(IFS + "/immediateForwardToContact", {"target": "carol"}), 400,
                 "BadRequest", "NormalizationFailed")
    assert_error(alice.post(IFS + "/immediateForwardToContact", {"target": "sip:carol"}), 400,
                 "BadRequest", "ParameterValidationFailure")
    assert_error(alice.post(IFS + "/immediateForwardToContact", {"target": "1" * 81}), 400,
                 "BadRequest", "ParameterValidationFailure")
    assert_error(alice.post(IFS + "/immediateForwardToContact", {}), 400, "BadRequest")
    assert srs == get(alice, SRS)
    alice.delete()
    bob.delete()


def test_settings_survive_a_restart(workdir, st, fe):
    dave = fe.user(DAVE).create()
    assert dave.post(IFS + "/immediateForwardToContact", {"target": "0123"}).status_code == 204
    before = get(dave)
    dave.delete()
    # another Apache on the same directory: the settings are in SQL, not in the session store
    fe2 = start_fe(workdir, st, "ucwa-call-forwarding-2", extra=FAST)
    try:
        app = fe2.user(DAVE).create()
        after = get(app)
        for k in ("activePeriod", "activeSetting", "unansweredCallHandling"):
            assert after[k] == before[k]
        for k in ("immediateForwardSettings", "simultaneousRingSettings",
                  "unansweredCallSettings"):
            a, b = after["_embedded"][k], before["_embedded"][k]
            assert {n: v for n, v in a.items() if n not in ("_links", "etag")} == \
                {n: v for n, v in b.items() if n not in ("_links", "etag")}
        assert after["_embedded"]["immediateForwardSettings"]["contactUri"] == "tel:+14255550123"
        app.delete()
    finally:
        stop_fe(fe2, allowed=ALLOWED)


def test_the_demo_rows_load_over_an_admin_s(fe, st, workdir):
    # test/demo.py seeds them at every start: twice, over rows an admin wrote, is harmless
    # (on a copy: see fe)
    copy = workdir / "call-forwarding-demo-rows"
    copy.mkdir(exist_ok=True)
    shutil.copy(st / "directory.db", copy / "directory.db")
    assert mobility.seed_demo_voice(copy) and mobility.seed_demo_voice(copy)
    con = sqlite3.connect(copy / "directory.db")
    assert con.execute("SELECT pstn_usages, description FROM ucwa_voice_policies WHERE "
                       "identity = 'Global'").fetchall() == [("Local", None)]
    assert con.execute("SELECT name, description FROM ucwa_voice_routes ORDER BY name") \
        .fetchall() == [("Broken", None), ("Redmond", None), ("US", None)]
    con.close()
    # a row added while the server runs applies at once: carol's grant to bob's policy
    con = sqlite3.connect(st / "directory.db", timeout=5)
    con.execute("INSERT INTO ucwa_voice_users VALUES ('dave@contoso.test', 'Mobile', NULL, NULL)")
    con.commit()
    con.close()
    app = fe.user(DAVE).create()
    assert_error(app.post(IFS + "/immediateForwardToContact", {"target": "12065550100"}), 403,
                 "Forbidden", "NotAllowed")   # the site's policy would allow it
    app.delete()


XML = "application/vnd.microsoft.com.ucwa+xml"


def test_xml_representation_and_put(fe):
    app = fe.user(BOB).create()
    r = app.get(CFS, headers={"Accept": XML})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(XML), r.text
    assert f'<resource rel="callForwardingSettings" href="{app.self}{CFS}"' in r.text, r.text
    assert f'<resource rel="simultaneousRingSettings" href="{app.self}{SRS}"' in r.text
    assert '<link rel="turnOffCallForwarding"' in r.text
    srs = get(app, SRS)
    body = (f'<?xml version="1.0" encoding="utf-8"?><resource xmlns='
            f'"http://schemas.microsoft.com/rtc/2012/03/ucwa"><property name="{PUT_PROPERTY}">'
            f'please pass this in a PUT request</property><property name="ringDelay">7'
            f'</property></resource>')
    r = app.user.request("PUT", app.href(SRS), data=body,
                         headers={"Content-Type": XML, "If-Match": f'"{srs["etag"]}"'})
    assert r.status_code == 200, r.text
    assert get(app, SRS)["ringDelay"] == 7
    app.delete()


def test_concurrent_puts_from_one_reading_one_wins(fe, st):
    # two devices (or Front Ends) PUT what they read at the same moment: the write is
    # conditional on the row read, so exactly one wins and the others get 412. To make
    # them meet, the database's write lock is held while they read and check If-Match.
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor
    bob = fe.user(BOB)
    apps = [bob.create(endpointId=f"cf-race-{i}") for i in range(6)]
    read = [get(app) for app in apps]    # each its own ETag (the hrefs are the app's)
    period = "Workhours" if read[0]["activePeriod"] == "Always" else "Always"
    started = threading.Barrier(len(apps) + 1)

    def one(i):
        started.wait()
        return put(apps[i], CFS, dict(read[i], activePeriod=period),
                   read[i]["etag"]).status_code
    lock = sqlite3.connect(st / "directory.db", isolation_level=None, timeout=5)
    lock.execute("BEGIN IMMEDIATE")
    with ThreadPoolExecutor(len(apps)) as ex:
        futures = [ex.submit(one, i) for i in range(len(apps))]
        started.wait()
        time.sleep(0.5)          # every PUT has read the row and waits to write it
        lock.execute("ROLLBACK")
        codes = sorted(f.result() for f in futures)
    lock.close()
    assert codes == [200] + [412] * (len(apps) - 1), codes
    assert get(apps[1])["activePeriod"] == period
    # actions from the same moment are each applied, one after the other: all 204, and
    # the last one written is what every device reads
    targets = [f"01{i:02d}" for i in range(3)]

    def act(i):
        started.wait()
        return apps[i].post(IFS + "/immediateForwardToContact", {"target": targets[i]}) \
            .status_code
    started = threading.Barrier(len(targets) + 1)
    lock = sqlite3.connect(st / "directory.db", isolation_level=None, timeout=5)
    lock.execute("BEGIN IMMEDIATE")
    with ThreadPoolExecutor(len(targets)) as ex:
        futures = [ex.submit(act, i) for i in range(len(targets))]
        started.wait()
        time.sleep(0.5)
        lock.execute("ROLLBACK")
        codes = [f.result() for f in futures]
    lock.close()
    assert codes == [204] * len(targets), codes
    assert get(apps[0], IFS)["contactUri"] in [f"tel:+1425555{t}" for t in targets]
    assert app_log_count(fe, "UCWA00675") >= len(targets) + 1
    for app in apps:
        app.delete()


def app_log_count(fe, tag):
    return fe.apache.log_text().count(tag)


def test_hostile_put_bodies(fe):
    """callForwardingSettings, its settings resources and their ...ToContact actions
    under hostile bodies (issue 13's parsers seen from outside): ring delays of every
    wrong type and spelling (huge, negative, float, padded, hex, NUL), targets of 10,000
    bytes, with NUL / CRLF / percent escapes / URI headers, odd `;ext=`, wrong types,
    nesting, bodies that are not JSON: each a 4xx, never a 5xx, while the same request
    with a good value is taken; none of them is stored. A ring delay string is digits
    only: " 5", "+5" and "-0" were taken before (strtol's reading)."""
    app = fe.user(BOB).create()
    before = {sub: get(app, sub) for sub in (CFS, IFS, SRS, UCS)}
    assert app.post(SRS + "/simultaneousRingToContact",
                    {"target": "tel:+14255550103"}).status_code == 204
    srs = get(app, SRS)
    delays = [True, [], {}, 1.5, -1, 2 ** 63, -(2 ** 63), "", " 5", "5 ", "0x5", "+5",
              "-0x", "99999999999999999999", "5\u0000", "1e1", 56]
    for d in delays:
        r = put(app, SRS, dict(srs, ringDelay=d, target="Contact"), srs["etag"])
        assert 400 <= r.status_code < 500, (d, r.status_code, r.text[:200])
    targets = ["sip:" + "a" * 10000 + "@contoso.test", "tel:+1425555\u00000102",
               "tel:+14255550102\r\nX-Injected: 1", "tel:%2B14255550102",
               "tel:+14255550102;ext=;ext=1", "tel:;ext=12", "sip:@",
               "sip:alice@contoso.test;user=phone?Route=<sip:evil>", "tel:+",
               "+" + "9" * 200, 12345, None, ["tel:+14255550103"], {"uri": "tel:+1"},
               {"a": [{"b": [1] * 100}]}, "\u00e9" * 40]
    for t in targets:
        for sub, action in ((IFS, "immediateForwardToContact"),
                            (SRS, "simultaneousRingToContact"),
                            (UCS, "unansweredCallToContact")):
            r = app.user.request("POST", app.href(f"{sub}/{action}"), json={"target": t})
            assert 400 <= r.status_code < 500, (str(t)[:80], action, r.status_code,
                                                r.text[:200])
    for raw in (b"{", b"[]", b"null", b"\xff\xfe", b"{" * 3000 + b"}" * 3000,
                b'{"activeSetting":"None","activeSetting":"ImmediateForward"}'):
        r = app.user.request("PUT", app.href(CFS), data=raw,
                             headers={"Content-Type": "application/json",
                                      "If-Match": f'"{before[CFS]["etag"]}"'})
        assert 400 <= r.status_code < 500, (raw[:40], r.status_code, r.text[:200])
    # the good values are taken: the refusals were the bad values'
    r = put(app, SRS, dict(srs, ringDelay="5", target="Contact"), srs["etag"])
    assert r.status_code == 200 and r.json()["ringDelay"] == 5, r.text
    # nothing the hostile bodies said was stored
    assert r.json()["contactUri"] == "tel:+14255550103"
    assert get(app, IFS) == before[IFS] and get(app, UCS) == before[UCS]
