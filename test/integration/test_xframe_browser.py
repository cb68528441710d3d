"""A web application in headless Chromium drives UCWA through the XFrame, the way the
browser libraries written for Lync did (Microsoft's UCWA JavaScript helper library among
them): it is served from an origin of its own (http://127.0.0.3:<port>), loads the
discovery host's /xframe, then the XFrame each document links, and sends every request
as a JSON string over postMessage. It reads the answer's header block by name, as
written: `Content-Type`, `WWW-Authenticate` (one challenge a line, MsRtcOAuth among them),
`Location`. It signs alice in with the MsRtcOAuth challenge's token endpoint, creates an
application, reads her presence and bob's, starts an IM, follows her event channel, and
sends a message that bob receives through his own UCWA client.

Needs Debian's chromium and chromium-driver, and python3-selenium (apxs-build.sh
PKGS_TEST); Chromium runs as a private process with a fresh profile (test/lib/browser.py)."""
import re
import time
import urllib.parse
from pathlib import Path

import pytest

import browser
import conftest
import mobility
from ucwa_client import FAST, User, events_of
from test_ucwa_messaging import INCOMING, data_text, embedded, seq, step

APP_DIR = Path(__file__).resolve().parents[1] / "browser"
ROOT = "/Autodiscover/AutodiscoverService.svc/root"
TEXT = "Hi Bob, from a browser ☺ & <tags>\r\nsecond line"
# Challenges that fold badly: schemes without parameters, a token68, commas and an
# escaped quote inside quoted strings (served by mod_headers on a path of our own).
TRICKY = ["Negotiate", 'Digest realm="a, b=\\"c\\"", nonce="n,1", qop="auth"', "NTLM",
          "Newauth abc==", 'MsRtcOAuth href="https://x.test/t",grant_type="password"']
TRICKY_CONF = "<Location /tricky-challenges>\n" + "".join(
    f"    Header always add WWW-Authenticate '{c}'\n" for c in TRICKY) + "</Location>\n"


@pytest.fixture(scope="module")
def pool(workdir, state):
    """A Front End and its reverse proxy of this module's own (event polls answer after a
    second), on ports of their own."""
    topo = mobility.Topology(offset=mobility.free_offset(start=30000))
    fe = mobility.front_end(workdir / "xframe-fe", state, topo, extra=FAST + "\n" + TRICKY_CONF)
    rp = mobility.reverse_proxy(workdir / "xframe-rp", state, topo)
    fe.start()
    rp.start()
    yield topo
    rp.stop()
    fe.stop()
    for a in (fe, rp):
        bad = conftest.unexpected_log_lines(a.log_text(), conftest.ALLOWED_LOG)
        assert not bad, f"unexpected lines in the {a.root.name} error log:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def chromium(pool, state):
    site = browser.StaticSite(APP_DIR)
    c = browser.Chromium(pool.hosts(), state / "pki" / "server.crt")
    c.driver.get(site.origin + "/xframe-app.html")
    c.origin = site.origin
    yield c
    errors = [line for line in c.console() if "Uncaught" in line]
    c.quit()
    site.stop()
    assert not errors, "script errors in the page:\n" + "\n".join(errors)


def js(c, code, *args):
    """Runs code (a promise expression over arguments[0..]) in the app page."""
    return c.driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        f"Promise.resolve({code}).then(done, function (e) {{ done({{error: String(e)}}); }});",
        *args)


def open_frame(c, url):
    return js(c, "xapp.open(arguments[0])", url)


def send(c, type_, url, headers=None, data=None):
    req = {"type": type_, "url": url, "headers": headers or {}}
    if data is not None:
        req["data"] = data
    r = js(c, "xapp.send(arguments[0])", req)
    assert "error" not in r, r
    return r


