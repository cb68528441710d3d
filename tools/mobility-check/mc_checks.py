"""The checks, in the order of the planning guide's checklist as a mobile client meets it:
topology, DNS, the client path, certificates, the reverse proxy and load balancer,
X-Forwarded-For, the mobility policy of a user."""
import ipaddress
import json
import os
import re
import sqlite3
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import mc_calls
import mc_net
from mc_report import Step

ROOT = "/Autodiscover/AutodiscoverService.svc/root"
AD_XML = "application/vnd.microsoft.rtc.autodiscover+xml;v=1"
DEFAULT_EVENT_MAX = 1800


@dataclass
class Pool:
    fqdn: str
    role: str
    site: str
    internal: str           # base URLs
    external: str
    mcx: bool
    where: str

    @staticmethod
    def host_port(url):
        u = urllib.parse.urlsplit(url)
        return (u.hostname or "").lower(), u.port or (443 if u.scheme == "https" else 80)

    @property
    def internal_host(self): return self.host_port(self.internal)[0]
    @property
    def internal_port(self): return self.host_port(self.internal)[1]
    @property
    def external_host(self): return self.host_port(self.external)[0]
    @property
    def external_port(self): return self.host_port(self.external)[1]


@dataclass
class Ctx:
    fe: object                      # mc_config.Config of this Front End or Director
    rp: object                      # mc_config.Config of the reverse proxy, or None
    inside: mc_net.Resolver
    outside: mc_net.Resolver        # None: not named
    report: object
    ca: str = None
    days: int = 30
    user: str = None
    password: str = None
    only_pools: list = None
    sip_dispatcher: str = None      # Kamailio's dispatcher list (--sip-dispatcher)
    hlb_config: str = None          # HAProxy's configuration (--hlb-config)
    domains: dict = field(default_factory=dict)     # sip domain -> pool fqdn
    pools: dict = field(default_factory=dict)       # fqdn -> Pool
    local: str = None
    cache: dict = field(default_factory=dict)

    def view(self, outside):
        return (self.outside or self.inside) if outside else self.inside

    def addrs(self, name, outside=False):
        r = self.view(outside)
        key = (id(r), name.lower())
        if key not in self.cache:
            try:
                self.cache[key] = r.resolve(name)
            except OSError as e:
                self.cache[key] = e
        v = self.cache[key]
        return [] if isinstance(v, OSError) else v

    def event_max(self):
        return event_max(self)

    def pool_names(self):
        """This Front End's own name and its pool's FQDN (what SIP peers reach it by)."""
        names = [(self.fe.value("AutodiscoverServerFqdn") or self.fe.value("ServerName")
                  or "").split(":")[0].lower(), self.local or ""]
        return [n for i, n in enumerate(names) if n and n not in names[:i]]

    def checked_pools(self):
        return [p for p in self.pools.values()
                if not self.only_pools or p.fqdn in self.only_pools]


def fe_site_file(ctx, site):
    for v in ctx.fe.vhosts:
        if (v.value("AutodiscoverSite") or "").lower() == site:
            return v.where
    return ctx.fe.path


# --- topology --------------------------------------------------------------------------

def topology(ctx):
    rep = ctx.report
    for d in ctx.fe.all("AutodiscoverPool"):
        if not d.args:
            continue
        kv = dict(a.split("=", 1) for a in d.args[1:] if "=" in a)
        ctx.pools[d.args[0].lower()] = Pool(
            d.args[0].lower(), kv.get("role", "FrontEnd"), kv.get("site", ""),
            kv.get("internal", ""), kv.get("external", ""),
            kv.get("mcx", "off").lower() == "on", d.where)
    for d in ctx.fe.all("AutodiscoverSipDomain"):
        if len(d.args) >= 2:
            ctx.domains[d.args[0].lower()] = d.args[1].lower()
    ctx.local = (ctx.fe.value("AutodiscoverLocalPool") or "").lower() or None
    if not ctx.pools or not ctx.domains:
        rep.problem("topology.missing", ctx.fe.path,
                    "no AutodiscoverPool or AutodiscoverSipDomain in this configuration",
                    "without a topology Autodiscover cannot tell a mobile client where to sign in",
                    "include topology.conf (README, 'Installing into an existing Apache') "
                    "in the configuration this Front End runs")
        return False
    if ctx.only_pools:
        for p in ctx.pools.values():
            if p.fqdn not in ctx.only_pools:
                rep.skip(f"pool {p.fqdn}", "not among --pool; run mobility-check on that "
                         "pool's Front End")
    seen = {}
    for p in ctx.pools.values():
        if p.internal_host == p.external_host:
            rep.problem("topology.fqdn-not-distinct", p.fqdn,
                        f"the internal and external web services use the same FQDN "
                        f"{p.internal_host}",
                        "internal clients must reach the internal site and outside clients "
                        "the reverse proxy; with one name, one of them gets the wrong site "
                        "(and the wrong AccessLocation)",
                        f"give the pool distinct internal= and external= FQDNs in "
                        f"AutodiscoverPool ({p.where})")
        else:
            rep.ok("topology.fqdn-distinct", p.fqdn,
                   f"internal {p.internal_host}, external {p.external_host}")
        for h in (p.internal_host, p.external_host):
            if h in seen and seen[h] != p.fqdn:
                rep.problem("topology.fqdn-shared", h,
                            f"{h} is a web FQDN of both {seen[h]} and {p.fqdn}",
                            "a client sent to one pool reaches the other one's sessions",
                            f"give each pool its own web FQDNs ({p.where})")
            seen[h] = p.fqdn
    for dom, pool in ctx.domains.items():
        if pool not in ctx.pools:
            rep.problem("topology.domain-pool", dom,
                        f"SIP domain {dom} is answered by {pool}, which is no AutodiscoverPool",
                        "discovery for the domain has no pool to send clients to",
                        f"add AutodiscoverPool {pool} ... or name an existing pool")
    return True


