"""The on-demand synthetic transaction (Test-CsUcwaConference / Test-CsMcxP2PIM in
Skype for Business): two test users sign in through the path an outside mobile client
takes, see each other's presence, exchange an instant message and sign out. Each step is
timed; the first that fails is reported with the hop (URL) it failed on, and the
applications made so far are deleted."""
import json
import os
import re
import time
import urllib.parse

from mc_checks import AD_XML, Hop, _json, _xml_links

TEXT = "mobility-check synthetic transaction"


class Failed(Exception):
    def __init__(self, step, url, what, answer=None, fix=None):
        super().__init__(what)
        self.step, self.url, self.what, self.answer = step, url, what, answer
        self.fix = fix or ("the checks above name what is wrong on this hop; the error "
                           "logs of the Front End and the reverse proxy say more")


class Client:
    """One test user as a mobile client outside: token, application, event channel."""

    def __init__(self, hop, user, password, pool):
        self.hop, self.user, self.password, self.pool = hop, user, password, pool
        self.token = self.app = self.origin = self.events = None

    def call(self, step, method, url, body=None, ok=(200,), headers=None, record=True):
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        if url.startswith("/"):
            url = self.origin + url
        a = self.hop.get(step, method, url, True, h, body)
        if a.error or a.status not in ok:
            raise Failed(step, url, a.error or f"HTTP {a.status}: {a.text()[:200]}", a)
        if record:
            self.hop.record(step, True, a)
        return a

    def sign_in(self, dom, port):
        sfx = "" if port == 443 else f":{port}"
        url = f"https://lyncdiscover.{dom}{sfx}/"
        a = self.call(f"{self.user}: discovery", "GET", url, headers={"Accept": AD_XML})
        oauth = _xml_links(a)[1].get("OAuth")
        if not oauth:
            raise Failed(f"{self.user}: discovery", url, "no OAuth link", a)
        a = self.hop.get("challenge", "GET", oauth, True, {"Accept": "application/json"})
        tok = next((m.group(1) for v in a.headers.get("www-authenticate", [])
                    for m in [re.search(r'MsRtcOAuth\s+href="([^"]+)"', v)] if m), None)
        if not tok:
            raise Failed(f"{self.user}: user resource", oauth, a.error or
                         f"HTTP {a.status} without a token endpoint", a)
        body = urllib.parse.urlencode({"grant_type": "password", "username": self.user,
                                       "password": self.password}).encode()
        a = self.call(f"{self.user}: token", "POST", tok, body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.token = (_json(a) or {}).get("access_token")
        a = self.call(f"{self.user}: user resource", "GET", oauth, record=False)
        links = (_json(a) or {}).get("_links") or {}
        apps = (links.get("applications") or {}).get("href")
        if not apps:
            if "redirect" in links:
                raise Failed(f"{self.user}: user resource", oauth, "no applications link (a "
                             "redirect: the user is homed on another pool)", a,
                             f"name test users homed on {self.pool}, or run the transaction "
                             "on a Front End of the user's home pool")
            raise Failed(f"{self.user}: user resource", oauth, "no applications link", a)
        self.hop.record(f"{self.user}: user resource", True, a)
        u = urllib.parse.urlsplit(apps)
        self.origin = f"{u.scheme}://{u.netloc}"
        a = self.call(f"{self.user}: create application", "POST", apps,
                      {"userAgent": "mobility-check", "endpointId": f"mobility-check-{os.getpid()}-{time.time()}",
                       "culture": "en-US"}, ok=(200, 201))
        links = (_json(a) or {}).get("_links") or {}
        self.app = (links.get("self") or {}).get("href")
        self.events = (links.get("events") or {}).get("href")
        if not self.app or not self.events:
            raise Failed(f"{self.user}: create application", apps,
                         "the application has no self or events link", a)
        self.call(f"{self.user}: makeMeAvailable", "POST", self.app + "/me/makeMeAvailable",
                  {"SupportedModalities": ["Messaging"]}, ok=(204,))

    def wait_event(self, step, want, timeout=15):
        """Polls the event channel until an event with link rel and type want (and
        the check) arrives; returns it."""
        rel, typ = want
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            href = self.events + ("&" if "?" in self.events else "?") + "timeout=1"
            a = self.hop.get(step, "GET", self.origin + href, True,
                             {"Authorization": f"Bearer {self.token}",
                              "Accept": "application/json"})
            if a.status != 200:
                raise Failed(step, self.origin + href, a.error or f"HTTP {a.status}", a)
            pkg = _json(a) or {}
            links = pkg.get("_links") or {}
            nxt = links.get("next") or links.get("resync")
            if isinstance(nxt, dict) and nxt.get("href"):
                self.events = nxt["href"]
            for s in pkg.get("sender", []):
                for e in s.get("events", []):
                    if e.get("link", {}).get("rel") == rel and e.get("type") == typ:
                        a.seconds = time.monotonic() - t0
                        self.hop.record(step, True, a)
                        return e
        raise Failed(step, self.origin + self.events, f"no {rel} {typ} event in {timeout} s")

    def sign_out(self):
        if self.app:
            app, self.app = self.app, None
            self.call(f"{self.user}: sign out", "DELETE", app, ok=(204, 200))


def run(ctx, second_user, second_password):
    rep = ctx.report
    dom, pname = next(((d, p) for d, p in ctx.domains.items()
                       if not ctx.only_pools or p in ctx.only_pools), (None, None))
    pool = ctx.pools.get(pname)
    if not pool:
        rep.skip("synthetic transaction", "no SIP domain of a checked pool")
        return
    h = Hop(ctx, f"Synthetic transaction: {ctx.user} and {second_user}")
    a = Client(h, ctx.user, ctx.password, pname)
    b = Client(h, second_user, second_password, pname)
    try:
        a.sign_in(dom, pool.external_port)
        b.sign_in(dom, pool.external_port)
        for x, y in ((a, b), (b, a)):
            r = x.call(f"{x.user}: presence of {y.user}", "GET",
                       f"{x.app}/people/{y.user}/presence")
            avail = (_json(r) or {}).get("availability")
            if avail in (None, "Offline"):
                raise Failed(f"{x.user}: presence of {y.user}",
                             f"{x.origin}{x.app}/people/{y.user}/presence",
                             f"{y.user} is {avail or 'unknown'} although signed in", r)
            h.steps[-1].detail = avail
        msg = "data:text/plain;charset=utf-8," + urllib.parse.quote_plus(TEXT)
        a.call(f"{a.user}: invite {b.user} with a message", "POST",
               a.app + "/communication/messagingInvitations",
               {"to": f"sip:{b.user}", "_links": {"message": {"href": msg}}}, ok=(201,))
        inv = b.wait_event(f"{b.user}: invitation arrives", ("messagingInvitation", "started"))
        res = next(iter((inv.get("_embedded") or {}).values()), {})
        accept = ((res.get("_links") or {}).get("accept") or {}).get("href")
        if not accept:
            raise Failed(f"{b.user}: invitation arrives", b.origin + b.app,
                         "the invitation has no accept link")
        b.call(f"{b.user}: accept", "POST", accept, ok=(204,))
        ev = b.wait_event(f"{b.user}: message arrives", ("message", "completed"))
        got = ((next(iter((ev.get("_embedded") or {}).values()), {}).get("_links") or {})
               .get("plainMessage") or {}).get("href", "")
        text = urllib.parse.unquote_plus(got.split(",", 1)[-1])
        if text != TEXT:
            raise Failed(f"{b.user}: message arrives", b.origin + b.app,
                         f"the message reads {text!r}, not {TEXT!r}")
        a.wait_event(f"{a.user}: invitation accepted", ("messagingInvitation", "completed"))
        a.sign_out()
        b.sign_out()
    except Failed as f:
        h.record(f.step, False, f.answer, f.what)
        rep.problem("synthetic.failed", f.url, f"{f.step}: {f.what}",
                    "the synthetic transaction does what a mobile client does: this step "
                    "fails for users too", f.fix)
        for c in (a, b):
            try:
                c.sign_out()
            except Failed:
                pass
        return
    total = sum(s.seconds for s in h.steps)
    rep.ok("synthetic.transaction", f"{ctx.user}, {second_user}",
           f"signed in, saw each other, exchanged a message, signed out ({total:.2f} s)")
