"""Push notifications end to end, through the module: a UCWA application registers its
push channel ({A}/pushRegistrations), goes to the background, and the events that matter
reach it through a real WebPush service (web-push-testing, which decrypts what it gets:
so the encryption and the VAPID signature are right), the APNs mock (HTTP/2, ES256
provider token checked) and the FCM mock (OAuth token, then FCM v1), all on loopback
(push_services.py). The dispatcher is the module's own (a mod_watchdog singleton)."""
import base64
import json
import subprocess
import time
import urllib.parse

import pytest

import mobility
from push_services import (APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, FCM_PROJECT,  # noqa
                           apns, apns_mock, build_dir, fcm, fcm_mock, http_json, keys,
                           notifications, subscribe, web_push_testing, wpt)
from ucwa_client import (FAST, assert_error, events_of, in_thread, start_fe, state_with_tags,
                         stop_fe)

DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
FCM_TOKEN = "fcm-registration-token-of-bobs-phone:APA91bH"
SECRET = "the launch code is 0000"


@pytest.fixture(scope="module")
def vapid_key(keys):
    path = keys["dir"] / "vapid.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(path)], check=True)
    path.chmod(0o644)
    return path


def push_config(workdir, keys, vapid_key, apns, fcm, providers=("WebPush", "APNs", "FCM"),
                extra=""):
    # the dispatcher runs in a child (User nobody): the CA file must be readable there;
    # the keys are read by the parent at configuration time
    ca = workdir / "push-ca.crt"
    ca.write_bytes(keys["cert"].read_bytes())
    ca.chmod(0o644)
    lines = [f"UcwaPushProvider {p} On" for p in providers] + [
        f'UcwaPushVapidKey "{vapid_key}" mailto:admin@contoso.test',
        f'UcwaPushApns "{keys["dir"] / "apns.p8"}" {APNS_KEY_ID} {APNS_TEAM_ID} {APNS_TOPIC} '
        f'127.0.0.1:{apns["port"]}',
        f'UcwaPushFcm "{fcm["accounts"]["sa"]}" {fcm["base"]}',
        f'UcwaPushCAFile "{ca}"',
        # web-push-testing is plain HTTP on loopback: allowed here only
        "UcwaPushAllowHttp On",
        "UcwaPushAllowEndpoint localhost 127.0.0.1 ::1",
        "UcwaPushBackgroundAfter 1",
        "UcwaMaxApplicationsPerUser 0",
        extra]
    return "\n".join([FAST] + lines)


@pytest.fixture(scope="module")
def st(workdir, state):
    st = state_with_tags(workdir, state, "state-push", {"dave@contoso.test": "nopush"})
    mobility.make_directory(st, mobility.Topology())
    return st


@pytest.fixture(scope="module")
def fe(workdir, st, keys, vapid_key, apns, fcm):
    extra = push_config(workdir, keys, vapid_key, apns, fcm, extra="<UcwaMobilityPolicy nopush>\n"
                        "    EnablePushNotifications Off\n</UcwaMobilityPolicy>")
    f = start_fe(workdir, st, "ucwa-push", servers=2, extra=extra)
    yield f
    stop_fe(f)


def signed_in(fe, user):
    app = fe.user(user).create()
    app.available({"SupportedModalities": ["Messaging"]})
    app.poll("timeout=1")   # makeMeAvailable's events
    return app


def register(app, body, expect=201):
    r = app.post("/pushRegistrations", body)
    assert r.status_code == expect, r.text
    return r.json()


def webpush_registration(app, wpt):
    key = app.get("/pushRegistrations").json()["applicationServerKey"]
    sub = subscribe(wpt, key)
    reg = register(app, {"provider": "WebPush", "endpoint": sub["endpoint"],
                         "keys": {"p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"]}})
    return sub, reg


def background(app):
    assert app.post("/reportBackground").status_code == 204


def invite(app, to, text=SECRET):
    r = app.post("/communication/messagingInvitations",
                 {"to": to, "message": "data:text/plain;charset=utf-8," + urllib.parse.quote(text)})
    assert r.status_code == 201, r.text


