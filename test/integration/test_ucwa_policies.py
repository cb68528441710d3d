"""Mobility policies as the client reads them: {A}/policies from the policy in force
(global, site, or the tag the directory grants), EnableMobility Off refusing the mobile
application, and a changed policy reaching a signed-in client as a `policies` event
after a graceful restart."""
import time

from ucwa_client import Fe, User, assert_error, events_of, state_with_tags

GLOBAL = {
    "telephonyMode": "Uc",
    "audioOnlyOnWifi": "Disabled", "videoOnlyOnWifi": "Disabled",
    "sharingOnlyOnWifi": "Disabled", "customerExperienceImprovementProgram": "Enabled",
    "saveCallLogs": "Enabled", "clientExchangeConnectivity": "Enabled",
    "saveMessagingHistory": "Enabled", "saveCredentials": "Enabled",
    "encryptAppData": "Enabled", "allowDeviceContactsSync": "Enabled",
    "photos": "Enabled", "emoticons": "Enabled", "htmlMessaging": "Enabled",
    "logging": "Disabled", "messageArchiving": "Disabled", "callLogArchiving": "Disabled",
    "exchangeUnifiedMessaging": "Disabled",
}

SITE_POLICY = """<UcwaMobilityPolicy site:Site1>
    EnableIPAudioVideo Off
    AllowSaveCredentials Off
</UcwaMobilityPolicy>"""


def policies_of(app):
    r = app.get("/policies")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc.pop("_links") == {"self": {"href": app.self + "/policies"}}
    assert doc.pop("rel") == "policies"
    return doc


def test_global_policy_by_default(deployment, state, urls, check_logs):
    app = User(state / "pki" / "ca.crt", urls["internal"]).create()
    assert app.doc["_links"]["policies"]["href"] == app.self + "/policies"
    assert policies_of(app) == GLOBAL
    assert app.delete().status_code == 204


def test_the_policy_in_force_tag_then_site_then_global(variant, workdir, state, check_logs):
    st = state_with_tags(workdir, state, "state-tags", {
        "alice@contoso.test": "WiFiOnly", "bob@contoso.test": "NoSuchTag",
        "dave@contoso.test": "NoMobility", "erin@contoso.test": "wifionly"})
    fe = Fe(variant("ucwa-tags", st=st, extra=SITE_POLICY), st)
    # a tag policy applies whole: WiFi for audio and video, the rest Skype's defaults
    alice = fe.user().create()
    assert policies_of(alice) == dict(GLOBAL, audioOnlyOnWifi="Enabled",
                                      videoOnlyOnWifi="Enabled")
    assert policies_of(fe.user("erin@contoso.test").create()) == policies_of(alice)
    # a tag nobody defined falls back to the site's policy (whole, not merged)
    bob = fe.user("bob@contoso.test").create()
    assert policies_of(bob) == dict(GLOBAL, telephonyMode="RemoteCallControl",
                                    saveCredentials="Disabled")
    # EnableMobility Off: the mobile application is refused, and nothing is created
    dave = fe.user("dave@contoso.test")
    for _ in range(2):
        assert_error(dave.create(expect=None), 403, "Forbidden",
                     "MobileApplicationNoLongerAllowed")
    st_ = fe.status()
    assert st_["consistent"] and st_["applications"] == 3


def test_changed_policy_reaches_signed_in_clients_as_an_event(variant, workdir, state,
                                                              check_logs):
    st = state_with_tags(workdir, state, "state-pilot", {"alice@contoso.test": "Pilot"})
    pilot = "<UcwaMobilityPolicy Pilot>\n    RequireWiFiForIPAudio Off\n</UcwaMobilityPolicy>"
    fe = Fe(variant("ucwa-pilot", st=st, extra="UcwaEventTimeoutRange 1 1800\n" + pilot), st)
    alice = fe.user().create()
    bob = fe.user("bob@contoso.test").create()
    assert policies_of(alice)["audioOnlyOnWifi"] == "Disabled"
    # the admin changes the Pilot policy and reloads (apachectl graceful)
    fe.apache.body = fe.apache.body.replace(pilot, pilot.replace(" Off", " On"))
    fe.apache.graceful()
    deadline = time.monotonic() + 10
    seen = []
    while not seen:
        assert time.monotonic() < deadline, "no policies event"
        seen = [e for e in events_of(alice.poll("timeout=1")) if e[2] == "policies"]
    assert [e[:3] for e in seen] == [("policies", "updated", "policies")]
    assert seen[0][3]["link"]["href"] == alice.self + "/policies"
    assert alice.last["sender"][0]["href"] == alice.self + "/policies"
    assert policies_of(alice)["audioOnlyOnWifi"] == "Enabled"
    # bob's policy (global) did not change: no event for him
    assert events_of(bob.poll("timeout=1")) == []
    assert policies_of(bob) == GLOBAL
