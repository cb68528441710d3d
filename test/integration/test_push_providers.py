"""Push providers end to end: common/push/push_* (driven by test/tools/push_probe) against
web-push-testing and the APNs and FCM mocks (push_services.py), all on loopback. No
Apache instance.

Environment:
  PUSH_BUILD        build directory for push_probe (default <repo>/build; the probe lands
                    in $PUSH_BUILD/unit/push_probe, built by `make -C test/unit tools`)
  PUSH_PROBE        an already built push_probe (then nothing is built)"""
import json
import os
import subprocess
import time

import pytest

# the fixtures are imported so that pytest finds them here (noqa: F401, F811)
from push_services import (APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, FCM_EMAIL, FCM_PROJECT,  # noqa
                           REPO, apns, apns_mock, build_dir, compact, fcm, fcm_mock, http_json,
                           keys, notifications, subscribe, web_push_testing, wpt)

# the allow list under which push_probe may send to the local WebPush service
LOOPBACK = ["--allow-http", "--allow", "localhost", "--allow", "127.0.0.1", "--allow", "::1"]


@pytest.fixture(scope="session", autouse=True)
def resolve_demo_names():
    """conftest.py's autouse fixture of the same name (host names of the Apache demo) is
    not needed here: this module talks to loopback addresses only."""
    yield


@pytest.fixture(scope="session")
def probe_bin(build_dir):
    given = os.environ.get("PUSH_PROBE")
    if given:
        return given
    r = subprocess.run(["make", "-s", "-C", str(REPO / "test" / "unit"), f"TOP={REPO}",
                        f"BUILD={build_dir}", "tools"], capture_output=True, text=True)
    assert r.returncode == 0, f"building push_probe failed:\n{r.stdout}\n{r.stderr}"
    path = build_dir / "unit" / "push_probe"
    assert path.exists()
    return str(path)


@pytest.fixture(scope="session")
def probe(probe_bin):
    """probe(provider, *args, ok=True): runs push_probe, returns its JSON. ok=False lets a
    refused request (exit 2, {"error": ...}) through."""
    def run(provider, *args, ok=True):
        r = subprocess.run([probe_bin, provider, *map(str, args)], capture_output=True,
                           text=True, timeout=60)
        assert r.stdout.strip(), f"push_probe printed nothing (rc {r.returncode}): {r.stderr}"
        out = json.loads(r.stdout)
        if ok:
            assert r.returncode == 0, f"push_probe failed: {out}"
        else:
            assert r.returncode in (0, 2), r.stderr
        return out
    return run


# ---- WebPush: web-push-testing ---------------------------------------------------------------

@pytest.fixture
def vapid(probe):
    return probe("vapid-keygen")


def webpush_args(sub, vapid_keys, *extra):
    return ["--endpoint", sub["endpoint"], "--p256dh", sub["keys"]["p256dh"],
            "--auth", sub["keys"]["auth"], "--vapid-private", vapid_keys["private"],
            "--subject", "mailto:push-test@contoso.test", *LOOPBACK, *extra]


def test_webpush_delivers_the_decrypted_payload(wpt, probe, vapid):
    sub = subscribe(wpt, vapid["public"])
    out = probe("webpush", *webpush_args(sub, vapid, "--title", "Alice", "--body", "Lunch? \u00e9",
                                         "--conversation", "conv-1", "--badge", 4,
                                         "--urgency", "high", "--ttl", 120,
                                         "--data", "sender=sip:alice@contoso.test",
                                         "--count", 2))
    assert out["result"] == "OK"
    first, second = out["exchanges"]
    assert first["status"] == 201 and second["status"] == 201
    assert first["new_connection"] and not second["new_connection"]     # one connection
    h = first["request"]["headers"]
    assert h["Content-Encoding"] == "aes128gcm"
    assert h["Content-Type"] == "application/octet-stream"
    assert h["TTL"] == "120" and h["Urgency"] == "high" and h["Topic"] == "conv-1"
    assert h["Authorization"].startswith("vapid t=")
    assert h["Authorization"].endswith(", k=" + vapid["public"])
    want = {"event": "message", "conversation": "conv-1", "badge": 4, "title": "Alice",
            "body": "Lunch? \u00e9", "data": {"sender": "sip:alice@contoso.test"}}
    assert notifications(wpt, sub["clientHash"]) == [want, want]


