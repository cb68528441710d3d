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

import mc_net
from mc_checks import AD_XML, Hop, _json, _xml_links
from mc_report import Step

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


# --- the scheduled transaction (UcwaSyntheticTransaction), read from /ucwa-status -------

def status_url(fe):
    """(scheme, host, port, addr, path) of the Front End's own ucwa-status handler, on a
    site with Ucwa On (the internal one first, plain HTTP first), or None."""
    def handlers(ds):
        return [d.args[0] for d in ds if d.name.lower() in ("location", "locationmatch")
                and d.children is not None and d.args
                and any(c.name.lower() == "sethandler" and c.args
                        and c.args[0].lower() == "ucwa-status" for c in d.children)]
    top = handlers(fe.directives)
    sites = []
    for v in fe.vhosts:
        paths = handlers(v.directives) or top
        if paths and v.on("Ucwa"):
            internal = (v.value("AutodiscoverSite") or "").lower() == "internal"
            sites.append((not internal, v.ssl, v, paths[0]))
    if not sites:
        return None
    _, ssl, v, path = min(sites, key=lambda s: s[:2])
    addr = "127.0.0.1" if v.addr in ("*", "_default_", "0.0.0.0") else v.addr.strip("[]")
    return ("https" if ssl else "http", (v.names or [addr])[0], v.port, addr, path)


def judge(status, interval, users, now, where):
    """The findings about one /ucwa-status document: a list of (severity, check, subject,
    what, why, fix), and the steps of the last run (or None when there is none)."""
    last = status.get("syntheticTransaction")
    restart = ("the running server was started before this configuration: apply it "
               f"(apachectl graceful); the directive is at {where}")
    if not isinstance(last, dict) or last.get("users") != list(users):
        ran = f" (it runs {' and '.join(last['users'])})" if isinstance(last, dict) and \
            isinstance(last.get("users"), list) else ""
        return [("notice", "synthetic.scheduled-not-running", where,
                 f"the configuration schedules a synthetic transaction of {users[0]} and "
                 f"{users[1]}, the running server does not report one{ran}",
                 "nothing watches the client path as this configuration intends", restart)], None
    if last.get("result") == "not run yet":
        return [("notice", "synthetic.scheduled-not-run", where,
                 f"the synthetic transaction of {users[0]} and {users[1]} has not run yet "
                 f"(every {interval} s)", "the server started less than an interval ago",
                 "run the check again after the interval")], None
    out = []
    age = now - int(last.get("startedEpoch", 0))
    if age > 2 * interval + 60:
        out.append(("problem", "synthetic.scheduled-stale", where,
                    f"the last synthetic transaction of {users[0]} and {users[1]} started "
                    f"{age} s ago ({last.get('started')}), but it runs every {interval} s",
                    "the schedule stopped or hangs: a failing client path would go unnoticed",
                    "look for UCWA00401-00406 lines in the Front End's error log; a run waits "
                    "30 s at most per request; restart the server (apachectl graceful)"))
    if last.get("result") != "ok":
        out.append(("problem", "synthetic.scheduled-failed", last.get("failedHop") or where,
                    f"the scheduled synthetic transaction of {users[0]} and {users[1]} "
                    f"failed at {last.get('started')}: {last.get('failedStep')}: "
                    f"{last.get('error')}",
                    "it does what a mobile client does: this hop fails for users too",
                    "the checks above name what is wrong on this hop; the Front End's error "
                    "log has the run (UCWA00402); a redirect on the user resource means a test "
                    f"user is homed on another pool: name test users of this pool ({where})"))
    return out, last


def scheduled(ctx):
    rep = ctx.report
    ds = ctx.fe.all("UcwaSyntheticTransaction")
    if not ds or len(ds[-1].args) != 3 or not ds[-1].args[0].isdigit():
        rep.skip("synthetic.scheduled", "no UcwaSyntheticTransaction: the server runs no "
                 "synthetic transaction on a schedule (docs/directives.md)")
        return
    d = ds[-1]
    interval, users = int(d.args[0]), (d.args[1], d.args[2])
    where = status_url(ctx.fe)
    if not where:
        rep.notice("synthetic.status-missing", d.where,
                   "UcwaSyntheticTransaction is set, but no site with Ucwa On has a "
                   "<Location> with SetHandler ucwa-status", "the result of the scheduled "
                   "runs cannot be read (nor monitored)",
                   "add <Location \"/ucwa-status\"> SetHandler ucwa-status; Require ip "
                   "127.0.0.1 </Location> (docs/directives.md)")
        return
    scheme, host, port, addr, path = where
    url = f"{scheme}://{host}:{port}{path}"
    a = mc_net.request("GET", scheme, host, port, addr, path, {"Accept": "application/json"},
                       ca=ctx.ca, verify=False)
    status = _json(a) if a.status == 200 else None
    if status is None:
        rep.notice("synthetic.status-unreachable", url,
                   f"the scheduled synthetic transaction's result cannot be read: "
                   f"{a.error or f'HTTP {a.status}'}", "the result of the scheduled runs is "
                   "unknown", f"run the check on the Front End itself (the handler is for "
                   f"{addr}), or allow this address in the <Location> of ucwa-status")
        return
    findings, last = judge(status, interval, users, int(time.time()), d.where)
    for sev, check, subject, what, why, fix in findings:
        (rep.problem if sev == "problem" else rep.notice)(check, subject, what, why, fix)
    if last:
        steps = rep.steps.setdefault(f"Scheduled synthetic transaction (last run "
                                     f"{last.get('started')})", [])
        for s in last.get("steps", []):
            steps.append(Step(s.get("name", "?"), bool(s.get("ok")), s.get("ms", 0) / 1000,
                              "" if s.get("ok") else s.get("url", "")))
        if not findings:
            rep.ok("synthetic.scheduled", f"{users[0]}, {users[1]}",
                   f"last run {last.get('started')}: ok in {last.get('seconds')} s")