def wait_for(fn, timeout=10, what="the push"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come in {timeout} s")


def registrations(app):
    r = app.get("/pushRegistrations")
    assert r.status_code == 200, r.text
    return r.json()["_embedded"]["pushRegistration"]


def test_webpush_invitation_reaches_a_background_app(fe, wpt):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    # with a provider on, the application links the extension
    assert bob.doc["_links"]["pushRegistrations"]["href"] == bob.self + "/pushRegistrations"
    assert bob.doc["_links"]["reportBackground"]["href"] == bob.self + "/reportBackground"
    sub, reg = webpush_registration(bob, wpt)
    assert reg["provider"] == "WebPush" and reg["endpoint"] == sub["endpoint"]
    assert "auth" not in reg["keys"]                      # the secret is never read back
    assert [r["id"] for r in registrations(bob)] == [reg["id"]]
    background(bob)
    t0 = time.time()
    invite(alice, "sip:bob@contoso.test")
    got = wait_for(lambda: notifications(wpt, sub["clientHash"]))
    latency = time.time() - t0
    assert len(got) == 1, got
    n = got[0]
    # decrypted by the push service: what the phone would show, and nothing more
    assert n["event"] == "invitation" and n["badge"] == 1 and n["conversation"], n
    assert SECRET not in json.dumps(n) and "Alice" not in json.dumps(n)
    assert latency < 5, latency
    # push is a wake-up: the event channel still has everything
    pkg = bob.poll("timeout=1")
    assert ("communication", "started", "messagingInvitation") in [
        (s, t, rel) for s, t, rel, _ in events_of(pkg)]


def test_foreground_app_gets_no_push(fe, wpt):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    sub, _ = webpush_registration(bob, wpt)
    h = in_thread(bob.poll, "timeout=5")   # parked: in the foreground
    time.sleep(0.3)
    invite(alice, "sip:bob@contoso.test", "hello")
    pkg, _ = h.result()
    assert any(rel == "messagingInvitation" for _, _, rel, _ in events_of(pkg))
    time.sleep(1.5)
    assert notifications(wpt, sub["clientHash"]) == []


def test_burst_folds_into_one_notification_with_a_badge(fe, wpt):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    sub, _ = webpush_registration(bob, wpt)
    # connect first (foreground), then bob leaves and alice writes three times
    invite(alice, "sip:bob@contoso.test", "hi")
    inv = None
    for _ in range(5):
        for s, t, rel, ev in events_of(bob.poll("timeout=1")):
            if rel == "messagingInvitation" and t == "started":
                inv = ev["_embedded"]["messagingInvitation"]
        if inv:
            break
    assert bob.post(inv["_links"]["accept"]["href"][len(bob.self):]).status_code == 204
    bob.poll("timeout=1")
    alice_conv = None
    for _ in range(5):
        for s, t, rel, ev in events_of(alice.poll("timeout=1")):
            if rel == "conversation":
                alice_conv = ev["link"]["href"]
        if alice_conv:
            break
    background(bob)
    for text in ("one", "two", "three"):
        r = alice.post(alice_conv[len(alice.self):] + "/messaging/messages", data=text,
                       headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
    time.sleep(1.5)
    # the messages' notifications only: on a slow machine bob may already count as in the
    # background (no event GET for UcwaPushBackgroundAfter) when the invitation comes
    got = [g for g in notifications(wpt, sub["clientHash"]) if g["event"] == "message"]
    assert 1 <= len(got) <= 3, got
    assert got[-1]["badge"] == 3 and got[-1]["event"] == "message", got
    # folding while queued is unit-tested (test_ucwa_push.c): here they may go one by one
    assert all(g["conversation"] == got[0]["conversation"] for g in got)


def test_expired_subscription_is_removed(fe, wpt):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    sub, reg = webpush_registration(bob, wpt)
    status, _ = http_json(f"{wpt}/expire-subscription/{sub['clientHash']}", "POST", {}, raw=True)
    assert status == 200
    background(bob)
    invite(alice, "sip:bob@contoso.test")
    wait_for(lambda: registrations(bob) == [], what="the deletion of the registration")
    assert "UCWA00256" in fe.apache.log_text()


def test_apns_with_a_verified_provider_token(fe, apns_mock):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    register(bob, {"provider": "APNs", "token": DEVICE, "language": "en-US"})
    background(bob)
    invite(alice, "sip:bob@contoso.test")
    pushes = wait_for(lambda: apns_mock["control"]("GET", "/mock/pushes"))
    p = pushes[0]
    assert p["http_version"] == "2.0" and p["token"] == DEVICE
    assert p["headers"]["apns-topic"] == APNS_TOPIC
    assert p["headers"]["apns-push-type"] == "alert"
    assert p["headers"]["apns-collapse-id"]
    assert p["payload"]["aps"]["badge"] == 1 and p["payload"]["event"] == "invitation"
    assert SECRET not in json.dumps(p["payload"])
    # the device is gone: 410, and the registration with it
    apns_mock["control"]("POST", "/mock/fail", {"token": DEVICE, "status": 410})
    background(bob)
    carol = signed_in(fe, "alice@contoso.test")   # a second device of alice's
    invite(carol, "sip:bob@contoso.test")
    wait_for(lambda: registrations(bob) == [], what="the deletion of the registration")


def test_fcm_token_then_retry_after_429(fe, fcm_mock):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    register(bob, {"provider": "FCM", "token": FCM_TOKEN})
    fcm_mock["control"]("POST", "/mock/fail", {"token": FCM_TOKEN, "status": 429,
                                               "retry_after": 1})
    background(bob)
    t0 = time.time()
    invite(alice, "sip:bob@contoso.test")
    msgs = wait_for(lambda: fcm_mock["control"]("GET", "/mock/messages"), timeout=15)
    assert time.time() - t0 >= 0.9          # Retry-After was honoured
    m = msgs[0]["message"] if "message" in msgs[0] else msgs[0]
    text = json.dumps(m)
    assert FCM_TOKEN in text and "invitation" in text and SECRET not in text
    assert "UCWA00253" in fe.apache.log_text()   # the 429 was logged


def test_registration_bad_input(fe):
    bob = signed_in(fe, "bob@contoso.test")
    p256dh = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
    good_auth = base64.urlsafe_b64encode(b"\x02" * 16).rstrip(b"=").decode()
    cases = [
        {"provider": "Carrier pigeon", "token": "x"},
        {"provider": "WebPush", "endpoint": "ftp://push.example/x", "keys": {}},
        {"provider": "WebPush", "endpoint": "https://10.1.2.3/push",
         "keys": {"p256dh": p256dh, "auth": good_auth}},          # private, not allowed
        {"provider": "WebPush", "endpoint": "https://user:pw@push.example/x",
         "keys": {"p256dh": p256dh, "auth": good_auth}},
        {"provider": "WebPush", "endpoint": "http://localhost:1/x",
         "keys": {"p256dh": "A" * 5000, "auth": good_auth}},       # oversized key
        {"provider": "WebPush", "endpoint": "http://localhost:1/x",
         "keys": {"p256dh": p256dh, "auth": good_auth}},           # not a curve point
        {"provider": "APNs", "token": "not hex"},
        {"provider": "APNs", "token": "ab" * 101},
        {"provider": "FCM", "token": ""},
        {"provider": "FCM", "token": "x", "language": "en US; drop"},
    ]
    for body in cases:
        r = bob.post("/pushRegistrations", body)
        assert_error(r, 400, "BadRequest", "ParameterValidationFailure")
    assert registrations(bob) == []
    assert bob.get("/pushRegistrations/" + "A" * 24).status_code == 404
    assert bob.get("/pushRegistrations/../../x").status_code == 404


def test_registrations_belong_to_the_user_and_device(fe):
    bob = fe.user("bob@contoso.test").create(endpointId="bobs-phone", instanceId="1")
    reg = register(bob, {"provider": "APNs", "token": DEVICE})
    # registering the same channel again is the same registration
    again = register(bob, {"provider": "APNs", "token": DEVICE, "language": "fr-FR"}, expect=200)
    assert again["id"] == reg["id"] and again["language"] == "fr-FR"
    # someone else's does not exist
    alice = signed_in(fe, "alice@contoso.test")
    assert_error(alice.get("/pushRegistrations/" + reg["id"]), 404, "NotFound")
    r = alice.user.request("DELETE", alice.self + "/pushRegistrations/" + reg["id"])
    assert r.status_code == 404
    # a new application on bob's phone finds it (and is push-capable); another device not
    same_phone = fe.user("bob@contoso.test").create(endpointId="bobs-phone", instanceId="2")
    assert [x["id"] for x in registrations(same_phone)] == [reg["id"]]
    other = signed_in(fe, "bob@contoso.test")
    assert registrations(other) == []
    r = bob.user.request("DELETE", bob.self + "/pushRegistrations/" + reg["id"])
    assert r.status_code == 204
    assert registrations(bob) == [] and registrations(same_phone) == []


def test_policy_without_push_refuses_registration(fe):
    dave = signed_in(fe, "dave@contoso.test")
    r = dave.post("/pushRegistrations", {"provider": "APNs", "token": DEVICE})
    assert_error(r, 403, "Forbidden", "PushNotificationsDisabled")


def test_queue_survives_a_graceful_restart(fe, apns_mock):
    bob, alice = signed_in(fe, "bob@contoso.test"), signed_in(fe, "alice@contoso.test")
    register(bob, {"provider": "APNs", "token": DEVICE})
    # APNs is down for the first two attempts (1 s, then 2 s apart)
    apns_mock["control"]("POST", "/mock/fail", {"token": DEVICE, "status": 503, "times": 2})
    background(bob)
    invite(alice, "sip:bob@contoso.test")
    time.sleep(0.5)
    fe.apache.graceful()
    # the job waits in the store's queue through the restart (the status page counts it)
    assert fe.status()["pushQueued"] + fe.status()["pushSending"] >= 1
    pushes = wait_for(lambda: apns_mock["control"]("GET", "/mock/pushes"), timeout=20)
    assert len(pushes) == 1 and pushes[0]["payload"]["event"] == "invitation"
    wait_for(lambda: fe.status()["pushQueued"] == 0, what="an empty queue")


def test_mcx_push_capable_session_registers_and_is_woken(fe, wpt):
    import sys
    sys.path.insert(0, str(mobility.REPO / "mod_mcx" / "client"))
    from mcx_client import McxClient, McxFault
    bob = McxClient(fe.origin, str(fe.ca))
    bob.sign_in("bob@contoso.test", mobility.DEMO_PASSWORD, kind="PushCapable")
    assert bob.me["Lifetime"] == 259200
    key = signed_in(fe, "bob@contoso.test").get("/pushRegistrations").json()[
        "applicationServerKey"]
    sub = subscribe(wpt, key)
    rid = bob.register_push("WebPush", endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                            auth=sub["keys"]["auth"])
    assert rid and len(rid) == 24
    # no GetNotifications for over UcwaPushBackgroundAfter: in the background
    time.sleep(1.2)
    alice = signed_in(fe, "alice@contoso.test")
    invite(alice, "sip:bob@contoso.test")
    got = wait_for(lambda: notifications(wpt, sub["clientHash"]))
    assert got[0]["event"] == "invitation" and SECRET not in json.dumps(got[0])
    # the app comes back: the invitation is on its notification channel
    batch, notes = bob.get_notifications(timeout=1)
    assert any(n["kind"] == "Invitation" and n.get("text") == SECRET for n in notes), notes
    bob.unregister_push(rid)
    with pytest.raises(McxFault) as gone:
        bob.unregister_push(rid)          # it is gone
    assert gone.value.code == "NotFound"
    bob.sign_out()


# --- a second Front End: APNs and WebPush only (FCM is on globally and off for this
# server's site, Site1), https endpoints only, previews on, short invitation and idle
# timeouts ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fe2(workdir, st, keys, vapid_key, apns, fcm):
    extra = push_config(workdir, keys, vapid_key, apns, fcm,
                        extra="UcwaPushProvider FCM Off site:site1\n"
                              "UcwaPushContent Preview\nUcwaInvitationTimeout 2\n"
                              "UcwaCallRingTimeout 2\n"
                              "UcwaApplicationIdleTimeout 10\nUcwaPushSessionLifetime 60")
    # this one keeps WebPush to https, as production does
    extra = extra.replace("UcwaPushAllowHttp On", "UcwaPushAllowHttp Off")
    f = start_fe(workdir, st, "ucwa-push2", servers=2, extra=extra)
    yield f
    stop_fe(f)


def test_non_https_endpoints_and_disabled_providers_are_refused(fe2):
    bob = signed_in(fe2, "bob@contoso.test")
    p256dh = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
    r = bob.post("/pushRegistrations", {"provider": "UnifiedPush",
                                        "endpoint": "http://localhost:8080/up/x",
                                        "keys": {"p256dh": p256dh, "auth": "A" * 22}})
    assert_error(r, 400, "BadRequest", "ParameterValidationFailure")
    assert "https" in r.json()["message"]
    assert_error(bob.post("/pushRegistrations", {"provider": "FCM", "token": FCM_TOKEN}),
                 403, "Forbidden", "ProviderDisabled")
    assert bob.get("/pushRegistrations").json()["providers"] == ["WebPush", "UnifiedPush",
                                                                 "APNs"]


def test_preview_then_missed_invitation(fe2, apns_mock):
    bob, alice = signed_in(fe2, "bob@contoso.test"), signed_in(fe2, "alice@contoso.test")
    register(bob, {"provider": "APNs", "token": DEVICE})
    background(bob)
    invite(alice, "sip:bob@contoso.test", "Lunch at noon?")
    first = wait_for(lambda: apns_mock["control"]("GET", "/mock/pushes"))[0]
    alert = first["payload"]["aps"]["alert"]
    assert alert["title"].startswith("Alice") and alert["body"] == "Lunch at noon?", first
    # nobody answers within UcwaInvitationTimeout: a missed conversation, same collapse id
    pushes = wait_for(lambda: [p for p in apns_mock["control"]("GET", "/mock/pushes")
                               if p["payload"]["event"] == "missed"], timeout=10)
    assert pushes[0]["headers"]["apns-collapse-id"] == first["headers"]["apns-collapse-id"]
    assert pushes[0]["payload"]["aps"]["badge"] == 2


def test_incoming_call_then_missed_call(fe2, apns_mock):
    bob = fe2.user("bob@contoso.test").create()
    bob.available({"SupportedModalities": ["Messaging", "Audio", "Video"]})
    bob.poll("timeout=1")
    alice = signed_in(fe2, "alice@contoso.test")
    register(bob, {"provider": "APNs", "token": DEVICE})
    background(bob)
    offer = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
    r = alice.post("/communication/audioVideoInvitations",
                   {"to": "sip:bob@contoso.test", "_links": {"mediaOffer": {
                       "href": "data:application/sdp;base64," + base64.b64encode(offer).decode()}}})
    assert r.status_code == 201, r.text
    # the call at once, at the highest priority; then, unanswered, a missed call
    call = wait_for(lambda: [p for p in apns_mock["control"]("GET", "/mock/pushes")
                             if p["payload"]["event"] == "call"])[0]
    assert call["headers"]["apns-priority"] == "10"
    assert call["payload"]["aps"]["alert"]["body"] == "Incoming call"
    missed = wait_for(lambda: [p for p in apns_mock["control"]("GET", "/mock/pushes")
                               if p["payload"]["event"] == "missed-call"], timeout=10)[0]
    assert missed["headers"]["apns-collapse-id"] == call["headers"]["apns-collapse-id"]


def test_registered_app_lives_past_the_idle_timeout(fe2):
    registered = fe2.user("bob@contoso.test").create()
    register(registered, {"provider": "APNs", "token": DEVICE})
    plain = fe2.user("alice@contoso.test").create()
    time.sleep(12.5)      # UcwaApplicationIdleTimeout 10, the sweeper once a second
    assert_error(plain.get(), 410, "Gone", "InactiveApplicationExpired")
    assert registered.get().status_code == 200