# --- DNS ---------------------------------------------------------------------------------

def _resolves(ctx, name, outside):
    r = ctx.view(outside)
    key = (id(r), name.lower())
    ctx.addrs(name, outside)
    v = ctx.cache[key]
    if isinstance(v, OSError):
        ctx.report.problem("dns.no-answer", str(r), str(v),
                           "a client using this resolver cannot find the service at all",
                           "make the resolver answer (or name the right one with "
                           f"--{'outside' if outside else 'inside'})")
        return None
    return v


def dns(ctx):
    rep = ctx.report
    split = ctx.outside is not None and ctx.outside.spec != ctx.inside.spec
    if ctx.outside is None:
        rep.skip("dns outside", "no outside resolver named (--outside ADDR[:PORT]); the "
                 "external names are resolved through the inside one")
    for dom, pname in ctx.domains.items():
        pool = ctx.pools.get(pname)
        if not pool or (ctx.only_pools and pname not in ctx.only_pools):
            continue
        ldi = f"lyncdiscoverinternal.{dom}"
        ld = f"lyncdiscover.{dom}"
        a = _resolves(ctx, ldi, False)
        pool_in = ctx.addrs(pool.internal_host) if a is not None else []
        if a == []:
            rep.problem("dns.internal-discovery-missing", ldi,
                        f"{ldi} does not resolve from inside ({ctx.inside})",
                        "mobile clients on the internal network try lyncdiscoverinternal "
                        "first; without it they go out through the reverse proxy or fail",
                        f"add to the internal DNS zone {dom}: {ldi} A (the internal web "
                        f"services address of {pname}: {', '.join(pool_in) or pool.internal_host})")
        elif a:
            if pool_in and not set(a) & set(pool_in):
                rep.problem("dns.internal-discovery-wrong", ldi,
                            f"{ldi} resolves inside to {', '.join(a)}, but the internal site "
                            f"of {pname} ({pool.internal_host}) is {', '.join(pool_in)}",
                            "internal clients reach a host that is not the pool's internal "
                            "web site",
                            f"make {ldi} an A record for {', '.join(pool_in)} (or a CNAME "
                            f"to {pool.internal_host})")
            else:
                rep.ok("dns.internal-discovery", ldi, f"inside: {', '.join(a)}")
        if ctx.outside is None:
            continue
        b = _resolves(ctx, ld, True)
        ext = ctx.addrs(pool.external_host, True) if b is not None else []
        if b == []:
            rep.problem("dns.external-discovery-missing", ld,
                        f"{ld} does not resolve from outside ({ctx.outside})",
                        "mobile clients outside the network cannot discover their pool: "
                        "sign-in fails before it starts",
                        f"add to the public DNS zone {dom}: {ld} A (the reverse proxy's "
                        f"public address{': ' + ', '.join(ext) if ext else ''})")
        elif b:
            rp_addrs = sorted({v.addr for v in (ctx.rp.vhosts if ctx.rp else [])
                               if ld in v.names and v.addr not in ("*", "_default_")})
            want = ext or rp_addrs
            if want and not set(b) & set(want):
                rep.problem("dns.external-discovery-wrong", ld,
                            f"{ld} resolves from outside to {', '.join(b)}, but the reverse "
                            f"proxy publishing {pool.external_host} is {', '.join(want)}",
                            "outside clients reach a host that is not the reverse proxy: "
                            "discovery fails or answers as the internal site",
                            f"make {ld} in the public zone an A record for {', '.join(want)} "
                            f"(or a CNAME to {pool.external_host})")
            else:
                rep.ok("dns.external-discovery", ld, f"outside: {', '.join(b)}")
        if split:
            for name in (ldi, pool.internal_host):
                leak = _resolves(ctx, name, True)
                if leak:
                    rep.problem("dns.internal-name-outside", name,
                                f"{name} resolves from outside ({ctx.outside}) to "
                                f"{', '.join(leak)}",
                                "an outside client that finds an internal name tries it "
                                "first and waits for its timeout (or reaches the internal "
                                "site through a hole in the firewall)",
                                f"remove {name} from the public DNS zone {dom}")
                elif leak == []:
                    rep.ok("dns.internal-name-private", name, "not resolved outside")
    for pool in ctx.checked_pools():
        for name, outside, label in ((pool.internal_host, False, "inside"),
                                     (pool.external_host, False, "inside (hairpin)"),
                                     (pool.external_host, True, "outside")):
            if outside and ctx.outside is None:
                continue
            r = _resolves(ctx, name, outside)
            if r == []:
                why = {"inside": "internal clients are sent to the internal web FQDN and "
                                 "fail there",
                       "inside (hairpin)": "internal clients reach UCWA through the external "
                                           "web FQDN (the hairpin through the reverse proxy): "
                                           "without it they sign in but cannot create an "
                                           "application",
                       "outside": "outside clients are sent to the external web FQDN after "
                                  "discovery and fail there"}[label]
                rep.problem("dns.web-fqdn-missing", name,
                            f"{name} ({pool.fqdn}'s {'internal' if name == pool.internal_host else 'external'} "
                            f"web FQDN) does not resolve {label}", why,
                            f"add an A record for {name} to the "
                            f"{'public' if outside else 'internal'} DNS zone"
                            + (" pointing at the reverse proxy" if name == pool.external_host
                               else ""))
            elif r:
                rep.ok("dns.web-fqdn", name, f"{label}: {', '.join(r)}")


