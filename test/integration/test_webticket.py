"""Sign-in: POST /WebTicket/oauthtoken, bearer tokens on the user resource, and what an
attacker sees: the same failure whether or not the user exists, lockout, plain HTTP."""
import base64
import hashlib
import hmac
import json
import statistics
import time

import pytest

import mobility
from conftest import forge_token, sign_payload, token_payload

ROOT = "/Autodiscover/AutodiscoverService.svc/root"
FORM = {"grant_type": "password", "username": "alice@contoso.test",
        "password": mobility.DEMO_PASSWORD}


def post_token(http, base, data=None, **kw):
    return http.post(base + "/WebTicket/oauthtoken", data=FORM if data is None else data, **kw)


def test_password_grant_issues_a_bearer_token(deployment, http, urls, check_logs):
    r = post_token(http, urls["external"])
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "ms_rtc_identityscope", "token_type"}
    assert body["access_token"].startswith("cwt=")
    assert body["expires_in"] == 8 * 3600
    assert body["token_type"] == "Bearer" and body["ms_rtc_identityscope"] == "local"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("username", ["sip:alice@contoso.test", "Alice@Contoso.TEST"])
def test_username_forms(deployment, http, urls, username, check_logs):
    r = post_token(http, urls["internal"], dict(FORM, username=username))
    assert r.status_code == 200


def test_token_works_at_the_user_resource(deployment, http, urls, token, check_logs):
    r = http.get(urls["external"] + ROOT + "/oauth/user",
                 headers={"Authorization": "Bearer " + token()})
    assert r.status_code == 200
    assert "applications" in r.json()["_links"]


def _failure_view(r):
    """Everything a client can observe of a failed sign-in, minus the date."""
    headers = {k: v for k, v in r.headers.items() if k not in ("Date", "Keep-Alive", "Connection")}
    return r.status_code, headers, r.content


def test_unknown_user_and_wrong_password_look_the_same(deployment, http, urls, check_logs):
    wrong = post_token(http, urls["internal"], dict(FORM, password="not-the-password"))
    unknown = post_token(http, urls["internal"], dict(FORM, username="nobody@contoso.test"))
    t = time.monotonic()
    malformed = post_token(http, urls["internal"], dict(FORM, username="no body\\@contoso"))
    assert time.monotonic() - t >= 0.25   # no shortcut for names that cannot exist
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant"}
    assert _failure_view(wrong) == _failure_view(unknown) == _failure_view(malformed)


def test_unknown_user_costs_the_same_time_as_wrong_password(deployment, http, urls, check_logs):
    def timed(form):
        t = time.monotonic()
        r = post_token(http, urls["internal"], form)
        assert r.status_code == 400
        return time.monotonic() - t
    wrong, unknown = [], []
    for i in range(4):   # under the lockout threshold of 10
        wrong.append(timed(dict(FORM, username="bob@contoso.test", password=f"bad{i}")))
        unknown.append(timed(dict(FORM, username=f"ghost{i}@contoso.test")))
    # failures are answered on the 250 ms grid: both at least one step, and equal medians
    assert min(wrong + unknown) >= 0.25
    assert abs(statistics.median(wrong) - statistics.median(unknown)) < 0.1