def challenge_href(fields, scheme):
    """The href of the challenge of that scheme, from the WWW-Authenticate lines."""
    for line in fields.get("WWW-Authenticate", []):
        if line.split(" ", 1)[0] == scheme:
            return re.search(r'href="([^"]+)"', line).group(1)
    return None


def test_xframe_answers_with_the_servers_header_names_and_one_line_per_challenge(
        pool, chromium, http):
    """The 401 of the user resource as the page sees it through the XFrame: the same
    header names, in the same case, as the server wrote them, and each WWW-Authenticate
    field on its own line, though Chromium hands the XFrame lower-case names and folds
    the challenges into one line."""
    disco = f"https://{pool.lyncdiscoverinternal}:{pool.fe_https}"
    assert open_frame(chromium, disco + "/xframe") == disco
    user = disco + ROOT + "/oauth/user?originalDomain=contoso.test"
    r = send(chromium, "get", user, {"Accept": "application/json"})
    direct = http.get(user, headers={"Accept": "application/json"})
    assert r["status"] == direct.status_code == 401
    names = set(direct.raw.headers.keys()) - {"Set-Cookie"}
    assert set(r["fields"]) == names
    challenges = direct.raw.headers.getlist("WWW-Authenticate")
    assert len(challenges) == 2          # Bearer and MsRtcOAuth, folded by Chromium
    assert r["fields"]["WWW-Authenticate"] == challenges
    assert challenge_href(r["fields"], "MsRtcOAuth") == f"{pool.internal_base}/WebTicket/oauthtoken"
    assert r["fields"]["Content-Type"] == [direct.headers["Content-Type"]]
    assert r["fields"]["X-MS-Server-Fqdn"] == [pool.pool]
    assert r["statusText"] == "error"       # jQuery's textStatus, as Lync's XFrame gave it

    # challenges that fold badly come back one a line, each as the server sent it
    tricky = disco + "/tricky-challenges"
    assert http.get(tricky).raw.headers.getlist("WWW-Authenticate") == TRICKY
    assert send(chromium, "get", tricky)["fields"]["WWW-Authenticate"] == TRICKY

    # a URL of another origin is not relayed: the app gets status 0 at once
    r = send(chromium, "get", f"{pool.external_base}{ROOT}")
    assert (r["status"], r["statusText"], r["headers"]) == (0, "error", "")


def incoming_texts(evs):
    return [data_text(embedded(e)["_links"]["plainMessage"]["href"])
            for _, rel, _, e in evs if rel == "message" and embedded(e)["direction"] == "Incoming"]