# --- the client path -------------------------------------------------------------------

class Hop:
    def __init__(self, ctx, section):
        self.ctx = ctx
        self.steps = ctx.report.steps.setdefault(section, [])

    def get(self, name, method, url, outside, headers=None, body=None):
        u = urllib.parse.urlsplit(url)
        host, port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
        addrs = self.ctx.addrs(host, outside)
        path = u.path + (("?" + u.query) if u.query else "")
        if not addrs:
            a = mc_net.Answer(0, {}, b"", 0.0, "", f"{host} does not resolve "
                              f"({self.ctx.view(outside)})")
        else:
            a = mc_net.request(method, u.scheme, host, port, addrs[0], path or "/", headers,
                               body, ca=self.ctx.ca)
        return a

    def record(self, name, ok, a, detail=""):
        self.steps.append(Step(name, ok, a.seconds if a else 0.0, detail))
        return ok

    def fail(self, check, hop, url, what, why, fix, a=None):
        self.record(hop, False, a, what)
        self.ctx.report.problem(check, url, f"{hop}: {what}", why, fix)
        return False


def _xml_links(a):
    try:
        doc = ET.fromstring(a.body)
    except ET.ParseError:
        return None, {}
    return doc, {l.get("token"): l.get("href") for l in doc.iter("Link")}


def _json(a):
    """The body as a JSON object, or None (anything else a server sends is no answer)."""
    try:
        v = json.loads(a.body)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def _pool_of(ctx, href, outside):
    """The pool of the topology whose external (or internal) base URL href is under."""
    return next((p for p in ctx.pools.values()
                 if href.startswith((p.external if outside else p.internal) + ROOT)), None)


def _user_resource(ctx, h, pool, url, outside, auth):
    """The signed-in user resource at url (on pool), a redirect followed to the home pool
    it names as a client does: (home pool, its links, its answer), or None when a hop
    failed (reported) or the home pool is not checked (listed as such)."""
    side = "" if outside else " (internal)"
    seen = [pool.fqdn]
    while True:
        a = h.get("user", "GET", url, outside, auth)
        links = ((_json(a) or {}).get("_links") or {}) if a.status == 200 else {}
        if pool.fqdn != seen[0] and (a.error or a.status != 200 or not links):
            h.fail("path.home-pool", f"user resource{side} on {pool.fqdn}", url,
                   f"the home pool {pool.fqdn}, where {seen[-2]} redirects the user, "
                   "does not answer: " + (a.error or f"HTTP {a.status}"),
                   "the client is signed in and sent there, and goes no further: no UCWA, "
                   "no MCX",
                   f"make {Pool.host_port(url)[0]} reach {pool.fqdn}'s "
                   f"{'external site through the reverse proxy' if outside else 'internal site'}"
                   f" (DNS, the proxy's publishing rule, the Front End running), or "
                   f"correct {pool.fqdn}'s URLs in AutodiscoverPool ({pool.where})", a)
            return None
        if a.status == 404:
            h.fail("path.user-not-found", f"user resource{side}", url,
                   f"{pool.fqdn} answers 404 (NotFound) for {ctx.user}, signed in",
                   "the server does not know where the user is homed: the client signs in "
                   "and is then told the user is not enabled for this service",
                   f"{pool.fqdn}'s error log says why: AD00055, the user is not in the "
                   "directory (AutodiscoverDirectoryQuery returns no home pool); AD00056, "
                   "the home pool is a Director (a Director needs AutodiscoverDirectoryQuery: "
                   "without it the home pool is the SIP domain's pool, the Director itself)",
                   a)
            return None
        red = links.get("redirect")
        if red is None:
            return pool, links, a
        href = red.get("href", "") if isinstance(red, dict) else ""
        target = _pool_of(ctx, href, outside)
        if not target:
            h.fail("path.redirect", f"user resource{side}", url,
                   f"{pool.fqdn} redirects to {href or 'nothing'}, which is under no pool's "
                   f"{'external' if outside else 'internal'} URL in {ctx.fe.path}",
                   "the client follows it to a pool this topology does not know",
                   "the topology the server runs differs from this file (apachectl "
                   "graceful after editing it), or the directory names a home pool whose "
                   "AutodiscoverPool URLs are wrong: every Front End and Director must have "
                   "the same AutodiscoverPool lines", a)
            return None
        if target.fqdn in seen or target.role.lower() == "director":
            h.fail("path.redirect", f"user resource{side}", url,
                   f"{pool.fqdn} redirects to {target.fqdn}, "
                   + ("a Director, not a Front End pool" if target.role.lower() ==
                      "director" else "a pool it came from (a loop)"),
                   "the client never reaches a pool that runs UCWA: sign-in never ends",
                   "a Director needs AutodiscoverDirectoryQuery (the user's home pool): "
                   "without it the SIP domain's pool is the home pool, here "
                   f"{target.fqdn}; users' home pools must be Front End pools", a)
            return None
        h.record(f"user resource{side}: redirect to home pool {target.fqdn}", True, a, href)
        if ctx.only_pools and target.fqdn not in ctx.only_pools:
            ctx.report.skip("path home pool" + side,
                            f"{ctx.user} is homed on {target.fqdn}, not among --pool: its "
                            "user resource and UCWA were not tried (add --pool "
                            f"{target.fqdn}, or run the check on that pool's Front End)")
            return None
        seen.append(target.fqdn)
        pool, url = target, href


