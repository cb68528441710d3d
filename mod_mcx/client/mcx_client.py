#!/usr/bin/python3
"""A command-line client for MCX, version 1 (namespace urn:mobility-httpd:mcx:1).

MCX here is this project's own protocol (docs/mcx-protocol.md), not Microsoft's: the
URL, the WebTicket sign-in and SOAP over HTTPS are what Lync 2010 mobility had; the
operations, notifications and faults are our design. This file is both a module (the
integration tests use McxClient) and a tool:

    mcx_client.py --server https://pool01.contoso.test --ca ca.crt \\
        --user alice@contoso.test --password ... contacts
    ... presence [--set Busy] [--note "In a meeting"]
    ... send sip:bob@contoso.test "Are you in today?"
    ... listen [--seconds 60] [--accept]
    ... chat sip:bob@contoso.test

--server is the web site's origin (or the full service URL); --resolve NAME=ADDRESS
connects to ADDRESS for NAME, as a hosts-file line would. Standard library only; the
server's answers are parsed with ElementTree, requests are built from templates.
"""
import argparse
import getpass
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

NS = "urn:mobility-httpd:mcx:1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_PATH = "/Mcx/McxService.svc"
ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<s:Envelope xmlns:s="{SOAP}" xmlns:m="{NS}"><s:Body>{{body}}</s:Body></s:Envelope>')


class McxError(Exception):
    """An answer that is not what the protocol says (no envelope, wrong element)."""


class McxFault(McxError):
    """A SOAP fault: code is detail/McxError/Code (switch on it), status the UCWA core's
    HTTP status when it gave one, http_status the status of this answer."""

    def __init__(self, code, status, http_status, message, faultcode=None, headers=None):
        super().__init__(f"{code} (HTTP {http_status}): {message}")
        self.code, self.status, self.http_status = code, status, http_status
        self.message, self.faultcode, self.headers = message, faultcode, headers


def envelope(op, fields=(), ns=NS):
    """The request for op: fields are (name, value) pairs; a list value repeats the
    element, None leaves it out."""
    parts = []
    for name, value in fields:
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            if v is not None:
                parts.append(f"<m:{name}>{escape(str(v))}</m:{name}>")
    body = f"<m:{op}>{''.join(parts)}</m:{op}>"
    return ENVELOPE.format(body=body).replace(f'xmlns:m="{NS}"', f'xmlns:m="{ns}"')


