"""The scheduled synthetic transaction (UcwaSyntheticTransaction): a Front End and its
reverse proxy; every second, on one child, two test users sign in through the reverse
proxy as outside mobile clients do, see each other's presence, exchange a message and
sign out. The last run is in /ucwa-status and in the error log (notice when it worked,
error naming the failing hop when it did not: carol is homed on pool02, her user
resource is a redirect). The credentials file must be readable by root only."""
import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

import mobility
from conftest import ALLOWED_LOG, unexpected_log_lines

FAILED = re.compile(r"UCWA00402")
CHECK = mobility.REPO / "tools" / "mobility-check" / "mobility-check"
sys.path.insert(0, str(CHECK.parent))
import mc_synthetic  # noqa: E402


def check(synth, workdir):
    """mobility-check on the Front End: its report as JSON."""
    hosts = workdir / "synthetic-hosts"
    hosts.write_text("".join(f"{a} {n}\n" for n, a in synth["topo"].hosts().items()))
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "-f", str(synth["fe"].conf),
                        "--inside", f"hosts:{hosts}", "--pool", "pool01.contoso.test",
                        "--ca", str(synth["state"] / "pki" / "ca.crt"), "--json"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert p.returncode in (0, 1), p.stderr
    r = json.loads(p.stdout)
    r["scheduled"] = [f for f in r["findings"] if f["check"].startswith("synthetic.")]
    return r


def synthetic_conf(topo, state, creds, second, interval=1):
    rp = f"{topo.rp_https}:{topo.rp_addr}"
    return "\n".join([
        f"UcwaSyntheticTransaction {interval} alice@contoso.test {second}",
        f'UcwaSyntheticCredentials "{creds}"',
        f"UcwaSyntheticDiscovery https://{topo.lyncdiscover}:{topo.rp_https}/",
        f"UcwaSyntheticResolve {topo.lyncdiscover}:{rp} {topo.webext}:{rp}",
        f'UcwaSyntheticCAFile "{state / "pki" / "ca.crt"}"',
    ])


@pytest.fixture(scope="module")
def synth(workdir, state):
    topo = mobility.Topology(offset=mobility.free_offset(start=36000))
    creds = workdir / "synthetic-credentials"
    creds.write_text("# the synthetic transaction's test users\n"
                     + "".join(f"{u}@contoso.test {mobility.DEMO_PASSWORD}\n"
                               for u in ("alice", "bob", "carol")))
    creds.chmod(0o600)
    rp = mobility.reverse_proxy(workdir / "synth-rp", state, topo)
    fe = mobility.front_end(workdir / "synth-fe", state, topo,
                            extra=synthetic_conf(topo, state, creds, "bob@contoso.test"))
    rp.start()     # first: the first run goes through it
    fe.start()
    yield {"fe": fe, "rp": rp, "topo": topo, "creds": creds, "state": state}
    fe.stop()
    rp.stop()


@pytest.fixture
def logs(synth):
    """Fails the test on log lines at warn or worse it did not expect (appended to the
    list it yields)."""
    marks = {k: len(synth[k].log_text()) for k in ("fe", "rp")}
    allowed = list(ALLOWED_LOG)
    yield allowed
    for k in ("fe", "rp"):
        bad = unexpected_log_lines(synth[k].log_text()[marks[k]:], allowed)
        assert not bad, f"unexpected lines in the {k} error log:\n" + "\n".join(bad)