def test_webpush_without_customer_data(wpt, probe, vapid):
    sub = subscribe(wpt, vapid["public"])
    out = probe("webpush", *webpush_args(sub, vapid, "--event", "missed", "--conversation",
                                         "sip:bob@contoso.test;conv=7"))
    assert out["result"] == "OK"
    topic = out["exchanges"][0]["request"]["headers"]["Topic"]
    assert len(topic) == 32 and topic.replace("-", "").replace("_", "").isalnum()
    assert notifications(wpt, sub["clientHash"]) == [
        {"event": "missed", "conversation": "sip:bob@contoso.test;conv=7"}]


def test_webpush_wrong_vapid_key_fails(wpt, probe, vapid):
    sub = subscribe(wpt, vapid["public"])
    other = probe("vapid-keygen")
    out = probe("webpush", *webpush_args(sub, other))
    x = out["exchanges"][0]
    assert x["status"] == 400
    assert x["result"] == "FAILED" and out["result"] == "FAILED"
    assert x["reason"] == "Invalid Crypto-Key header sent"
    assert notifications(wpt, sub["clientHash"]) == []


def test_webpush_expired_subscription_is_gone(wpt, probe, vapid):
    sub = subscribe(wpt, vapid["public"])
    assert probe("webpush", *webpush_args(sub, vapid))["result"] == "OK"
    status, _ = http_json(f"{wpt}/expire-subscription/{sub['clientHash']}", "POST", {}, raw=True)
    assert status == 200
    out = probe("webpush", *webpush_args(sub, vapid))
    assert out["exchanges"][0]["status"] == 410
    assert out["result"] == "GONE"
    assert len(notifications(wpt, sub["clientHash"])) == 1


def test_webpush_endpoint_policy(wpt, probe, vapid):
    sub = subscribe(wpt, vapid["public"])
    base = ["--endpoint", sub["endpoint"], "--p256dh", sub["keys"]["p256dh"],
            "--auth", sub["keys"]["auth"], "--vapid-private", vapid["private"],
            "--subject", "mailto:push-test@contoso.test"]
    # plain http and localhost are refused unless allowed
    out = probe("webpush", *base, ok=False)
    assert out == {"error": "cannot build the request: the endpoint is not https"}
    out = probe("webpush", *base, "--allow-http", ok=False)
    assert out == {"error": "cannot build the request: the endpoint's host is localhost"}
    # the name allowed, but not the addresses it resolves to: the sender refuses to
    # connect (what stops a name that resolves, or is rebound, to an internal address)
    out = probe("webpush", *base, "--allow-http", "--allow", "localhost")
    x = out["exchanges"][0]
    assert x["address_refused"] and x["status"] == 0
    assert out["result"] == "FAILED"
    assert notifications(wpt, sub["clientHash"]) == []


def test_webpush_payload_limit(wpt, probe, vapid):
    sub = subscribe(wpt, vapid["public"])
    # the plaintext is {"event":"message","body":"..."}: at most 3993 bytes of it
    room = 3993 - len(compact({"event": "message", "body": ""}))
    out = probe("webpush", *webpush_args(sub, vapid, "--body", "x" * room))
    assert out["result"] == "OK"
    assert out["exchanges"][0]["request"]["body_len"] == 4096
    out = probe("webpush", *webpush_args(sub, vapid, "--body", "x" * (room + 1)), ok=False)
    assert out == {"error": "cannot build the request: the payload is larger than 3993 bytes"}
    got = notifications(wpt, sub["clientHash"])
    assert len(got) == 1 and got[0]["body"] == "x" * room


