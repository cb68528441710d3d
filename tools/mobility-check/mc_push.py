"""Push notifications: for each provider the configuration switches on for this server
(UcwaPushProvider ... On, the site's switch winning over the global one, as mod_ucwa
decides), its credentials load and the provider answers where it can be asked without
sending anything to a device: FCM HTTP v1 has a dry run (validate_only), APNs has none
(a TLS connection with HTTP/2 to the endpoint shows it is reachable), WebPush has no
service to ask (the VAPID public key is reported, for the clients' applicationServerKey).
The endpoints and the trust are those of the configuration (UcwaPushApns' host,
UcwaPushFcm's base URL and the service account's token_uri, UcwaPushCAFile). And, when
MCX is on, what Lync 2010 clients' push needs on the network (TCP 5223)."""
import base64
import json
import os
import socket
import ssl
import struct
import time
import urllib.error
import urllib.parse
import urllib.request

from mc_report import Step

ALIASES = {"webpush": "WebPush", "unifiedpush": "WebPush", "apns": "APNs", "fcm": "FCM"}
APNS_DEFAULT = "api.push.apple.com"
FCM_DEFAULT = "https://fcm.googleapis.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TIMEOUT = 10


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def enabled(fe):
    """{provider: the UcwaPushProvider directive that switches it on} for this server's
    site (UcwaSite): a site switch wins over the global one, the last of each wins."""
    site = (fe.value("UcwaSite") or "").lower()
    glob, local = {}, {}
    for d in fe.all("UcwaPushProvider"):
        if len(d.args) < 2 or d.args[0].lower() not in ALIASES:
            continue
        name, on = ALIASES[d.args[0].lower()], d.args[1].lower() == "on"
        scope = d.args[2].lower() if len(d.args) > 2 else ""
        if not scope:
            glob[name] = (on, d)
        elif scope == f"site:{site}" and site:
            local[name] = (on, d)
    out = {}
    for name in ("WebPush", "APNs", "FCM"):
        on, d = local.get(name) or glob.get(name) or (False, None)
        if on:
            out[name] = d
    return out


def _file(fe, path):
    return path if os.path.isabs(path) else os.path.join(fe.server_root, path)


def _directive(fe, name):
    found = fe.all(name)
    return found[-1] if found else None


def _ec_key(path):
    """The P-256 private key of a PEM file (VAPID, APNs .p8), or raises ValueError."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("not an EC P-256 private key")
    return key


def _es256(key, header, claims):
    """A signed ES256 JWT, verified with the key's own public half (a key that cannot sign
    fails here, not at the provider)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    head = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    der = key.sign(head.encode(), ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(der, head.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return head + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _rs256(pem, header, claims):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key is not an RSA key")
    head = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return head + "." + b64url(key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256()))


def _tls(ca):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    return ctx


def h2_reachable(host, port, ca):
    """(ok, detail, seconds): a TLS connection to host:port that negotiates HTTP/2 (ALPN
    h2), the client preface and SETTINGS sent, the server's SETTINGS received. Nothing is
    requested: APNs has no dry run, and a provider token made here could make APNs refuse
    the server's own as TooManyProviderTokenUpdates."""
    t0 = time.monotonic()
    ctx = _tls(ca)
    ctx.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                if s.selected_alpn_protocol() != "h2":
                    return False, (f"TLS works but the server does not speak HTTP/2 (ALPN "
                                   f"{s.selected_alpn_protocol() or 'none'})"), \
                        time.monotonic() - t0
                s.sendall(H2_PREFACE + struct.pack(">I", 0)[1:] + bytes([4, 0]) + bytes(4))
                head = b""
                while len(head) < 9:
                    chunk = s.recv(9 - len(head))
                    if not chunk:
                        break
                    head += chunk
                if len(head) < 9 or head[3] != 4:
                    return False, "the server did not answer the HTTP/2 preface with SETTINGS", \
                        time.monotonic() - t0
                s.sendall(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + bytes(8))   # GOAWAY
                return True, f"TLS {s.version()}, HTTP/2", time.monotonic() - t0
    except (OSError, ssl.SSLError) as e:
        return False, f"{host}:{port}: {e}", time.monotonic() - t0


def _post(url, body, headers, ca):
    """(status, JSON or text, seconds, error) of one HTTPS POST."""
    t0 = time.monotonic()
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=_tls(ca)) as r:
            status, text = r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    except (OSError, ValueError) as e:
        return 0, None, time.monotonic() - t0, str(getattr(e, "reason", e))
    try:
        doc = json.loads(text)
    except ValueError:
        doc = text
    return status, doc, time.monotonic() - t0, None