def parse_fault(status, headers, body):
    """The McxFault in an answer, or None when it is not a fault."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return McxFault(None, None, status, body[:300].decode("utf-8", "replace"),
                        headers=headers)
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    if fault is None:
        return None
    err = fault.find(f"detail/{{{NS}}}McxError")
    code = err.findtext(f"{{{NS}}}Code") if err is not None else None
    st = err.findtext(f"{{{NS}}}Status") if err is not None else None
    return McxFault(code, int(st) if st else None, status, fault.findtext("faultstring"),
                    fault.findtext("faultcode"), headers)


def local(tag):
    return tag.rsplit("}", 1)[-1]


def as_dict(el, kind=True):
    """A notification (or any element with attributes) as a dict: its attributes,
    'kind' (the element's name) and 'text'."""
    d = dict(el.attrib)
    if kind:
        d["kind"] = local(el.tag)
    d["text"] = el.text or ""
    return d


class McxClient:
    """One MCX session of one device. Not thread-safe, except that a GetNotifications may
    wait in one thread while other operations run in another."""

    def __init__(self, base_url, ca_file=None, timeout=60, persistent=False):
        u = urlsplit(base_url)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.path = u.path.rstrip("/") or SERVICE_PATH
        self.origin = f"{u.scheme}://{u.netloc}"
        self.ctx = ssl.create_default_context(cafile=ca_file) if u.scheme == "https" else None
        self.timeout = timeout
        self.persistent = persistent          # one connection per thread, kept open
        self.local = threading.local()
        self.ticket = self.session_id = self.sequence = None
        self.me = {}
        self.backlog = []                     # notifications wait_for has not handed out

    # --- HTTP ----------------------------------------------------------------------------
    def _conn(self, timeout):
        c = getattr(self.local, "conn", None) if self.persistent else None
        if c is None:
            if self.ctx:
                c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                timeout=timeout)
            else:
                c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            if self.persistent:
                self.local.conn = c
        c.timeout = timeout
        if c.sock:
            c.sock.settimeout(timeout)
        return c

    def request(self, method, path, body=None, headers=None, timeout=None):
        """(status, headers, body). A body the server refuses part-way (413) still gets
        its answer read."""
        c = self._conn(timeout or self.timeout)
        try:
            try:
                c.request(method, path, body=body, headers=headers or {})
            except (BrokenPipeError, ConnectionResetError):
                pass                           # the server answered before reading it all
            r = c.getresponse()
            return r.status, r.msg, r.read()
        except BaseException:
            c.close()
            self.local.conn = None
            raise
        finally:
            if not self.persistent:
                c.close()

    def raw_post(self, body, headers=None, auth=True, path=None, timeout=None):
        """POSTs body (bytes) to the service as it is: (status, headers, body)."""
        h = {"Content-Type": "text/xml; charset=utf-8"}
        if auth and self.ticket:
            h["Authorization"] = "Bearer " + self.ticket
        h.update(headers or {})
        return self.request("POST", path or self.path, body, h, timeout)

    def get_ticket(self, user, password):
        form = urlencode({"grant_type": "password", "username": user, "password": password})
        status, _, body = self.request("POST", "/WebTicket/oauthtoken", form.encode(),
                                       {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise McxError(f"WebTicket: HTTP {status}: {body[:200]!r}")
        self.ticket = json.loads(body)["access_token"]
        return self.ticket

    # --- SOAP ----------------------------------------------------------------------------
    def call(self, op, _timeout=None, **fields):
        """Runs op with fields (element names, in order) and returns the response element.
        SessionId is added for every operation but SignIn."""
        items = list(fields.items())
        if op != "SignIn" and "SessionId" not in fields:
            items.insert(0, ("SessionId", self.session_id))
        body = envelope(op, items).encode("utf-8")
        status, headers, answer = self.raw_post(
            body, {"SOAPAction": f'"{NS}/{op}"'}, timeout=_timeout)
        fault = parse_fault(status, headers, answer)
        if fault is not None:
            raise fault
        el = ET.fromstring(answer).find(f"{{{SOAP}}}Body/{{{NS}}}{op}Response")
        if status != 200 or el is None:
            raise McxError(f"{op}: HTTP {status}, no {op}Response: {answer[:200]!r}")
        return el

    def sign_in(self, user, password, kind="AlwaysConnected", device_id=None,
                user_agent="McxClient/1.0 (mcx_client.py)", culture=None):
        self.get_ticket(user, password)
        r = self.call("SignIn", SessionKind=kind, DeviceId=device_id or str(uuid.uuid4()),
                      UserAgent=user_agent, Culture=culture)
        self.me = {local(c.tag): c.text or "" for c in r}
        for k in ("Lifetime", "Sequence"):
            if self.me.get(k, "").isdigit():
                self.me[k] = int(self.me[k])
        self.session_id, self.sequence = self.me["SessionId"], self.me.get("Sequence")
        return self.me

    def sign_out(self):
        self.call("SignOut")

    def keep_alive(self):
        return int(self.call("KeepAlive").findtext(f"{{{NS}}}Lifetime"))

    def get_presence(self):
        return {local(c.tag): c.text or "" for c in self.call("GetPresence")}

    def publish_presence(self, availability=None, note=None):
        self.call("PublishPresence", Availability=availability, Note=note)

    def get_contacts(self):
        """[{Id, Name, Contacts: [{Uri, Name, Availability}]}] in the server's order."""
        return [dict(g.attrib, Contacts=[dict(c.attrib) for c in g.findall(f"{{{NS}}}Contact")])
                for g in self.call("GetContacts").findall(f"{{{NS}}}Group")]

    def subscribe_presence(self, uris):
        r = self.call("SubscribePresence", Uri=list(uris))
        return [dict(p.attrib) for p in r.findall(f"{{{NS}}}Presence")]

    def start_conversation(self, to, message=None, subject=None):
        r = self.call("StartConversation", To=to, Subject=subject, Message=message)
        return r.findtext(f"{{{NS}}}ConversationId"), r.findtext(f"{{{NS}}}InvitationId")

    def accept(self, invitation_id):
        r = self.call("AcceptInvitation", InvitationId=invitation_id)
        return r.findtext(f"{{{NS}}}ConversationId")

    def decline(self, invitation_id):
        self.call("DeclineInvitation", InvitationId=invitation_id)

    def send_message(self, conversation_id, text):
        r = self.call("SendMessage", ConversationId=conversation_id, Text=text)
        return int(r.findtext(f"{{{NS}}}Number"))

    def set_typing(self, conversation_id):
        self.call("SetTyping", ConversationId=conversation_id)

    def end_conversation(self, conversation_id):
        self.call("EndConversation", ConversationId=conversation_id)

    def register_push(self, provider, endpoint=None, p256dh=None, auth=None, token=None,
                      language=None):
        r = self.call("RegisterPush", Provider=provider, Endpoint=endpoint, P256dh=p256dh,
                      Auth=auth, Token=token, Language=language)
        return r.findtext(f"{{{NS}}}RegistrationId")

    def unregister_push(self, registration_id):
        self.call("UnregisterPush", RegistrationId=registration_id)

    def get_notifications(self, sequence=None, timeout=None):
        """One long poll: (batch, notifications). batch has sequence, next, resync and
        resume; the next call asks for batch['next'] (acknowledging this one)."""
        seq = self.sequence if sequence is None else sequence
        r = self.call("GetNotifications", _timeout=(timeout or 180) + 30, Sequence=seq,
                      Timeout=timeout)
        batch = {"sequence": int(r.get("Sequence")), "next": int(r.get("Next")),
                 "resync": r.get("Resync") == "true", "resume": r.get("Resume") == "true"}
        self.sequence = batch["next"]
        return batch, [as_dict(n) for n in r]

    def wait_for(self, kind, timeout=30, poll=1, **attrs):
        """The first notification of kind whose attributes are attrs (text= for the text),
        polling as needed; the others stay in self.backlog."""
        deadline = time.monotonic() + timeout
        while True:
            for i, n in enumerate(self.backlog):
                if n["kind"] == kind and all(n.get(k) == v for k, v in attrs.items()):
                    return self.backlog.pop(i)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {kind} {attrs}; got {self.backlog}")
            self.backlog += self.get_notifications(timeout=poll)[1]


# --- the command line --------------------------------------------------------------------

def describe(n):
    """One line for a notification."""
    k = n["kind"]
    who = f"{n.get('Name') or ''} <{n.get('From', '')}>".strip()
    if k == "Message":
        return f"Message from {who}: {n['text']}"
    if k == "Invitation":
        subject = f" [{n['Subject']}]" if n.get("Subject") else ""
        return f"Invitation from {who}{subject}: {n['text']}"
    if k == "InvitationResult":
        return f"Invitation result: {n.get('Result')}"
    if k == "Presence":
        note = f" ({n['Note']})" if n.get("Note") else ""
        return f"Presence of {n.get('Uri')}: {n.get('Availability')}{note}"
    if k == "MyPresence":
        return f"My presence: {n.get('Availability')}"
    if k == "Typing":
        return f"{n.get('From')} is typing"
    if k == "ConversationEnded":
        return "Conversation ended"
    return k + "".join(f" {a}={v!r}" for a, v in n.items() if a not in ("kind", "text"))


def say(*args):
    print(*args, flush=True)


def cmd_contacts(c, args):
    for g in c.get_contacts():
        say(g.get("Name"))
        if not g["Contacts"]:
            say("  (no contacts)")
        for p in g["Contacts"]:
            say(f"  {p.get('Name') or p.get('Uri')} <{p.get('Uri')}>: {p.get('Availability')}")
    return 0


def cmd_presence(c, args):
    if args.set or args.note is not None:
        c.publish_presence(args.set, args.note)
    p = c.get_presence()
    say(f"Availability: {p.get('Availability')}")
    for k in ("Activity", "Note"):
        if p.get(k):
            say(f"{k}: {p[k]}")
    if args.set or args.note is not None:
        args.keep_session = True
        say(f"(signed in as session {c.session_id} until it expires: "
            f"{c.me.get('Lifetime')} s without activity)")
    return 0


def cmd_send(c, args):
    cid, iid = c.start_conversation(args.to, message=args.text, subject=args.subject)
    try:
        result = c.wait_for("InvitationResult", timeout=args.wait, InvitationId=iid)["Result"]
    except TimeoutError:
        result = "no answer"
    say(f"Invitation to {args.to}: {result}")
    if result == "Connected":
        c.end_conversation(cid)
    return 0 if result == "Connected" else 1


def cmd_listen(c, args):
    deadline = time.monotonic() + args.seconds if args.seconds else None
    while deadline is None or time.monotonic() < deadline:
        left = 30 if deadline is None else max(1, min(30, int(deadline - time.monotonic())))
        for n in c.get_notifications(timeout=left)[1]:
            say(describe(n))
            if n["kind"] == "Invitation" and args.accept:
                c.accept(n["InvitationId"])
                say(f"Accepted the invitation from {n.get('From')}")
    return 0


def cmd_chat(c, args):
    say(f"Type the first message to invite {args.to}; an empty line or end of input ends.")
    first = sys.stdin.readline().rstrip("\n")
    if not first:
        return 0
    cid, iid = c.start_conversation(args.to, message=first)
    connected, ended = threading.Event(), threading.Event()

    def listen():
        while not ended.is_set():
            try:
                notes = c.get_notifications(timeout=30)[1]
            except (McxError, OSError) as e:
                say(f"(notification channel: {e})")
                ended.set()
                break
            for n in notes:
                if n.get("ConversationId") not in (None, cid):
                    continue
                say(describe(n))
                if n["kind"] == "InvitationResult":
                    (connected if n["Result"] == "Connected" else ended).set()
                if n["kind"] == "ConversationEnded":
                    ended.set()
    threading.Thread(target=listen, daemon=True).start()
    while not connected.wait(0.2):
        if ended.is_set():
            return 1
    for line in sys.stdin:
        if ended.is_set() or not line.strip():
            break
        c.send_message(cid, line.rstrip("\n"))
    if not ended.is_set():
        c.end_conversation(cid)
    return 0


def resolve(pairs):
    """--resolve NAME=ADDRESS: connect to ADDRESS when NAME is asked for."""
    table = {k.lower(): v for k, v in (p.split("=", 1) for p in pairs)}
    real = socket.getaddrinfo

    def getaddrinfo(host, *a, **kw):
        return real(table.get(host.lower(), host) if isinstance(host, str) else host, *a, **kw)
    socket.getaddrinfo = getaddrinfo


def main(argv=None):
    p = argparse.ArgumentParser(description="MCX v1 client (docs/mcx-protocol.md)")
    p.add_argument("--server", default=os.environ.get("MCX_SERVER"), required=False,
                   help="https://<web FQDN>[:port] or the full service URL")
    p.add_argument("--ca", help="CA certificates to trust (PEM)")
    p.add_argument("--user", default=os.environ.get("MCX_USER"))
    p.add_argument("--password", help="else $MCX_PASSWORD, else asked for")
    p.add_argument("--device-id", help="the same id signs in to the same session")
    p.add_argument("--kind", default="AlwaysConnected", choices=["AlwaysConnected", "PushCapable"])
    p.add_argument("--resolve", action="append", default=[], metavar="NAME=ADDRESS")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("contacts", help="groups and contacts with their presence")
    s = sub.add_parser("presence", help="show (and change) your presence")
    s.add_argument("--set", choices=["Online", "Busy", "DoNotDisturb", "BeRightBack", "Away",
                                     "Offwork"])
    s.add_argument("--note")
    s = sub.add_parser("send", help="send a message: invite, wait for the answer")
    s.add_argument("to")
    s.add_argument("text")
    s.add_argument("--subject")
    s.add_argument("--wait", type=int, default=60, help="seconds to wait for the answer")
    s = sub.add_parser("listen", help="print notifications as they arrive")
    s.add_argument("--seconds", type=int, default=0, help="stop after this long (0: never)")
    s.add_argument("--accept", action="store_true", help="accept invitations")
    s = sub.add_parser("chat", help="an interactive conversation on stdin/stdout")
    s.add_argument("to")
    args = p.parse_args(argv)
    if not args.server or not args.user:
        p.error("--server and --user are needed")
    resolve(args.resolve)
    password = args.password or os.environ.get("MCX_PASSWORD") or getpass.getpass()
    c = McxClient(args.server, args.ca)
    args.keep_session = False
    try:
        me = c.sign_in(args.user, password, kind=args.kind, device_id=args.device_id)
        say(f"Signed in as {me.get('Name')} <{me.get('Uri')}>")
        return {"contacts": cmd_contacts, "presence": cmd_presence, "send": cmd_send,
                "listen": cmd_listen, "chat": cmd_chat}[args.command](c, args)
    except McxFault as f:
        say(f"Error {f.code}: {f.message}")
        return 2
    except (McxError, OSError) as e:
        say(f"Error: {e}")
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if c.session_id and not args.keep_session:
            try:
                c.sign_out()
            except (McxError, OSError):
                pass


if __name__ == "__main__":
    sys.exit(main())