# ---- APNs: apns_mock.js ----------------------------------------------------------------------

DEVICE = "5f1e8c2a9b7d3e6f0a4c8b2d6e9f1a3c5e7b9d0f2a4c6e8b1d3f5a7c9e0b2d4f"


@pytest.fixture
def apns_send(probe, keys, apns):
    def send(*extra, key="apns.p8", ok=True):
        return probe("apns", "--host", f"127.0.0.1:{apns['port']}", "--topic", APNS_TOPIC,
                     "--device", DEVICE, "--key", keys["dir"] / key, "--key-id", APNS_KEY_ID,
                     "--team-id", APNS_TEAM_ID, "--ca", keys["cert"], *extra, ok=ok)
    return send


def test_apns_delivers_over_http2(apns_mock, apns_send):
    out = apns_send("--title", "Alice", "--body", "Lunch?", "--conversation", "conv-9",
                    "--badge", 2, "--urgency", "high", "--ttl", 300, "--data", "kind=im",
                    "--count", 3)
    assert out["result"] == "OK"
    xs = out["exchanges"]
    assert [x["status"] for x in xs] == [200, 200, 200]
    assert all(x["http_version"] == 2 for x in xs)
    assert [x["new_connection"] for x in xs] == [True, False, False]   # one connection
    pushes = apns_mock["control"]("GET", "/mock/pushes")
    assert len(pushes) == 3
    p = pushes[0]
    assert p["http_version"] == "2.0"
    assert p["token"] == DEVICE and p["apns_id"] == xs[0]["apns_id"]
    assert p["payload"] == {"aps": {"alert": {"title": "Alice", "body": "Lunch?"}, "badge": 2,
                                    "sound": "default"},
                            "event": "message", "conversation": "conv-9", "kind": "im"}
    h = p["headers"]
    assert h["apns-topic"] == APNS_TOPIC and h["apns-push-type"] == "alert"
    assert h["apns-priority"] == "10" and h["apns-collapse-id"] == "conv-9"
    assert abs(int(h["apns-expiration"]) - (time.time() + 300)) < 60
    assert h["authorization"].startswith("bearer ey")
    # one provider token for the three
    assert len({q["headers"]["authorization"] for q in pushes}) == 1


def test_apns_mock_refuses_http1(apns_mock, keys):
    # what makes the 200s above an HTTP/2 proof: the mock does not take pushes over 1.1
    status, body = http_json(f"{apns_mock['base']}/3/device/{DEVICE}", "POST", {"aps": {}},
                             ctx=keys["ctx"])
    assert status == 505 and body == {"reason": "HTTP2Required"}


def test_apns_no_customer_data(apns_mock, apns_send):
    out = apns_send("--event", "invitation", "--urgency", "low")
    assert out["result"] == "OK"
    p = apns_mock["control"]("GET", "/mock/pushes")[0]
    assert p["payload"] == {"aps": {"alert": {"loc-key": "push.invitation"}},
                            "event": "invitation"}
    assert p["headers"]["apns-priority"] == "5"


def test_apns_410_is_gone(apns_mock, apns_send):
    apns_mock["control"]("POST", "/mock/fail", {"token": DEVICE, "status": 410})
    out = apns_send()
    x = out["exchanges"][0]
    assert x["status"] == 410 and x["reason"] == "Unregistered"
    assert out["result"] == "GONE"
    assert apns_mock["control"]("GET", "/mock/pushes") == []


def test_apns_bad_device_token_is_gone(apns_mock, apns_send):
    apns_mock["control"]("POST", "/mock/fail", {"token": DEVICE, "status": 400,
                                                "reason": "BadDeviceToken"})
    out = apns_send()
    assert out["exchanges"][0]["status"] == 400 and out["result"] == "GONE"