@pytest.mark.parametrize("data,error", [
    ({"grant_type": "urn:microsoft.rtc:windows"}, "unsupported_grant_type"),
    ({"grant_type": "urn:microsoft.rtc:anonmeeting", "password": "x"}, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({"username": "alice@contoso.test", "password": "x"}, "invalid_request"),
    ({"grant_type": "password", "username": "alice@contoso.test"}, "invalid_request"),
    ({"grant_type": "password", "password": "x"}, "invalid_request"),
    (dict(FORM, scope="everything"), "invalid_scope"),
    ("grant_type=password&grant_type=password&username=a@b.c&password=x", "invalid_request"),
    ("grant_type=password&username=%ZZ&password=x", "invalid_request"),
    ("grant_type=password&username=%C0%80@contoso.test&password=x", "invalid_request"),
    ("grant_type=password&username=alice%00@contoso.test&password=x", "invalid_request"),
    ("&&&=&", "invalid_request"),
    ("grant_type=password&username=alice@contoso.test&password=" + "A" * 9000, "invalid_request"),
])
def test_bad_token_requests_get_the_oauth_error(deployment, http, urls, data, error, check_logs):
    r = post_token(http, urls["internal"], data,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    assert r.json() == {"error": error}
    assert "X-Ms-diagnostics" in r.headers


def test_token_request_must_be_a_form(deployment, http, urls, check_logs):
    r = http.post(urls["internal"] + "/WebTicket/oauthtoken", data=json.dumps(FORM),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json() == {"error": "invalid_request"}


def test_huge_token_body_is_refused(deployment, http, urls, check_logs):
    r = http.post(urls["internal"] + "/WebTicket/oauthtoken", data=b"a=" + b"b" * 2_000_000,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json() == {"error": "invalid_request"}


def test_token_endpoint_methods(deployment, http, urls, check_logs):
    r = http.get(urls["internal"] + "/WebTicket/oauthtoken")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = http.options(urls["internal"] + "/webticket/OAUTHTOKEN")
    assert r.status_code == 400
    assert r.headers["X-Ms-diagnostics"].startswith("28020;")


def test_credentials_refused_over_plain_http_on_the_external_site(deployment, http, topo,
                                                                 token, check_logs):
    fe_ext_http = f"http://{topo.fe_addr}:{topo.fe_ext_http}"
    r = post_token(http, fe_ext_http, headers={"Host": topo.webext})
    assert r.status_code == 400 and r.json() == {"error": "invalid_request"}
    r = http.get(fe_ext_http + ROOT + "/oauth/user",
                 headers={"Host": topo.webext, "Authorization": "Bearer " + token()})
    assert r.status_code == 403
    # the internal site's plain HTTP port accepts them (the admin's network)
    assert post_token(http, f"http://{topo.lyncdiscoverinternal}:{topo.fe_http}").status_code == 200


@pytest.mark.parametrize("auth", [
    "Bearer cwt=AAAA.BBBB", "Bearer ", "Bearer " + "A" * 5000, "Bearer cwt=" + "x." * 600,
    "Bearer cwt=MQphbGljZQ.", "Negotiate TlRMTVNTUAABAAAA", "Basic !!!", "Bearer cwt=\xff\xfe.\xff",
])
def test_bad_bearer_tokens_get_401(deployment, http, urls, auth, check_logs):
    r = http.get(urls["internal"] + ROOT + "/oauth/user", headers={"Authorization": auth})
    assert r.status_code == 401
    assert any(c.startswith("MsRtcOAuth ") for c in r.raw.headers.getlist("WWW-Authenticate"))


def test_expired_and_foreign_tokens_are_refused(deployment, http, urls, state, check_logs):
    key = (state / "token.key").read_bytes()
    now = int(time.time())
    good = forge_token(key, "alice@contoso.test", now, now + 60)
    r = http.get(urls["internal"] + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + good})
    assert r.status_code == 200   # the forge helper matches the server's format
    expired = forge_token(key, "alice@contoso.test", now - 7200, now - 1)
    r = http.get(urls["internal"] + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + expired})
    assert r.status_code == 401
    assert "expired" in r.headers["X-Ms-diagnostics"]
    foreign = forge_token(b"k" * 32, "alice@contoso.test", now, now + 60)
    r = http.get(urls["internal"] + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + foreign})
    assert r.status_code == 401
    assert "invalid" in r.headers["X-Ms-diagnostics"]


def test_signed_tokens_not_in_the_issuers_form_are_refused(deployment, http, urls, state,
                                                           check_logs):
    """Issue 10, defect 4: signed with the server's own key, a payload with a sixth field,
    an upper-case user or a "sip:" prefix was accepted (the upper-case one became a
    separate user in the UCWA store). Only the exact form the issuer writes passes."""
    key = (state / "token.key").read_bytes()
    now = int(time.time())
    good = token_payload("alice@contoso.test", now, now + 60)
    bad = {
        "sixth field": good + "\nadmin",
        "trailing LF": good + "\n",
        "upper case": token_payload("Alice@Contoso.test", now, now + 60),
        "all upper": token_payload("ALICE@CONTOSO.TEST", now, now + 60),
        "sip: prefix": token_payload("sip:alice@contoso.test", now, now + 60),
        "short nonce": f"1\nalice@contoso.test\n{now}\n{now + 60}\nx",
        "signed time": f"1\nalice@contoso.test\n+{now}\n{now + 60}\n" + good.split("\n")[4],
    }
    ucwa = urls["internal"] + "/ucwa/oauth/v1/applications"
    body = {"userAgent": "t", "endpointId": "defect4", "culture": "en-US"}
    r = http.get(urls["internal"] + ROOT + "/oauth/user",
                 headers={"Authorization": "Bearer " + sign_payload(key, good)})
    assert r.status_code == 200   # the same helper, in the issuer's form
    refused = {}
    for why, payload in bad.items():
        auth = {"Authorization": "Bearer " + sign_payload(key, payload)}
        r = http.get(urls["internal"] + ROOT + "/oauth/user", headers=auth)
        u = http.post(ucwa, json=body, headers=auth)
        refused[why] = (r.status_code, u.status_code)
        if r.status_code == 401:
            assert "invalid" in r.headers["X-Ms-diagnostics"]
    assert refused == {why: (401, 401) for why in bad}, refused


def test_lockout_per_account(variant, http, check_logs):
    fe = variant("lockout", extra="AutodiscoverAccountLockout 3 60\nAutodiscoverFailureDelay 10")
    base = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_https}"
    bob = dict(FORM, username="bob@contoso.test")
    for i in range(3):   # three different wrong passwords (a repeated one counts once)
        assert post_token(http, base, dict(bob, password=f"wrong{i}")).status_code == 400
    locked = post_token(http, base, bob)          # the right password, while locked
    wrong = post_token(http, base, dict(bob, password="wrong"))
    assert _failure_view(locked) == _failure_view(wrong)
    assert post_token(http, base).status_code == 200   # alice is not affected
    assert "AD00015" in fe.log_text()