def test_web_app_signs_in_reads_presence_and_sends_an_im(pool, chromium, state):
    c = chromium
    base = f"https://{pool.lyncdiscoverinternal}:{pool.fe_https}"
    bob = User(state / "pki" / "ca.crt", base, "bob@contoso.test")
    b_app = bob.create()
    b_app.available()

    # discovery: the discovery host's XFrame, its root, then the XFrame the root links
    assert open_frame(c, base + "/xframe") == base
    r = send(c, "get", base, {"Accept": "application/json"})
    assert (r["status"], r["statusText"]) == (200, "success")
    links = r["json"]["_links"]
    open_frame(c, links["xframe"]["href"])

    # the user resource challenges; the token comes from the MsRtcOAuth challenge's href,
    # with the form the JavaScript library sends
    r = send(c, "get", links["user"]["href"], {"Accept": "application/json"})
    assert r["status"] == 401
    token_url = challenge_href(r["fields"], "MsRtcOAuth")
    assert token_url
    form = urllib.parse.urlencode({"grant_type": "password", "username": "alice@contoso.test",
                                   "password": mobility.DEMO_PASSWORD})
    r = send(c, "post", token_url,
             {"Accept": "application/json",
              "Content-Type": "application/x-www-form-urlencoded;charset='utf-8'"}, form)
    assert r["status"] == 200, r["responseText"]
    auth = {"Authorization": f"{r['json']['token_type']} {r['json']['access_token']}",
            "Accept": "application/json"}
    r = send(c, "get", links["user"]["href"], auth)
    assert r["status"] == 200, r["responseText"]
    ulinks = r["json"]["_links"]
    apps = ulinks["applications"]["href"]

    # the XFrame of the user document shares the applications link's origin
    origin = open_frame(c, ulinks["xframe"]["href"])
    assert apps.startswith(origin + "/")
    post_json = dict(auth, **{"Content-Type": "application/json"})
    r = send(c, "post", apps, post_json,
             '{"UserAgent":"XFrameTest/1.0","EndpointId":"6f1f3e52-3c1b-4a8e-9c6e-5f0b1d2a7c41",'
             '"Culture":"en-US"}')
    assert (r["status"], r["statusText"]) == (201, "success"), r["responseText"]
    app = r["json"]
    a = origin + app["_links"]["self"]["href"]
    r = send(c, "post", origin + app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"],
             post_json, '{"SupportedModalities":["Messaging"]}')
    assert (r["status"], r["statusText"]) == (204, "success"), r["responseText"]

    # presence: her own, then bob's through his contact resource's link
    r = send(c, "get", a + "/me/presence", auth)
    assert r["status"] == 200 and r["json"]["availability"] == "Online", r["responseText"]
    r = send(c, "get", a + "/people/bob@contoso.test", auth)
    assert r["status"] == 200, r["responseText"]
    r = send(c, "get", origin + r["json"]["_links"]["contactPresence"]["href"], auth)
    assert r["status"] == 200 and r["json"]["availability"] == "Online", r["responseText"]

    # IM: startMessaging with a first message; bob's own client gets it and accepts
    start = app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
    first = "data:text/plain;charset=utf-8," + urllib.parse.quote_plus("Hello Bob")
    r = send(c, "post", origin + start, post_json,
             '{"to":"sip:bob@contoso.test","operationId":"7d5c7c1e-0b8a-4d1e-a1f2-3c4d5e6f7a8b",'
             '"_links":{"message":{"href":"' + first + '"}}}')
    assert r["status"] == 201, r["responseText"]
    assert r["fields"]["Location"][0].startswith(app["_links"]["self"]["href"] +
                                                 "/communication/messagingInvitations/")
    evs = step(b_app)
    assert seq(evs) == INCOMING
    binv = embedded(evs[0][3])
    assert data_text(binv["_links"]["message"]["href"]) == "Hello Bob"
    assert binv["_embedded"]["from"]["uri"] == "sip:alice@contoso.test"
    assert b_app.post(binv["_links"]["accept"]["href"][len(b_app.self):]).status_code == 204
    assert incoming_texts(step(b_app)) == ["Hello Bob"]

    # alice's event channel, through the XFrame, until her messaging is Connected
    events = origin + app["_links"]["events"]["href"]
    send_message = None
    deadline = time.monotonic() + 15
    while send_message is None and time.monotonic() < deadline:
        r = send(c, "get", events + ("&" if "?" in events else "?") + "timeout=1", auth)
        assert r["status"] == 200, r["responseText"]
        events = origin + r["json"]["_links"]["next"]["href"]
        for _, _, rel, e in events_of(r["json"]):
            if rel == "messaging" and "_embedded" in e:
                m = embedded(e)
                if m["state"] == "Connected":
                    send_message = m["_links"]["sendMessage"]["href"]
    assert send_message, "alice's messaging never became Connected"

    # a message in the conversation: bob receives it, text intact
    r = send(c, "post", origin + send_message,
             dict(auth, **{"Content-Type": "text/plain; charset=UTF-8"}), TEXT)
    assert (r["status"], r["statusText"]) == (201, "success"), r["responseText"]
    assert incoming_texts(step(b_app)) == [TEXT]

    r = send(c, "delete", a, {"Authorization": auth["Authorization"]})
    assert r["status"] == 204, r["responseText"]
    b_app.delete()