def test_apns_429_retry_after(apns_mock, apns_send):
    apns_mock["control"]("POST", "/mock/fail", {"token": DEVICE, "status": 429,
                                                "reason": "TooManyRequests", "retry_after": 30})
    out = apns_send("--count", 2)
    first, second = out["exchanges"]
    assert first["status"] == 429 and first["result"] == "RETRY"
    assert first["retry_after"] == "30" and first["retry_in"] == 30
    assert second["status"] == 200 and second["result"] == "OK"    # the failure was once


def test_apns_500_retries(apns_mock, apns_send):
    apns_mock["control"]("POST", "/mock/fail", {"token": DEVICE, "status": 500})
    out = apns_send()
    x = out["exchanges"][0]
    assert x["status"] == 500 and x["reason"] == "InternalServerError"
    assert x["result"] == "RETRY" and x["retry_in"] == 0


def test_apns_expired_provider_token_is_auth(apns_mock, apns_send):
    out = apns_send("--iat-offset", -3700)
    x = out["exchanges"][0]
    assert x["status"] == 403 and x["reason"] == "ExpiredProviderToken"
    assert out["result"] == "AUTH"
    # a fresh token, then once more
    out = apns_send("--iat-offset", -3700, "--refresh-on-auth")
    assert [x["result"] for x in out["exchanges"]] == ["AUTH", "OK"]
    assert len(apns_mock["control"]("GET", "/mock/pushes")) == 1


def test_apns_unknown_key_is_auth(apns_mock, apns_send):
    out = apns_send(key="apns-other.p8")
    x = out["exchanges"][0]
    assert x["status"] == 403 and x["reason"] == "InvalidProviderToken"
    assert out["result"] == "AUTH"


def test_apns_token_updates_at_most_every_20_minutes(apns_mock, apns_send):
    assert apns_send()["result"] == "OK"
    # another token (each run signs a new one) a moment later
    out = apns_send()
    x = out["exchanges"][0]
    assert x["status"] == 429 and x["reason"] == "TooManyProviderTokenUpdates"
    assert out["result"] == "RETRY"
    apns_mock["control"]("POST", "/mock/clock", {"advance": 21 * 60})
    assert apns_send()["result"] == "OK"
    assert len(apns_mock["control"]("GET", "/mock/pushes")) == 2


def test_apns_payload_limit(apns_mock, apns_send):
    room = 4096 - len(compact({"aps": {"alert": {"body": ""}, "sound": "default"},
                               "event": "message"}))
    out = apns_send("--body", "x" * room)
    assert out["result"] == "OK" and out["exchanges"][0]["request"]["body_len"] == 4096
    assert apns_mock["control"]("GET", "/mock/pushes")[0]["payload"]["aps"]["alert"] == {
        "body": "x" * room}
    out = apns_send("--body", "x" * (room + 1), ok=False)
    assert out == {"error": "cannot build the request: the APNs payload is larger than 4096 bytes"}
    assert len(apns_mock["control"]("GET", "/mock/pushes")) == 1


# ---- FCM: fcm_mock.js --------------------------------------------------------------------------

REGISTRATION = "dZx1-fake:APA91bH_registration-token-for-tests"


@pytest.fixture
def fcm_send(probe, keys, fcm):
    def send(*extra, account="sa", ok=True):
        return probe("fcm", "--service-account", fcm["accounts"][account], "--token",
                     REGISTRATION, "--base-url", fcm["base"], "--ca", keys["cert"], *extra, ok=ok)
    return send


def test_fcm_token_then_message(fcm_mock, fcm_send):
    out = fcm_send("--title", "Alice", "--conversation", "conv-3", "--badge", 1,
                   "--urgency", "high", "--ttl", 90, "--data", "kind=im")
    assert out["result"] == "OK"
    token_x, send_x = out["exchanges"]
    assert token_x["what"] == "token" and token_x["status"] == 200
    assert token_x["access_token"].startswith("ya29.mock-")
    assert token_x["request"]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert send_x["what"] == "send" and send_x["status"] == 200
    assert json.loads(send_x["body"]) == {"name": f"projects/{FCM_PROJECT}/messages/1"}
    assert not send_x["new_connection"]          # the token's connection, reused
    msgs = fcm_mock["control"]("GET", "/mock/messages")
    assert len(msgs) == 1
    assert msgs[0]["headers"]["authorization"] == "Bearer " + token_x["access_token"]
    assert msgs[0]["message"] == {
        "token": REGISTRATION,
        "data": {"event": "message", "conversation": "conv-3", "badge": "1", "title": "Alice",
                 "kind": "im"},
        "android": {"collapse_key": "conv-3", "priority": "high", "ttl": "90s"}}
    assert fcm_mock["control"]("GET", "/mock/tokens") == {"issued": 1, "valid": 1}