def test_lockout_survives_graceful_restart_and_spans_children(variant, http, check_logs):
    fe = variant("lockout2", extra="AutodiscoverAccountLockout 4 60\nAutodiscoverFailureDelay 1",
                 servers=3)
    base = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_https}"
    bob = dict(FORM, username="bob@contoso.test")
    for i in range(2):
        post_token(http, base, dict(bob, password=f"wrong{i}"))
    fe.graceful()
    time.sleep(1.5)
    for i in range(2, 4):
        http.close()   # new connections: other children
        post_token(http, base, dict(bob, password=f"wrong{i}"))
    assert post_token(http, base, bob).status_code == 400


def test_lockout_per_address(variant, http, check_logs):
    fe = variant("lockout3", extra="AutodiscoverAddressLockout 5 60\nAutodiscoverFailureDelay 1")
    base = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_https}"
    for i in range(5):   # spraying: one password over many accounts
        post_token(http, base, dict(FORM, username=f"user{i}@contoso.test", password="Spring2026!"))
    assert post_token(http, base).status_code == 400
    assert "AD00016" in fe.log_text()


def test_token_key_rotation(variant, http, workdir, state, check_logs):
    old = (state / "token.key").read_bytes()
    new = workdir / "new.key"
    new.write_bytes(b"n" * 32)
    fe = variant("rotation", extra=f"AutodiscoverTokenKeyFile {new} {state / 'token.key'}")
    base = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_https}"
    now = int(time.time())
    old_token = forge_token(old, "alice@contoso.test", now, now + 60)
    r = http.get(base + ROOT + "/oauth/user", headers={"Authorization": "Bearer " + old_token})
    assert r.status_code == 200, "a token signed with the previous key must still work"
    issued = post_token(http, base).json()["access_token"]
    payload, mac = issued[4:].split(".")
    # new tokens are signed with the first key
    want = base64.urlsafe_b64encode(hmac.new(b"n" * 32, payload.encode(), hashlib.sha256)
                                    .digest()).rstrip(b"=").decode()
    assert mac == want


def test_token_lifetime_directive(variant, http, check_logs):
    fe = variant("lifetime", extra="AutodiscoverTokenLifetime 120")
    base = f"https://{fe.topo.lyncdiscoverinternal}:{fe.topo.fe_https}"
    assert post_token(http, base).json()["expires_in"] == 120