def status(topo):
    r = requests.get(f"http://{topo.fe_addr}:{topo.fe_http}/ucwa-status", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def wait_run(topo, second, result, since, timeout=30):
    """The last run of alice and second that ended as result, started after since."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = status(topo).get("syntheticTransaction")
        if (last and last.get("users") == ["alice@contoso.test", second]
                and last.get("result") == result and last.get("startedEpoch", 0) >= since):
            return last
        time.sleep(0.2)
    raise AssertionError(f"no {result} run of alice and {second}: {last}")


def test_scheduled_transaction_succeeds_with_each_step_timed(synth, logs, workdir):
    topo, fe = synth["topo"], synth["fe"]
    since = int(time.time())
    last = wait_run(topo, "bob@contoso.test", "ok", since)
    assert last["interval"] == 1 and "failedHop" not in last
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", last["started"])
    steps = {s["name"]: s for s in last["steps"]}
    for name in ("alice@contoso.test: discovery", "alice@contoso.test: token",
                 "bob@contoso.test: create application",
                 "alice@contoso.test: presence of bob@contoso.test",
                 "bob@contoso.test: presence of alice@contoso.test",
                 "bob@contoso.test: message arrives", "alice@contoso.test: sign out",
                 "bob@contoso.test: sign out"):
        assert steps[name]["ok"] and steps[name]["ms"] >= 0, name
    assert steps["alice@contoso.test: discovery"]["url"] == \
        f"https://{topo.lyncdiscover}:{topo.rp_https}/"
    # through the reverse proxy, on the external web FQDN
    assert steps["bob@contoso.test: create application"]["url"].startswith(
        f"https://{topo.webext}:{topo.rp_https}/ucwa/")
    log = fe.log_text()
    assert re.search(r"\[ucwa:notice\] .*UCWA00401: synthetic transaction alice@contoso.test "
                     r"and bob@contoso.test: ok in [0-9.]+ s: alice@contoso.test: discovery "
                     r"\d+ ms,", log), log[-3000:]
    assert mobility.DEMO_PASSWORD not in log
    # the test users' applications are gone after each run
    time.sleep(0.5)
    assert status(topo)["applications"] <= 2
    # mobility-check reads the last run from /ucwa-status
    r = check(synth, workdir)
    assert r["scheduled"] == [] and "synthetic.scheduled" in {p["check"] for p in r["passed"]}
    (section,) = [k for k in r["steps"] if k.startswith("Scheduled synthetic transaction")]
    assert "bob@contoso.test: message arrives" in [s["name"] for s in r["steps"][section]]


def test_failing_step_names_the_hop(synth, logs, workdir):
    topo, fe = synth["topo"], synth["fe"]
    logs.append(FAILED)
    # the graceful restart closes the Front End's idle connections under the proxy: a
    # request of the run it cuts short, sent on one as it closes, is answered 502
    logs.append(re.compile(r"AH01102"))
    fe.body = fe.body.replace(
        synthetic_conf(topo, synth["state"], synth["creds"], "bob@contoso.test"),
        synthetic_conf(topo, synth["state"], synth["creds"], "carol@contoso.test"))
    assert "carol@contoso.test" in fe.body
    since = int(time.time())
    fe.graceful()
    last = wait_run(topo, "carol@contoso.test", "failed", since)
    hop = (f"https://{topo.webext}:{topo.rp_https}"
           "/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.test")
    assert last["failedStep"] == "carol@contoso.test: user resource"
    assert last["failedHop"] == hop
    assert "redirect" in last["error"] and "another pool" in last["error"]
    assert last["steps"][-1] == {**last["steps"][-1], "name": last["failedStep"], "ok": False}
    # alice signed in before the failure: her application is deleted all the same (and
    # so are those of the run the graceful restart cut short)
    deadline = time.time() + 5
    while status(topo)["applications"]:
        assert time.time() < deadline, status(topo)
        time.sleep(0.1)
    deadline = time.time() + 10
    while not re.search(r"\[ucwa:error\] .*UCWA00402: synthetic transaction alice@contoso.test "
                        r"and carol@contoso.test failed at \"carol@contoso.test: user "
                        r"resource\" \(" + re.escape(hop) + r"\)", fe.log_text()):
        assert time.time() < deadline, fe.log_text()[-3000:]
        time.sleep(0.2)
    assert mobility.DEMO_PASSWORD not in fe.log_text()
    # mobility-check: a problem whose subject is the hop
    r = check(synth, workdir)
    (f,) = r["scheduled"]
    assert f["check"] == "synthetic.scheduled-failed" and f["severity"] == "problem"
    assert f["subject"] == hop
    assert "carol@contoso.test: user resource: no applications link" in f["what"]


def test_check_finds_a_stale_or_missing_schedule():
    users = ("alice@contoso.test", "bob@contoso.test")
    last = {"users": list(users), "interval": 60, "result": "ok", "started": "then",
            "startedEpoch": 1000, "seconds": 0.5, "steps": []}
    found, _ = mc_synthetic.judge({"syntheticTransaction": last}, 60, users, 1100, "f:1")
    assert found == []
    found, _ = mc_synthetic.judge({"syntheticTransaction": last}, 60, users, 1181, "f:1")
    assert [(f[0], f[1]) for f in found] == [("problem", "synthetic.scheduled-stale")]
    assert "181 s ago" in found[0][3]
    found, last2 = mc_synthetic.judge({"applications": 0}, 60, users, 1100, "f:1")
    assert [(f[0], f[1]) for f in found] == [("notice", "synthetic.scheduled-not-running")]
    assert last2 is None and "apachectl graceful" in found[0][5]
    other = dict(last, users=["alice@contoso.test", "carol@contoso.test"])
    found, _ = mc_synthetic.judge({"syntheticTransaction": other}, 60, users, 1100, "f:1")
    assert "it runs alice@contoso.test and carol@contoso.test" in found[0][3]
    found, _ = mc_synthetic.judge({"syntheticTransaction": {"users": list(users), "interval": 60,
                                                            "result": "not run yet"}},
                                  60, users, 1100, "f:1")
    assert [f[1] for f in found] == ["synthetic.scheduled-not-run"]


def test_credentials_readable_by_others_or_missing_refuse_the_configuration(workdir, state,
                                                                            synth):
    topo = synth["topo"]
    loose = workdir / "synthetic-credentials-loose"
    loose.write_text("alice@contoso.test x\nbob@contoso.test y\n")
    loose.chmod(0o644)
    fe = mobility.front_end(workdir / "synth-bad", state, topo,
                            extra=synthetic_conf(topo, state, loose, "bob@contoso.test"))
    p = fe.configtest()
    assert p.returncode != 0
    assert "UCWA00400" in p.stderr and "readable by its owner only" in p.stderr, p.stderr
    loose.chmod(0o600)
    fe.body = fe.body.replace("bob@contoso.test", "dave@contoso.test")
    p = fe.configtest()
    assert p.returncode != 0 and "has no line for dave@contoso.test" in p.stderr, p.stderr
    fe.body = fe.body.replace("UcwaSyntheticResolve ", "UcwaSyntheticResolve nohostport ")
    p = fe.configtest()
    assert p.returncode != 0 and "'nohostport' is not host:port:address" in p.stderr