def test_fcm_unregistered_is_gone(fcm_mock, fcm_send):
    fcm_mock["control"]("POST", "/mock/fail", {"token": REGISTRATION, "status": 404})
    out = fcm_send()
    x = out["exchanges"][-1]
    assert x["status"] == 404 and x["reason"] == "UNREGISTERED"
    assert out["result"] == "GONE"
    assert fcm_mock["control"]("GET", "/mock/messages") == []


def test_fcm_401_is_auth_and_a_new_token_helps(fcm_mock, fcm_send):
    fcm_mock["control"]("POST", "/mock/fail", {"token": REGISTRATION, "status": 401})
    out = fcm_send()
    assert [x["what"] for x in out["exchanges"]] == ["token", "send"]
    assert out["exchanges"][1]["status"] == 401 and out["result"] == "AUTH"
    # the 401 revoked the token; with a refresh on AUTH the send goes through
    fcm_mock["control"]("POST", "/mock/fail", {"token": REGISTRATION, "status": 401})
    out = fcm_send("--refresh-on-auth")
    assert [(x["what"], x["result"]) for x in out["exchanges"]] == [
        ("token", "OK"), ("send", "AUTH"), ("token", "OK"), ("send", "OK")]
    assert out["exchanges"][0]["access_token"] != out["exchanges"][2]["access_token"]
    assert len(fcm_mock["control"]("GET", "/mock/messages")) == 1


def test_fcm_stale_access_token_is_auth(fcm_mock, fcm_send):
    out = fcm_send("--access-token", "ya29.never-issued")
    assert [x["what"] for x in out["exchanges"]] == ["send"]
    assert out["exchanges"][0]["status"] == 401 and out["result"] == "AUTH"


def test_fcm_429_retry_after(fcm_mock, fcm_send):
    fcm_mock["control"]("POST", "/mock/fail", {"token": REGISTRATION, "status": 429,
                                               "retry_after": 17})
    out = fcm_send()
    x = out["exchanges"][-1]
    assert x["status"] == 429 and x["reason"] == "QUOTA_EXCEEDED"
    assert x["result"] == "RETRY" and x["retry_in"] == 17


def test_fcm_500_retries(fcm_mock, fcm_send):
    fcm_mock["control"]("POST", "/mock/fail", {"token": REGISTRATION, "status": 500})
    out = fcm_send()
    assert out["exchanges"][-1]["status"] == 500 and out["result"] == "RETRY"


def test_fcm_assertion_signed_with_another_key_fails(fcm_mock, fcm_send):
    out = fcm_send(account="sa-other")
    assert [x["what"] for x in out["exchanges"]] == ["token"]
    x = out["exchanges"][0]
    assert x["status"] == 400 and x["reason"] == "invalid_grant"
    assert out["result"] == "FAILED"
    assert fcm_mock["control"]("GET", "/mock/tokens")["issued"] == 0


def test_fcm_data_limit(fcm_mock, fcm_send):
    # data: event+message (12) and body (4) around the text
    assert fcm_send("--body", "x" * (4096 - 16))["result"] == "OK"
    out = fcm_send("--body", "x" * (4097 - 16), ok=False)
    assert out == {"error": "cannot build the request: the FCM data is larger than 4096 bytes"}
    assert len(fcm_mock["control"]("GET", "/mock/messages")) == 1