def client_path(ctx):
    rep = ctx.report
    for dom, pname in ctx.domains.items():
        pool = ctx.pools.get(pname)
        if not pool or (ctx.only_pools and pname not in ctx.only_pools):
            continue
        h = Hop(ctx, f"Client path for {dom} (pool {pname})")
        port_in, port_ex = pool.internal_port, pool.external_port
        sfx_in = "" if port_in == 443 else f":{port_in}"
        sfx_ex = "" if port_ex == 443 else f":{port_ex}"
        fix_site = fe_site_file(ctx, "internal")
        # 1. internal discovery
        url = f"https://lyncdiscoverinternal.{dom}{sfx_in}/"
        a = h.get("internal discovery", "GET", url, False, {"Accept": "application/json"})
        j = _json(a) if a.status == 200 else None
        if a.error or a.status != 200 or not j:
            h.fail("path.internal-discovery", "discovery (internal)", url,
                   a.error or f"HTTP {a.status}, not the discovery root",
                   "internal clients start here; they fall back to the external name and "
                   "the hairpin, or fail",
                   "the certificate this server serves for this name (see the cert findings)"
                   if (a.error or "").startswith("TLS") else f"check DNS and that the internal "
                   f"site ({fix_site}) has Autodiscover On and ServerAlias "
                   f"lyncdiscoverinternal.{dom}", a)
        else:
            user = ((j.get("_links") or {}).get("user") or {}).get("href", "")
            loc = j.get("AccessLocation")
            if not user.startswith(pool.internal + ROOT):
                h.fail("path.internal-discovery-links", "discovery (internal)", url,
                       f"the user link is {user or 'missing'}, not on {pool.internal}",
                       "the client follows this link to sign in",
                       f"AutodiscoverPool {pname} internal= must be the internal web "
                       f"services URL ({pool.where}); the internal site needs "
                       f"AutodiscoverSite Internal", a)
            elif not a.header("X-MS-Server-Fqdn"):
                h.fail("path.server-fqdn", "discovery (internal)", url,
                       "no X-MS-Server-Fqdn header", "clients and admins use it to tell "
                       "which server answered", "set AutodiscoverServerFqdn (or ServerName)", a)
            else:
                h.record("discovery (internal)", True, a,
                         f"{a.header('X-MS-Server-Fqdn')}"
                         + (f", AccessLocation {loc}" if loc else ""))
        # 2. external discovery
        url = f"https://lyncdiscover.{dom}{sfx_ex}/"
        a = h.get("external discovery", "GET", url, True, {"Accept": AD_XML})
        doc, links = _xml_links(a) if a.status == 200 else (None, {})
        oauth = links.get("OAuth")
        if a.error or a.status != 200 or doc is None:
            h.fail("path.external-discovery", "discovery (external)", url,
                   a.error or f"HTTP {a.status}, not the discovery root",
                   "outside clients cannot find their pool",
                   "the certificate the reverse proxy serves for this name (see the cert "
                   "findings)" if (a.error or "").startswith("TLS") else
                   f"publish lyncdiscover.{dom} on the reverse proxy (reverse-proxy.conf) "
                   f"to the Front End's external site, and its DNS record", a)
            continue
        if doc.get("AccessLocation") != "External":
            h.fail("path.access-location", "discovery (external)", url,
                   f"AccessLocation is {doc.get('AccessLocation')}, not External",
                   "an outside client is given internal URLs it cannot reach",
                   f"lyncdiscover.{dom} must reach the Front End's external site "
                   f"({fe_site_file(ctx, 'external')}: AutodiscoverSite External), through "
                   "the reverse proxy", a)
            continue
        if not oauth or not oauth.startswith(pool.external + ROOT):
            h.fail("path.external-discovery-links", "discovery (external)", url,
                   f"the OAuth link is {oauth or 'missing'}, not on {pool.external}",
                   "the client follows this link to sign in",
                   f"AutodiscoverPool {pname} external= must be the published URL "
                   f"({pool.where})", a)
            continue
        h.record("discovery (external)", True, a,
                 f"AccessLocation External, {a.header('X-MS-Server-Fqdn')}")
        # 3. user resource without credentials: the token endpoint
        a = h.get("user (anonymous)", "GET", oauth, True, {"Accept": "application/json"})
        tok = None
        for v in a.headers.get("www-authenticate", []):
            m = re.search(r'MsRtcOAuth\s+href="([^"]+)"', v)
            if m:
                tok = m.group(1)
        if a.status != 401 or not tok:
            h.fail("path.user-challenge", "user resource (anonymous)", oauth,
                   a.error or f"HTTP {a.status} without an MsRtcOAuth challenge",
                   "the client learns the token endpoint from this 401",
                   "the external site needs Autodiscover On and an "
                   "AutodiscoverAuthnProvider", a)
            continue
        if not tok.startswith(pool.external):
            h.fail("path.token-url", "user resource (anonymous)", oauth,
                   f"the token endpoint {tok} is not on {pool.external}",
                   "an outside client cannot reach it",
                   f"AutodiscoverPool {pname} external= ({pool.where})", a)
            continue
        h.record("user resource: 401, token endpoint", True, a, tok)
        if not ctx.user:
            rep.skip("path sign-in", "no test user (--user, --password-file): the token, "
                     "user resource, UCWA and MCX hops were not tried")
            _mcx(ctx, h, pool, None)
            continue
        # 4. token
        body = urllib.parse.urlencode({"grant_type": "password", "username": ctx.user,
                                       "password": ctx.password or ""}).encode()
        a = h.get("token", "POST", tok, True,
                  {"Content-Type": "application/x-www-form-urlencoded"}, body)
        j = _json(a) if a.status == 200 else None
        token = (j or {}).get("access_token")
        if not token:
            h.fail("path.token", "token", tok, a.error or f"HTTP {a.status} for {ctx.user}",
                   "no token, no sign-in", "check the test user's password and the "
                   "directory (AutodiscoverAuthnProvider, AuthDBDUserPWQuery)", a)
            continue
        h.record("token", True, a, ctx.user)
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        # 5. user resource, authenticated, outside and inside; a redirect (a Director, or
        # a user homed on another pool) is followed to the home pool, as the client does
        got = _user_resource(ctx, h, pool, oauth, True, auth)
        if got is None:
            continue
        home, links, a = got
        apps = (links.get("applications") or {}).get("href")
        on = "" if home is pool else f" on {home.fqdn}"
        if not apps:
            h.fail("path.user", f"user resource{on}", oauth, a.error or
                   f"HTTP {a.status} without an applications link", "the client needs the "
                   "applications link to start UCWA", "Ucwa On on the external site "
                   f"({fe_site_file(ctx, 'external')})", a)
            continue
        if Pool.host_port(apps)[0] != home.external_host:
            h.fail("path.applications-url", f"user resource{on}", oauth,
                   f"the applications link {apps} is not on {home.external_host}",
                   "outside clients must reach UCWA through the external web FQDN",
                   f"AutodiscoverPool {home.fqdn} external= ({home.where})", a)
            continue
        h.record(f"user resource{on}: applications link", True, a, apps)
        url_in = f"https://{pool.internal_host}{sfx_in}{ROOT}/oauth/user?originalDomain={dom}"
        got = _user_resource(ctx, h, pool, url_in, False, auth)
        if got is not None:
            home_in, links, a = got
            apps_in = (links.get("applications") or {}).get("href", "")
            if Pool.host_port(apps_in)[0] != home_in.external_host:
                h.fail("path.hairpin", "user resource (internal)", url_in,
                       a.error or f"applications link {apps_in or 'missing'}, not on the "
                       f"external web FQDN {home_in.external_host}",
                       "internal clients reach UCWA through the external web FQDN (the "
                       "hairpin through the reverse proxy)", "AutodiscoverPool external= "
                       "and the internal site's Ucwa On", a)
            else:
                h.record("user resource (internal): hairpin to the external FQDN", True, a,
                         apps_in)
        pool = home
        sfx_ex = "" if pool.external_port == 443 else f":{pool.external_port}"
        # 6. UCWA through the external web FQDN
        # an endpointId of its own: one that exists answers 200 with that application
        body = json.dumps({"userAgent": "mobility-check",
                           "endpointId": f"mobility-check-{os.getpid()}-{time.time()}",
                           "culture": "en-US"}).encode()
        a = h.get("UCWA application", "POST", apps, True,
                  {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Accept": "application/json"}, body)
        if a.status not in (200, 201):
            h.fail("path.ucwa", "UCWA: create application", apps,
                   a.error or f"HTTP {a.status}", "the client cannot start a session",
                   f"Ucwa On on the external site ({fe_site_file(ctx, 'external')}), and "
                   "the reverse proxy publishing /ucwa", a)
        elif not a.header("X-MS-Server-Fqdn"):
            h.fail("path.server-fqdn", "UCWA: create application", apps,
                   "no X-MS-Server-Fqdn header", "clients use it to stay on one Front End",
                   "set AutodiscoverServerFqdn (or ServerName)", a)
        else:
            h.record("UCWA: create application", True, a, a.header("X-MS-Server-Fqdn"))
            app = _json(a) or {}
            self_href = ((app.get("_links") or {}).get("self") or {}).get("href")
            origin = f"https://{pool.external_host}{sfx_ex}"
            mc_calls.relay_token(ctx, h, origin, app, {"Authorization": f"Bearer {token}",
                                                       "Accept": "application/json"})
            if self_href:
                d = h.get("UCWA delete", "DELETE", origin + self_href if
                          self_href.startswith("/") else self_href, True,
                          {"Authorization": f"Bearer {token}"})
                h.record("UCWA: delete application", d.status in (200, 204), d,
                         "" if d.status in (200, 204) else f"HTTP {d.status}")
        _mcx(ctx, h, pool, token)


def _mcx(ctx, h, pool, token):
    mcx_on = any(v.on("Mcx") for v in ctx.fe.vhosts
                 if (v.value("AutodiscoverSite") or "").lower() == "external")
    if not pool.mcx and not mcx_on:
        return
    sfx = "" if pool.external_port == 443 else f":{pool.external_port}"
    url = f"https://{pool.external_host}{sfx}/Mcx/McxService.svc/mex"
    a = h.get("MCX", "GET", url, True)
    if a.status != 200 or b"wsdl" not in a.body[:2000].lower():
        h.fail("path.mcx", "MCX service description", url, a.error or f"HTTP {a.status}",
               "Lync 2010 mobile clients use MCX; the topology says it is on "
               f"(mcx=on, {pool.where})",
               f"Mcx On on the external site ({fe_site_file(ctx, 'external')}) and "
               "LoadModule mcx_module, or mcx=off in the topology", a)
    else:
        h.record("MCX: service description", True, a)


# --- certificates ----------------------------------------------------------------------

def _cert_file(cfg, addr, port):
    for v in cfg.vhosts if cfg else []:
        if v.port == port and v.ssl and v.addr in (addr, "*", "_default_"):
            return v.value("SSLCertificateFile"), v.where
    return None, None


def certificates(ctx):
    rep = ctx.report
    targets = []            # (name, addr, port, who)
    for dom, pname in ctx.domains.items():
        pool = ctx.pools.get(pname)
        if not pool or (ctx.only_pools and pname not in ctx.only_pools):
            continue
        targets.append((f"lyncdiscoverinternal.{dom}", pool.internal_port, False))
        targets.append((f"lyncdiscover.{dom}", pool.external_port, True))
    for pool in ctx.checked_pools():
        targets += [(pool.internal_host, pool.internal_port, False),
                    (pool.external_host, pool.external_port, False),
                    (pool.external_host, pool.external_port, True)]
    probes = {}
    for name, port, outside in targets:
        for addr in ctx.addrs(name, outside)[:1]:
            probes.setdefault((addr, port, name), "as a client reaches it "
                              + ("from outside" if outside else "from inside"))
    for cfg, who in ((ctx.fe, "this server"), (ctx.rp, "the reverse proxy")):
        for v in cfg.vhosts if cfg else []:
            if not v.ssl:
                continue
            addr = "127.0.0.1" if v.addr in ("*", "_default_") else v.addr
            for name in v.names:
                probes.setdefault((addr, v.port, name), f"{who}, {v.where}")
    at = {}
    for addr, port, name in probes:
        at.setdefault((addr, port), set()).add(name)
    now, seen = time.time(), set()
    for (addr, port, name), how in sorted(probes.items()):
        c = mc_net.served_certificate(addr, port, name, ctx.ca)
        subj = f"{name} at {addr}:{port}"
        crt, where = _cert_file(ctx.rp, addr, port)
        if not crt:
            crt, where = _cert_file(ctx.fe, addr, port)
        in_file = f" ({crt}, SSLCertificateFile in {where})" if crt else ""
        if c.error:
            if "client reaches" in how:
                continue        # the client path reports what it could not reach
            rep.problem("cert.unreachable", subj, c.error, "clients cannot connect over TLS",
                        f"check the Listen and <VirtualHost> for {addr}:{port}")
            continue
        if not mc_net.name_matches(name, c.sans):
            rep.problem("cert.san-missing", subj,
                        f"the certificate served for {name} ({how}) does not name it: "
                        f"SANs {', '.join(c.sans) or 'none'}",
                        "mobile clients check the name and refuse the connection: discovery "
                        "or sign-in fails on this name",
                        f"reissue the certificate{in_file} with DNS:{name} in its "
                        "subjectAltName, with every name clients reach at "
                        f"{addr}:{port} ({', '.join(sorted(at[(addr, port)]))}), then "
                        "apachectl graceful")
        else:
            rep.ok("cert.san", subj, "named in the certificate")
        cert_id = (addr, port, c.subject, c.not_after)
        if cert_id in seen:
            continue            # the same certificate for another name: chain and expiry told
        seen.add(cert_id)
        if not c.chain_ok:
            rep.problem("cert.chain", subj,
                        f"the chain served does not verify ({c.chain_error}; "
                        f"{c.chain_len} certificate{'s' if c.chain_len != 1 else ''} served)",
                        "mobile clients do not fetch missing intermediates: the connection "
                        "fails on phones while a desktop browser may succeed",
                        "serve the intermediates with the certificate (SSLCertificateFile "
                        f"holding the leaf then its intermediates){in_file}"
                        + ("" if ctx.ca else ", or name the private CA with --ca"))
        else:
            rep.ok("cert.chain", subj, f"chain verifies ({c.chain_len} served)")
        left = (c.not_after - now) / 86400
        if left < ctx.days:
            rep.problem("cert.expiry", subj,
                        f"the certificate expires in {left:.0f} days "
                        f"({time.strftime('%Y-%m-%d', time.gmtime(c.not_after))})",
                        "when it expires every mobile client fails to connect",
                        f"renew it{in_file} before then (threshold --days {ctx.days})")
        else:
            rep.ok("cert.expiry", subj, f"{left:.0f} days left")
    http_fallback(ctx)


def http_fallback(ctx):
    for dom, pname in ctx.domains.items():
        ld = f"lyncdiscover.{dom}"
        ports = sorted({v.port for v in (ctx.rp.vhosts if ctx.rp else [])
                        if not v.ssl and ld in v.names}) or [80]
        for port in ports:
            addrs = ctx.addrs(ld, True)
            if not addrs:
                continue
            sfx = "" if port == 80 else f":{port}"
            a = mc_net.request("GET", "http", ld, port, addrs[0], "/", {"Accept": AD_XML},
                               timeout=5)
            if a.status == 200 and b"AutodiscoverResponse" in a.body:
                ctx.report.notice(
                    "cert.http-fallback", f"http://{ld}{sfx}/",
                    "the HTTP fallback for Autodiscover is in use (not recommended)",
                    "documented for mobile clients that cannot use HTTPS for discovery; "
                    "the discovery root travels in clear text and can be altered on the "
                    "way (the Front End refuses credentials on it)",
                    "when every client discovers over HTTPS, remove the port 80 "
                    "<VirtualHost> for lyncdiscover from the reverse proxy")


# --- reverse proxy, load balancer, X-Forwarded-For --------------------------------------

def event_max(ctx):
    a = ctx.fe.all("UcwaEventTimeoutRange")
    try:
        return int(a[-1].args[1]) if a else DEFAULT_EVENT_MAX
    except (IndexError, ValueError):
        return DEFAULT_EVENT_MAX


def _timeout_of(rp, v):
    """(seconds, how it is set, file:line to change or None) of what the proxy waits."""
    for d in v.all("ProxyPass"):
        for arg in d.args[2:]:
            if arg.lower().startswith("timeout="):
                return int(arg.split("=", 1)[1]), f"ProxyPass {arg} ({d.where})", d.where
    for name in ("ProxyTimeout", "Timeout"):
        for scope in (v, rp):
            found = scope.all(name)
            if found:
                d = found[-1]
                return int(d.args[0]), f"{name} {d.args[0]} ({d.where})", d.where
    return 60, "no ProxyTimeout or Timeout: the default 60 s", None


def reverse_proxy(ctx):
    rep = ctx.report
    if not ctx.rp:
        rep.skip("reverse proxy", "no reverse proxy configuration named (--proxy-config): "
                 "publishing rules and timeouts not read")
        return
    longest = event_max(ctx)
    names = [f"lyncdiscover.{d}" for d, p in ctx.domains.items()
             if not ctx.only_pools or p in ctx.only_pools]
    names += [p.external_host for p in ctx.checked_pools()]
    for name in names:
        v = next((v for v in ctx.rp.vhosts if v.ssl and name in v.names), None)
        if not v or not (v.all("ProxyPass") or v.all("ProxyPassMatch")):
            rep.problem("proxy.rule-missing", name,
                        f"the reverse proxy ({ctx.rp.path}) publishes no HTTPS site for {name}",
                        "outside clients reach nothing (or another site) under this name",
                        f"add ServerAlias {name} (or a <VirtualHost>) with ProxyPass \"/\" to "
                        "the Front End's external site (reverse-proxy.conf)")
            continue
        rep.ok("proxy.rule", name, v.where)
        secs, why, where = _timeout_of(ctx.rp, v)
        if secs <= longest:
            rep.problem("proxy.timeout", name,
                        f"the reverse proxy waits {secs} s for the Front End ({why}), not "
                        f"longer than the longest event request ({longest} s, "
                        "UcwaEventTimeoutRange)",
                        "a parked event request is cut by the proxy (504): clients see "
                        "errors and reconnect, and miss or repeat events",
                        (f"set ProxyTimeout {longest + 100} in place of {why}" if where else
                         f"add ProxyTimeout {longest + 100} to the reverse proxy's server "
                         f"configuration ({ctx.rp.path})")
                        + "; keep it above UcwaEventTimeoutRange's max when that changes")
        else:
            rep.ok("proxy.timeout", name, f"{secs} s > {longest} s ({why})")
    for bal in ctx.rp.sections("Proxy"):
        if not bal.args or not bal.args[0].startswith("balancer://"):
            continue
        members = [d for d in bal.children if d.name.lower() == "balancermember"]
        sticky = [d for d in walk_dirs(bal.children) if d.name.lower() == "proxyset"
                  and any(a.lower().startswith("stickysession=") for a in d.args)]
        if len(members) > 1 and not sticky:
            rep.problem("lb.no-affinity", bal.args[0],
                        f"{len(members)} Front Ends behind {bal.args[0]} ({bal.where}) "
                        "without stickysession",
                        "a UCWA application lives on one Front End: requests that land on "
                        "another get 404 and the client signs in again and again",
                        "ProxySet stickysession=ROUTEID with route= on every BalancerMember "
                        "(hlb.conf), or source affinity on the hardware load balancer")


def walk_dirs(ds):
    for d in ds:
        yield d
        if d.children:
            yield from walk_dirs(d.children)


def affinity(ctx):
    """Two requests (and two more) from this address to the external web FQDN: one
    Front End must answer them all (X-MS-Server-Fqdn), with the cookies it sets kept."""
    for pool in ctx.checked_pools():
        sfx = "" if pool.external_port == 443 else f":{pool.external_port}"
        url = f"https://{pool.external_host}{sfx}/"
        addrs = ctx.addrs(pool.external_host, True)
        if not addrs:
            continue
        seen, cookies = [], {}
        for _ in range(4):
            hdr = {"Accept": "application/json", "Host": f"lyncdiscover.{next(iter(ctx.domains))}{sfx}"}
            if cookies:
                hdr["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
            a = mc_net.request("GET", "https", pool.external_host, pool.external_port,
                               addrs[0], "/", hdr, ca=ctx.ca, timeout=10)
            for c in a.headers.get("set-cookie", []):
                k, _, v = c.split(";", 1)[0].partition("=")
                cookies[k.strip()] = v.strip()
            if a.header("X-MS-Server-Fqdn"):
                seen.append(a.header("X-MS-Server-Fqdn"))
        if len(set(seen)) > 1:
            ctx.report.problem("lb.no-affinity", url,
                               f"four requests from one address reached "
                               f"{len(set(seen))} Front Ends: {', '.join(seen)}",
                               "a UCWA application lives on one Front End: requests that "
                               "land on another get 404 and the client signs in again",
                               "set source (or cookie) affinity on the load balancer in "
                               "front of the pool's external sites (hlb.conf: "
                               "stickysession=ROUTEID)")
        elif seen:
            ctx.report.ok("lb.affinity", url, f"{len(seen)} requests, one Front End ({seen[0]})")


def _nets(args):
    out = []
    for a in args:
        try:
            out.append(ipaddress.ip_network(a, strict=False))
        except ValueError:
            out.append(a)           # a host name: one address
    return out


def forwarded_for(ctx):
    rep = ctx.report
    for v in ctx.fe.vhosts:
        site = (v.value("AutodiscoverSite") or "").lower()
        if not v.on("Autodiscover") and not v.on("Ucwa"):
            continue
        header = v.value("RemoteIPHeader") or ctx.fe.value("RemoteIPHeader")
        trusted = []
        for n in ("RemoteIPInternalProxy", "RemoteIPTrustedProxy"):
            for d in v.all(n) + ctx.fe.all(n):
                trusted += d.args
        subj = f"{v.names[0] if v.names else v.addr}:{v.port}"
        if site == "external":
            if not header:
                rep.problem("xff.not-used", subj,
                            f"the external site ({v.where}) does not read X-Forwarded-For",
                            "every outside client has the reverse proxy's address: sign-in "
                            "lockout and logs count them as one client",
                            "RemoteIPHeader X-Forwarded-For and RemoteIPInternalProxy <the "
                            "reverse proxy's address> in that <VirtualHost>")
                continue
            if not trusted:
                rep.problem("xff.trusts-everyone", subj,
                            f"RemoteIPHeader without RemoteIPInternalProxy ({v.where})",
                            "without a proxy list mod_remoteip takes the header from any "
                            "peer: a client chooses the address lockout counts",
                            "RemoteIPInternalProxy <the reverse proxy's address>")
                continue
            broad = [n for n in _nets(trusted) if isinstance(n, ipaddress._BaseNetwork)
                     and n.prefixlen < (24 if n.version == 4 else 64)]
            if broad:
                rep.problem("xff.too-broad", subj,
                            f"X-Forwarded-For is trusted from {', '.join(map(str, broad))} "
                            f"({v.where})",
                            "any host in that range can choose the address lockout counts",
                            "trust the reverse proxy's own addresses only")
                continue
            rp = sorted({x.addr for x in (ctx.rp.vhosts if ctx.rp else [])
                         if x.addr not in ("*", "_default_")})
            if rp and not any(ipaddress.ip_address(a) in n for a in rp for n in _nets(trusted)
                              if isinstance(n, ipaddress._BaseNetwork)):
                rep.problem("xff.not-the-proxy", subj,
                            f"X-Forwarded-For is trusted from {', '.join(trusted)}, not from "
                            f"the reverse proxy ({', '.join(rp)})",
                            "outside clients' addresses are lost (lockout counts the proxy)",
                            f"RemoteIPInternalProxy {' '.join(rp)} ({v.where})")
                continue
            rep.ok("xff.trusted", subj, f"from {', '.join(trusted)} only")
        elif site == "internal" and header:
            rep.problem("xff.internal", subj,
                        f"the internal site reads {header} ({v.where})",
                        "internal clients reach it directly and could choose the address "
                        "lockout counts", "remove RemoteIPHeader from the internal site")


# --- policy ----------------------------------------------------------------------------

POLICY_DEFAULTS = {
    "EnableMobility": "On", "EnableOutsideVoice": "On", "EnableIPAudioVideo": "On",
    "RequireWiFiForIPAudio": "Off", "RequireWiFiForIPVideo": "Off",
    "RequireWiFiForSharing": "Off", "AllowCustomerExperienceImprovementProgram": "On",
    "AllowSaveCallLogs": "On", "AllowExchangeConnectivity": "On", "AllowSaveIMHistory": "On",
    "AllowSaveCredentials": "On", "EnablePushNotifications": "On", "EncryptAppData": "On",
    "AllowDeviceContactsSync": "On", "RequireIntune": "Off",
    "AllowAutomaticPstnFallback": "On", "VoiceSettings": "VoIPAlways"}


def policy(ctx, user):
    """The policy mod_ucwa gives user: the directory's tag (UcwaUserQuery, read here from
    the SQLite file mod_dbd is pointed at), else site:UcwaSite, else global."""
    rep = ctx.report
    sections = {s.args[0].lower(): s for s in ctx.fe.sections("UcwaMobilityPolicy") if s.args}
    tag, why_tag = None, ""
    q = ctx.fe.value("UcwaUserQuery")
    driver = (ctx.fe.value("DBDriver") or "").lower()
    if q and driver == "sqlite3":
        db = ctx.fe.value("DBDParams")
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            row = con.execute(q.replace("%s", "?"), (user.lower().removeprefix("sip:"),)).fetchone()
            con.close()
        except sqlite3.Error as e:
            rep.problem("policy.directory", db, f"cannot read the directory: {e}",
                        "the policy of a user cannot be told", "run as a user who may read it")
            return
        if row is None:
            rep.problem("policy.unknown-user", user, f"{user} is not in the directory ({db})",
                        "the user cannot sign in", "check the address")
            return
        tag = row[1] if len(row) > 1 and row[1] else None
        why_tag = f"UcwaUserQuery on {db}"
    elif q:
        rep.skip("policy tag", f"the directory is {driver or 'not sqlite3'}: the user's tag "
                 "is not read (sqlite3 only); the site and global policies are shown")
    site = ctx.fe.value("UcwaSite")
    if tag and tag.lower() in sections:
        name, scope, why = tag, "tag", f"granted {tag} in the directory ({why_tag})"
    elif tag:
        rep.problem("policy.tag-undefined", user,
                    f"{user} is granted policy {tag}, which no <UcwaMobilityPolicy> defines",
                    "the user gets the site or global policy instead of the one granted",
                    f"add <UcwaMobilityPolicy {tag}> or grant an existing tag")
        tag = None
    if not tag:
        if site and f"site:{site.lower()}" in sections:
            name, scope, why = f"site:{site}", "site", f"UcwaSite {site}, no tag granted"
        elif "global" in sections:
            name, scope, why = "global", "global", "no tag, no site policy"
        else:
            name, scope, why = "global", "global", "no policy configured: the defaults"
    params = dict(POLICY_DEFAULTS)
    sec = sections.get(name.lower())
    if sec:
        canon = {k.lower(): k for k in POLICY_DEFAULTS}
        for d in sec.children:
            k = canon.get(d.name.lower())
            if k and d.args:
                params[k] = d.args[0]
        why += f" ({sec.where})"
    rep.policy = {"user": user, "policy": name, "scope": scope, "why": why,
                  "parameters": params}