def _google_error(doc):
    if isinstance(doc, dict):
        e = doc.get("error")
        if isinstance(e, dict):
            return f"{e.get('status', '')} {e.get('message', '')}".strip()
        if e:
            return f"{e}: {doc.get('error_description', '')}".rstrip(": ")
    return str(doc)[:200]


class Push:
    def __init__(self, ctx):
        self.ctx, self.rep, self.fe = ctx, ctx.report, ctx.fe
        self.steps = None
        ca = _directive(self.fe, "UcwaPushCAFile")
        self.ca = _file(self.fe, ca.args[0]) if ca and ca.args else None

    def step(self, name, ok, seconds, detail=""):
        if self.steps is None:
            self.steps = self.rep.steps.setdefault("Push providers", [])
        self.steps.append(Step(name, ok, seconds, detail))
        return ok

    def bad_key(self, provider, d, path, e):
        self.step(f"{provider}: credentials", False, 0.0, str(e))
        self.rep.problem("push.credentials", f"{path} ({d.where})",
                         f"{provider}: the key does not load: {e}",
                         f"mod_ucwa cannot sign its requests to {provider}: no notification "
                         "reaches a device in the background",
                         f"give {d.name} the right file ({d.where}); the server refuses to "
                         "start with it too (apachectl configtest)")

    def webpush(self, switch):
        d = _directive(self.fe, "UcwaPushVapidKey")
        if not d or not d.args:
            return self.missing("WebPush", switch, "UcwaPushVapidKey")
        path = _file(self.fe, d.args[0])
        try:
            key = _ec_key(path)
        except (OSError, ValueError) as e:
            return self.bad_key("WebPush", d, path, e)
        from cryptography.hazmat.primitives import serialization
        pub = b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint))
        self.step("WebPush: VAPID key", True, 0.0, f"public key {pub}")
        self.rep.ok("push.webpush", path, f"the VAPID key loads; its public key (the clients' "
                    f"applicationServerKey) is {pub}; WebPush has no service to dry-run: each "
                    f"subscription names its own")

    def apns(self, switch):
        d = _directive(self.fe, "UcwaPushApns")
        if not d or len(d.args) < 4:
            return self.missing("APNs", switch, "UcwaPushApns")
        path, kid, team = _file(self.fe, d.args[0]), d.args[1], d.args[2]
        hostport = d.args[4] if len(d.args) > 4 else APNS_DEFAULT
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        port = int(port) if port.isdigit() else 443
        try:
            _es256(_ec_key(path), {"alg": "ES256", "kid": kid}, {"iss": team,
                                                                 "iat": int(time.time())})
        except (OSError, ValueError) as e:
            return self.bad_key("APNs", d, path, e)
        self.step("APNs: .p8 key (ES256)", True, 0.0, f"key id {kid}, team id {team}")
        ok, detail, secs = h2_reachable(host, port, self.ca)
        self.step(f"APNs: {host}:{port} over HTTP/2", ok, secs, detail)
        if ok:
            self.rep.ok("push.apns", f"{host}:{port}", f"the key signs provider tokens (key id "
                        f"{kid}, team {team}); {detail}; APNs has no dry run")
            return
        self.rep.problem("push.apns-unreachable", f"{host}:{port}",
                         f"APNs at {host}:{port} ({d.where}): {detail}",
                         "notifications to iPhones and iPads cannot be delivered",
                         f"allow outbound TCP {port} from the Front Ends to {host}"
                         + (" (Apple's 17.0.0.0/8)" if host.endswith(".apple.com") else "")
                         + "; trust its CA (UcwaPushCAFile, or the system store)")

    def fcm(self, switch):
        d = _directive(self.fe, "UcwaPushFcm")
        if not d or not d.args:
            return self.missing("FCM", switch, "UcwaPushFcm")
        path = _file(self.fe, d.args[0])
        base = (d.args[1] if len(d.args) > 1 else FCM_DEFAULT).rstrip("/")
        try:
            with open(path) as f:
                sa = json.load(f)
            need = [k for k in ("project_id", "client_email", "private_key", "token_uri")
                    if not isinstance(sa.get(k), str) or not sa[k]]
            if need:
                raise ValueError(f"no {', '.join(need)} in the service account file")
            now = int(time.time())
            header = {"alg": "RS256", "typ": "JWT"}
            if sa.get("private_key_id"):
                header["kid"] = sa["private_key_id"]
            assertion = _rs256(sa["private_key"], header,
                               {"iss": sa["client_email"], "scope": FCM_SCOPE,
                                "aud": sa["token_uri"], "iat": now, "exp": now + 3600})
        except (OSError, ValueError) as e:
            return self.bad_key("FCM", d, path, e)
        self.step("FCM: service account", True, 0.0, f"{sa['client_email']}, project "
                  f"{sa['project_id']}")
        form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                       "assertion": assertion}).encode()
        status, doc, secs, err = _post(sa["token_uri"], form, {
            "Content-Type": "application/x-www-form-urlencoded"}, self.ca)
        token = doc.get("access_token") if status == 200 and isinstance(doc, dict) else None
        self.step("FCM: access token", bool(token), secs, sa["token_uri"] if token else
                  (err or f"HTTP {status}: {_google_error(doc)}"))
        if not token:
            return self.rep.problem(
                "push.fcm-token", sa["token_uri"],
                f"FCM: no access token for {sa['client_email']}: "
                f"{err or f'HTTP {status}: {_google_error(doc)}'}",
                "mod_ucwa cannot send to FCM: no notification reaches an Android device in "
                "the background",
                f"a key the service account still has (Google Cloud console, IAM, service "
                f"accounts; {path}), and outbound HTTPS to {urllib.parse.urlsplit(sa['token_uri']).netloc}")
        url = f"{base}/v1/projects/{sa['project_id']}/messages:send"
        body = json.dumps({"validate_only": True, "message": {
            "token": "mobility-check-dry-run", "data": {"check": "mobility-check"}}}).encode()
        status, doc, secs, err = _post(url, body, {"Content-Type": "application/json",
                                                   "Authorization": f"Bearer {token}"}, self.ca)
        # a made-up registration token: 200 (validated), or 400 for the token itself, both
        # mean the project and the credentials are accepted
        ok = status == 200 or (status == 400 and "token" in _google_error(doc).lower())
        what = "validated" if status == 200 else err or f"HTTP {status}: {_google_error(doc)}"
        self.step("FCM: dry run (validate_only)", ok, secs,
                  what if not ok or status == 200 else "the credentials are accepted "
                  "(the made-up registration token is refused, as expected)")
        if ok:
            self.rep.ok("push.fcm", url, f"access token for {sa['client_email']}, dry run "
                        f"accepted")
            return
        self.rep.problem("push.fcm-dry-run", url,
                         f"FCM refuses a dry run (validate_only) for project "
                         f"{sa['project_id']}: {what}",
                         "notifications to Android devices are refused the same way",
                         "403: give the service account the Firebase Cloud Messaging API "
                         "Admin role in that project and enable the FCM API; 404: the base URL "
                         f"({d.where}) or the project_id ({path}) is wrong")

    def missing(self, provider, switch, directive):
        self.rep.problem("push.credentials", switch.where,
                         f"{provider} is switched on without {directive}",
                         "the server refuses to start (apachectl configtest)",
                         f"add {directive} (docs/directives.md) or switch {provider} off")


def check(ctx):
    rep = ctx.report
    on = enabled(ctx.fe)
    p = Push(ctx)
    for name, d in on.items():
        {"WebPush": p.webpush, "APNs": p.apns, "FCM": p.fcm}[name](d)
    if not on:
        rep.skip("push", "no push provider is switched on (UcwaPushProvider ... On): mobile "
                 "clients in the background are not notified")
    mcx = [v for v in ctx.fe.vhosts if v.on("Mcx")]
    if mcx:
        rep.notice("push.port-5223", mcx[0].where,
                   "MCX is on (Lync 2010 mobile clients): an iPhone or iPad of such a client "
                   "receives its push notifications from Apple's push service over TCP 5223, "
                   "outbound from the device (not from this server)",
                   "on a network that blocks outbound TCP 5223, Lync 2010 clients in the "
                   "background miss invitations and messages",
                   "on the Wi-Fi networks mobile devices use, allow outbound TCP 5223 (and 443 "
                   "as Apple's fallback) to Apple's 17.0.0.0/8; drop this when no Lync 2010 "
                   "client is left (Mcx Off)")
