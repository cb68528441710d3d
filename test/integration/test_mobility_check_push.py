"""mobility-check's push checks: for each provider the configuration switches on, its
credentials load and the provider answers where it can be asked without a device: the
FCM mock gets an access token request and a validate_only send, the APNs mock a TLS
connection speaking HTTP/2 (nothing sent), WebPush's VAPID public key is reported. Broken
on purpose: APNs where nothing listens, a service account FCM does not know. With MCX on,
the 5223 port of Lync 2010 clients is a notice. The Front End need not run: the check
reads its configuration (apache2 -t) and talks to the providers."""
import base64
import json
import os
import subprocess

import pytest

import mobility
from push_services import (APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, FCM_EMAIL,  # noqa
                           apns, apns_mock, build_dir, fcm, fcm_mock, free_port, keys, openssl)

CHECK = mobility.REPO / "tools" / "mobility-check" / "mobility-check"


@pytest.fixture(scope="module")
def vapid_key(keys):
    path = keys["dir"] / "vapid.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", str(path))
    return path


def push_conf(keys, vapid_key, apns_at, sa, fcm_base, providers=("WebPush", "APNs", "FCM"),
              extra=""):
    return "\n".join([f"UcwaPushProvider {p} On" for p in providers] + [
        f'UcwaPushVapidKey "{vapid_key}" mailto:admin@contoso.test',
        f'UcwaPushApns "{keys["dir"] / "apns.p8"}" {APNS_KEY_ID} {APNS_TEAM_ID} {APNS_TOPIC} '
        f"{apns_at}",
        f'UcwaPushFcm "{sa}" {fcm_base}',
        f'UcwaPushCAFile "{keys["cert"]}"', extra])


def run_check(workdir, state, name, extra, mcx="on"):
    topo = mobility.Topology(mcx=mcx)
    fe = mobility.front_end(workdir / name, state, topo, extra=extra)
    p = fe.configtest()       # writes the configuration; the check reads it as apache2 does
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(fe.conf), "--inside",
                        "hosts:/dev/null", "--pool", topo.pool, "--json"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert p.returncode in (0, 1), p.stderr
    r = json.loads(p.stdout)
    r["push"] = {f["check"]: f for f in r["findings"] if f["check"].startswith("push.")}
    r["push_steps"] = {s["name"]: s for s in r["steps"].get("Push providers", [])}
    r["passed_push"] = {x["check"]: x for x in r["passed"] if x["check"].startswith("push.")}
    return r


def test_enabled_providers_load_and_answer(workdir, state, keys, vapid_key, apns_mock,
                                           fcm_mock):
    r = run_check(workdir, state, "mc-push-ok",
                  push_conf(keys, vapid_key, f"127.0.0.1:{apns_mock['port']}",
                            fcm_mock["accounts"]["sa"], fcm_mock["base"]))
    # nothing wrong with push; the 5223 port of Lync 2010 clients is a notice (MCX is on)
    assert set(r["push"]) == {"push.port-5223"}, r["push"]
    assert r["push"]["push.port-5223"]["severity"] == "notice"
    assert "5223" in r["push"]["push.port-5223"]["fix"]
    steps = r["push_steps"]
    assert all(s["ok"] for s in steps.values()), steps
    assert set(steps) == {"WebPush: VAPID key", "APNs: .p8 key (ES256)",
                          f"APNs: 127.0.0.1:{apns_mock['port']} over HTTP/2",
                          "FCM: service account", "FCM: access token",
                          "FCM: dry run (validate_only)"}
    assert "HTTP/2" in steps[f"APNs: 127.0.0.1:{apns_mock['port']} over HTTP/2"]["detail"]
    # the VAPID public key, as openssl computes it (the last 65 bytes of the DER SPKI)
    der = subprocess.run(["openssl", "pkey", "-in", str(vapid_key), "-pubout", "-outform",
                          "DER"], capture_output=True, check=True).stdout
    pub = base64.urlsafe_b64encode(der[-65:]).rstrip(b"=").decode()
    assert pub in r["passed_push"]["push.webpush"]["what"]
    assert {"push.apns", "push.fcm"} <= set(r["passed_push"])
    # FCM got a token request and the dry run; APNs got no push
    assert fcm_mock["control"]("GET", "/mock/tokens")["issued"] == 1
    (msg,) = fcm_mock["control"]("GET", "/mock/messages")
    assert msg["token"] == "mobility-check-dry-run"
    assert apns_mock["control"]("GET", "/mock/pushes") == []


def test_unreachable_apns_and_unknown_service_account_are_named(workdir, state, keys,
                                                                vapid_key, apns, fcm_mock):
    closed = free_port()
    r = run_check(workdir, state, "mc-push-broken",
                  push_conf(keys, vapid_key, f"127.0.0.1:{closed}",
                            fcm_mock["accounts"]["sa-other"], fcm_mock["base"],
                            providers=("APNs", "FCM")))
    assert set(r["push"]) == {"push.apns-unreachable", "push.fcm-token", "push.port-5223"}
    f = r["push"]["push.apns-unreachable"]
    assert f["severity"] == "problem" and f["subject"] == f"127.0.0.1:{closed}"
    assert "refused" in f["what"].lower()
    f = r["push"]["push.fcm-token"]
    assert f["severity"] == "problem" and f["subject"] == f"{fcm_mock['base']}/token"
    assert FCM_EMAIL in f["what"] and "invalid_grant" in f["what"]
    assert "WebPush: VAPID key" not in r["push_steps"]          # WebPush is off
    assert fcm_mock["control"]("GET", "/mock/messages") == []  # no dry run without a token


def test_providers_off_for_the_site_and_mcx_off_report_nothing(workdir, state, keys,
                                                               vapid_key, apns, fcm):
    r = run_check(workdir, state, "mc-push-off",
                  push_conf(keys, vapid_key, f"127.0.0.1:{apns['port']}",
                            fcm["accounts"]["sa"], fcm["base"], providers=("APNs",),
                            extra="UcwaPushProvider APNs Off site:Site1"),
                  mcx="off")
    assert r["push"] == {} and r["push_steps"] == {}
    assert "push" in {s["check"] for s in r["skipped"]}
