"""A UCWA call client for the tests, on top of test/integration/ucwa_client.py: the
signalling of docs/extensions.md ("Audio and video calls") as a phone drives it, with the
SDP coming from wherever the test likes (test/lib/webrtc_media.py for real media).

    caller, callee = CallApp.signed_in(alice), CallApp.signed_in(bob)
    call = caller.call(callee.user.name, offer_sdp, form="sdp")
    ring = callee.ringing()             # its offer is checked byte for byte against ours
    assert ring.offer == call.offer
    ring.accept(answer_sdp)
    assert call.answered() == answer_sdp.encode()
    call.hang_up()

Everything follows links by rel from the resources and events the server gives (an event
that carries only a link is resolved by a GET of its href); the one href built here is
what the contract names: the query of acceptWithAnswer and renegotiations."""
import base64
import json
import time
import uuid
from urllib.parse import unquote, unquote_to_bytes, urlencode

JSON = "application/json"
SDP = "application/sdp"


# --- SDP in data URIs and multipart bodies -----------------------------------------------

def data_uri(body: bytes, ctype=SDP) -> str:
    return f"data:{ctype};base64," + base64.b64encode(body).decode()


def parse_data_uri(uri: str):
    """(media type with its parameters, bytes) of a data: URI (base64 or percent-coded;
    a '+' stays a '+', as in ICE passwords)."""
    assert uri.startswith("data:"), uri[:60]
    head, _, data = uri[5:].partition(",")
    params = head.split(";")
    if params[-1] == "base64":
        return ";".join(params[:-1]), base64.b64decode(data, validate=True)
    return head, unquote_to_bytes(data)


def multipart(parts, boundary=None):
    """A multipart/alternative body of SDP parts: parts is [(content id, sdp bytes)].
    Returns (Content-Type, body bytes)."""
    boundary = boundary or "----=_Part_" + uuid.uuid4().hex
    out = b""
    for cid, sdp in parts:
        out += (f"--{boundary}\r\nContent-Type: {SDP}\r\nContent-ID: <{cid}>\r\n\r\n"
                .encode()) + sdp + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f'multipart/alternative; boundary="{boundary}"', out


def split_multipart(ctype: str, body: bytes):
    """[(headers dict (lower-case names), content bytes)] of a multipart body, each
    content exactly the bytes between its headers and the CRLF before the next
    delimiter."""
    boundary = None
    for p in ctype.split(";")[1:]:
        k, _, v = p.strip().partition("=")
        if k.lower() == "boundary":     # quoted, or percent-coded in a data URI
            boundary = unquote(v.strip('"'))
    assert boundary, ctype
    delim = b"--" + boundary.encode()
    pieces = body.split(b"\r\n" + delim)
    first = pieces[0]
    assert first.startswith(delim), body[:80]
    pieces[0] = first[len(delim):]
    out = []
    for piece in pieces:
        if piece.startswith(b"--"):
            break
        head, _, content = piece.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        out.append((headers, content))
    return out


# --- events --------------------------------------------------------------------------------

class Event:
    """One event of a package: its sender (rel, href), type, link and the resource."""

    def __init__(self, sender, ev):
        self.sender_rel = sender["rel"]
        self.sender = sender.get("href")
        self.type = ev["type"]
        self.rel = ev["link"]["rel"]
        self.href = ev["link"]["href"]
        self.raw = ev

    @property
    def key(self):
        return (self.sender_rel, self.rel, self.type)

    @property
    def embedded(self):
        """The embedded resource, or None (a link-only event)."""
        return (self.raw.get("_embedded") or {}).get(self.rel)

    def __getitem__(self, k):
        return self.raw[k]

    def get(self, k, default=None):
        return self.raw.get(k, default)

    def __repr__(self):
        return f"<{self.sender_rel}: {self.rel} {self.type}>"


CALL_RELS = {"audioVideoInvitation", "audioVideoNegotiation", "audioVideo",
             "audioVideoSession", "audioVideoRenegotiation", "conversation",
             "localParticipant", "participant", "participantAudio", "participantVideo",
             "phoneAudioInvitation", "phoneAudio"}


class CallApp:
    """An application (ucwa_client.App) that places and takes calls. Its events are read
    into a queue; wait() takes the first one that matches and leaves the others."""

    def __init__(self, app):
        self.app = app
        self.user = app.user
        self.queue = []
        self.seen = []      # every call event taken so far, in order (for sequence checks)

    @classmethod
    def signed_in(cls, user, modalities=("Messaging", "Audio", "Video"), **fields):
        app = user.create(**fields)
        app.available({"SupportedModalities": list(modalities)})
        return cls(app)

    # --- HTTP --------------------------------------------------------------------------

    def request(self, method, href, **kw):
        return self.user.request(method, href, **kw)

    def get(self, href):
        r = self.request("GET", href)
        assert r.status_code == 200, (href, r.status_code, r.text)
        return r.json()

    def post_sdp(self, href, sdp, params=None, ctype=SDP, expect=(204,)):
        if params:
            href += ("&" if "?" in href else "?") + urlencode(params)
        r = self.request("POST", href, data=sdp, headers={"Content-Type": ctype})
        assert r.status_code in expect, (href, r.status_code, r.text)
        return r

    def post(self, href, expect=(204,), **kw):
        r = self.request("POST", href, **kw)
        assert r.status_code in expect, (href, r.status_code, r.text)
        return r

    def communication(self):
        return self.get(self.app.href("/communication"))

    # --- events ------------------------------------------------------------------------

    def pump(self, timeout=1):
        """One poll (a second at most); queues its call events, returns how many."""
        pkg = self.app.poll(f"timeout={timeout}")
        n = 0
        for s in pkg.get("sender", []):
            for e in s["events"]:
                ev = Event(s, e)
                if ev.rel in CALL_RELS:
                    self.queue.append(ev)
                    n += 1
        return n

    def wait(self, rel, type=None, sender=None, where=None, timeout=10):
        """The first queued or coming event with link rel (and type, sender rel, and
        where(event) true); the events before it stay queued."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.queue):
                if ev.rel == rel and (type is None or ev.type == type) \
                        and (sender is None or ev.sender_rel == sender) \
                        and (where is None or where(ev)):
                    del self.queue[i]
                    self.seen.append(ev)
                    return ev
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user.name}: no {sender or '*'}: {rel} "
                                     f"{type or '*'} in {timeout} s; queued {self.queue}")
            self.pump()

    def drain(self, quiet=1.0):
        """Reads events until none came for `quiet` seconds; returns (and clears) the
        queue."""
        while self.pump(timeout=max(1, int(quiet))):
            pass
        out, self.queue = self.queue, []
        self.seen += out
        return out

    def resource(self, ev):
        """The event's resource: embedded, or GET of its link when the event carries only
        the link (its body did not fit an event slot)."""
        return ev.embedded if ev.embedded is not None else self.get(ev.href)

    def state_of(self, ev):
        """The state of the event's resource (embedded; else GET, None when it is gone)."""
        if ev.embedded is not None:
            return ev.embedded.get("state")
        r = self.request("GET", ev.href)
        return r.json().get("state") if r.status_code == 200 else None

    # --- calls ---------------------------------------------------------------------------

    def call(self, to, sdp, form="json", modality="startAudioVideo", subject=None, parts=None,
             expect=201):
        """Places a call to `to` (a SIP URI or user name) with the offer sdp (str or
        bytes) in one of the contract's three forms: "json" (a data URI in
        _links.mediaOffer), "sdp" (the body, parameters in the query) or "multipart"
        (parts: [(content id, sdp)], default one part with sdp). Returns an OutgoingCall
        (or the response when expect is not 201)."""
        to = to if to.startswith(("sip:", "tel:")) else "sip:" + to
        sdp = sdp.encode() if isinstance(sdp, str) else sdp
        links = self.communication()["_links"]
        assert modality in links, f"no {modality} link: {sorted(links)}"
        href = links[modality]["href"]
        ctx, op = str(uuid.uuid4()), str(uuid.uuid4())
        params = {"to": to, "operationId": op, "sessionContext": ctx}
        if subject:
            params["subject"] = subject
        if form == "json":
            body = dict(params, _links={"mediaOffer": {"href": data_uri(sdp)}})
            r = self.request("POST", href, data=json.dumps(body),
                             headers={"Content-Type": JSON})
            sent_ctype, sent = SDP, sdp
        elif form == "sdp":
            r = self.request("POST", href + "?" + urlencode(params), data=sdp,
                             headers={"Content-Type": SDP})
            sent_ctype, sent = SDP, sdp
        elif form == "multipart":
            sent_ctype, sent = multipart(parts or [("offer-1@test", sdp)])
            r = self.request("POST", href + "?" + urlencode(params), data=sent,
                             headers={"Content-Type": sent_ctype})
        else:
            raise ValueError(form)
        assert r.status_code == expect, (r.status_code, r.text)
        if expect != 201:
            return r
        return OutgoingCall(self, r.headers["Location"], ctx, op, sent_ctype, sent)

    def call_via_work(self, to, phone=None, expect=201, body=None, **fields):
        """startPhoneAudio to `to` (sip: or tel:), the server calling `phone` (the user's
        own number; None: the one makeMeAvailable gave) first. Returns a PhoneCall (or the
        response when expect is not 201). body: a raw body to send instead (bad input)."""
        links = self.communication()["_links"]
        assert "startPhoneAudio" in links, f"no startPhoneAudio link: {sorted(links)}"
        op = str(uuid.uuid4())
        if body is None:
            fields = dict(fields, to=to, operationId=op)
            if phone:
                fields["phoneNumber"] = phone
            body = json.dumps(fields)
        r = self.request("POST", links["startPhoneAudio"]["href"], data=body,
                         headers={"Content-Type": JSON})
        assert r.status_code == expect, (r.status_code, r.text)
        if expect != 201:
            return r
        return PhoneCall(self, r.headers["Location"], op)

    def ringing(self, timeout=10):
        """The next incoming call: waits for audioVideoInvitation started (Incoming) and
        reads its offer (GETting the invitation when the event carries only a link)."""
        ev = self.wait("audioVideoInvitation", "started", sender="communication",
                       timeout=timeout,
                       where=lambda e: e.embedded is None
                       or e.embedded.get("direction") == "Incoming")
        inv = self.resource(ev)
        assert inv.get("direction") == "Incoming", inv
        return IncomingCall(self, ev, inv)


def _conversation_of(inv):
    conv = inv.get("_links", {}).get("conversation")
    return conv["href"] if conv else None


class Call:
    """What both sides of a call share: the conversation and its audioVideo."""
    app: CallApp
    conversation: str

    def audio_video(self):
        """The call's audioVideo resource (from the conversation's link)."""
        conv = self.app.get(self.conversation)
        return self.app.get(conv["_links"]["audioVideo"]["href"])

    def hang_up(self):
        """POST stopAudioVideo -> 204."""
        self.app.post(self.audio_video()["_links"]["stopAudioVideo"]["href"])

    def ended(self, timeout=10):
        """Waits for audioVideo updated (Disconnected) and conversation deleted."""
        ev = self.app.wait("audioVideo", "updated", timeout=timeout,
                           where=lambda e: self.app.state_of(e) in ("Disconnected", None))
        gone = self.app.wait("conversation", "deleted", sender="communication",
                             timeout=timeout)
        return ev, gone

    def connected(self, timeout=10):
        """Waits for audioVideo updated (Connected)."""
        return self.app.wait("audioVideo", "updated", timeout=timeout,
                             where=lambda e: self.app.state_of(e) == "Connected")

    # --- renegotiation -----------------------------------------------------------------

    def session(self):
        """The call's audioVideoSession resource (Established, or Suspended)."""
        return self.app.get(self.audio_video()["_links"]["audioVideoSession"]["href"])

    def suspended(self, timeout=10):
        """Waits for audioVideoSession updated (Suspended): this side went without an
        event channel for UcwaCallSuspendAfter."""
        return self.app.wait("audioVideoSession", "updated", timeout=timeout,
                             where=lambda e: self.app.state_of(e) == "Suspended")

    def renegotiate(self, sdp, via="renegotiations"):
        """Sends a new offer (hold, resume, ICE restart) to the session's link `via`
        (resumeAudio or resumeAudioVideo for a Suspended side) -> Renegotiation."""
        sdp = sdp.encode() if isinstance(sdp, str) else sdp
        session = self.session()
        links = session["_links"]
        if via in links:
            reneg = links[via]["href"]
        else:
            assert via == "renegotiations", f"no {via} link: {sorted(links)}"
            reneg = links["self"]["href"] + "/renegotiations"
        r = self.app.post_sdp(reneg, sdp, params={"operationId": str(uuid.uuid4())},
                              expect=(201,))
        return Renegotiation(self.app, r.headers["Location"], sdp)

    def renegotiated(self, timeout=10):
        """The peer's renegotiation offer: audioVideoRenegotiation started."""
        ev = self.app.wait("audioVideoRenegotiation", "started", timeout=timeout)
        return PeerRenegotiation(self.app, ev, self.app.resource(ev))


class OutgoingCall(Call):
    def __init__(self, app, invitation, ctx, op, ctype, offer):
        self.app = app
        self.invitation = invitation
        self.session_context = ctx
        self.operation_id = op
        self.offer_ctype = ctype
        self.offer = offer
        self.conversation = None
        self.answer = None
        self.negotiation = None     # the audioVideoNegotiation that carried the answer

    def started(self, timeout=10):
        """The caller's first events: audioVideoInvitation started (Outgoing,
        Connecting), conversation added; returns the invitation."""
        ev = self.app.wait("audioVideoInvitation", "started", sender="communication",
                           timeout=timeout)
        inv = self.app.resource(ev)
        assert inv.get("direction") == "Outgoing", inv
        assert inv.get("state") == "Connecting", inv
        added = self.app.wait("conversation", "added", sender="communication",
                              timeout=timeout)
        self.conversation = _conversation_of(inv) or added.href
        return inv

    def answered(self, timeout=15):
        """Waits for audioVideoNegotiation (sender the invitation) and the invitation
        completed Success; returns the answer's bytes."""
        if self.conversation is None:
            self.started(timeout)
        self.negotiation = self._negotiation("mediaAnswer", timeout)
        ctype, self.answer = parse_data_uri(self.negotiation["_links"]["mediaAnswer"]["href"])
        assert ctype == SDP, ctype
        done = self.app.wait("audioVideoInvitation", "completed", timeout=timeout)
        assert done.get("status") == "Success", done.raw
        return self.answer

    def provisional(self, timeout=10):
        """Waits for the early-media answer (audioVideoNegotiation with
        mediaProvisionalAnswer); returns its bytes. The call is still ringing."""
        if self.conversation is None:
            self.started(timeout)
        neg = self._negotiation("mediaProvisionalAnswer", timeout)
        ctype, answer = parse_data_uri(neg["_links"]["mediaProvisionalAnswer"]["href"])
        assert ctype == SDP, ctype
        return answer

    def _negotiation(self, rel, timeout):
        """The next audioVideoNegotiation whose resource links rel (the answer, or the
        provisional one), embedded or GET."""
        found = {}

        def has(ev):
            found["res"] = self.app.resource(ev)
            return rel in found["res"].get("_links", {})
        self.app.wait("audioVideoNegotiation", "updated", where=has, timeout=timeout)
        return found["res"]

    def completed(self):
        """The invitation's completed event if it came already (None while ringing)."""
        self.app.pump()
        return next((e for e in self.app.queue
                     if e.rel == "audioVideoInvitation" and e.type == "completed"), None)

    def failed(self, timeout=30):
        """Waits for the invitation completed Failure; returns its reason."""
        done = self.app.wait("audioVideoInvitation", "completed", timeout=timeout)
        assert done.get("status") == "Failure", done.raw
        return done.get("reason", {})

    def cancel(self):
        inv = self.app.get(self.invitation)
        self.app.post(inv["_links"]["cancel"]["href"])


class IncomingCall(Call):
    def __init__(self, app, event, inv):
        self.app = app
        self.event = event
        self.inv = inv
        self.links = inv["_links"]
        self.invitation = self.links["self"]["href"]
        self.offer_ctype, self.offer = parse_data_uri(self.links["mediaOffer"]["href"])
        self.conversation = _conversation_of(inv)
        self.link_only = event.embedded is None

    def parts(self):
        """A multipart offer's parts: [(content id, sdp bytes)]."""
        return [(h.get("content-id", "").strip("<>"), c)
                for h, c in split_multipart(self.offer_ctype, self.offer)]

    def sdp(self):
        """The offer's SDP (the first part of a multipart offer) as text."""
        if self.offer_ctype.startswith("multipart/"):
            return self.parts()[0][1].decode()
        return self.offer.decode()

    def session_context(self):
        return self.inv.get("sessionContext")

    def accept(self, sdp, processed_offer_id=None, provisional=False):
        """POSTs the answer to acceptWithAnswer (sendProvisionalAnswer) -> 204, then
        waits for the invitation completed Success (not for a provisional one)."""
        sdp = sdp.encode() if isinstance(sdp, str) else sdp
        rel = "sendProvisionalAnswer" if provisional else "acceptWithAnswer"
        params = {}
        if self.session_context():
            params["sessionContext"] = self.session_context()
        if processed_offer_id:
            params["processedOfferId"] = processed_offer_id
        self.app.post_sdp(self.links[rel]["href"], sdp, params)
        if provisional:
            return None
        done = self.app.wait("audioVideoInvitation", "completed")
        assert done.get("status") == "Success", done.raw
        if self.conversation is None:
            self.conversation = _conversation_of(self.app.resource(done)) \
                or self.app.wait("conversation", "added").href
        return done

    def decline(self):
        self.app.post(self.links["decline"]["href"])

    def missed(self, timeout=30):
        """Waits for the invitation completed Failure (Missed, ConnectedElsewhere...)."""
        done = self.app.wait("audioVideoInvitation", "completed", timeout=timeout)
        assert done.get("status") == "Failure", done.raw
        return done.get("reason", {})


class Renegotiation:
    """A renegotiation this side started."""

    def __init__(self, app, href, offer):
        self.app = app
        self.href = href
        self.offer = offer

    def answered(self, timeout=10):
        """Waits for audioVideoRenegotiation completed; returns the answer's bytes."""
        ev = self.app.wait("audioVideoRenegotiation", "completed", timeout=timeout)
        res = self.app.resource(ev)
        ctype, answer = parse_data_uri(res["_links"]["mediaAnswer"]["href"])
        assert ctype == SDP, ctype
        return answer


class PeerRenegotiation:
    """A renegotiation the other side started: its offer, answer and dismiss."""

    def __init__(self, app, event, res):
        self.app = app
        self.event = event
        self.links = res["_links"]
        self.offer_ctype, self.offer = parse_data_uri(self.links["mediaOffer"]["href"])

    def answer(self, sdp):
        sdp = sdp.encode() if isinstance(sdp, str) else sdp
        self.app.post_sdp(self.links["answer"]["href"], sdp)

    def dismiss(self):
        self.app.post(self.links["dismiss"]["href"])


def place(caller, callee, sdp, form="json", **kw):
    """caller calls callee's user; callee's ringing call. Checks the byte-for-byte relay:
    the offer the callee reads is exactly what the caller sent (every part of a multipart
    offer too). Returns (OutgoingCall, IncomingCall)."""
    call = caller.call(callee.user.name, sdp, form=form, **kw)
    ring = callee.ringing()
    assert ring.offer == call.offer, "the callee's offer differs from the caller's"
    if form == "multipart":
        assert ring.offer_ctype.split(";")[0] == "multipart/alternative", ring.offer_ctype
        sent = split_multipart(call.offer_ctype, call.offer)
        assert [c for _, c in sent] == [c for _, c in ring.parts()]
    else:
        assert ring.offer_ctype == SDP, ring.offer_ctype
    call.started()
    return call, ring


def hold_exchange(offerer_call, offerer, answerer_call, answerer, direction,
                  via="renegotiations", **reoffer):
    """offerer (a media peer with reoffer/answer/accept: webrtc_media.Peer,
    chromium_call.ChromiumPeer) renegotiates every stream to direction through the server
    on its call offerer_call, at the session's link via (reoffer: more arguments of its
    reoffer(), e.g. ice_restart); the answerer gets the offer byte for byte on
    answerer_call and answers; the offerer gets that answer. Returns (offer, answer), the
    SDP strings."""
    offer = offerer.reoffer(direction, **reoffer)
    sent = offerer_call.renegotiate(offer, via=via)
    theirs = answerer_call.renegotiated()
    assert theirs.offer == offer.encode(), "the renegotiation offer changed on the way"
    answer = answerer.answer(theirs.offer.decode())
    theirs.answer(answer)
    assert sent.answered() == answer.encode()
    offerer.accept(answer)
    return offer, answer


def relay_token(app):
    """(TURN url of the first relay's UDP port, userName, password) from the
    application's mediaRelayAccessToken (a CallApp); None when it has no such link."""
    links = app.communication()["_links"]
    if "mediaRelayAccessToken" not in links:
        return None
    token = app.get(links["mediaRelayAccessToken"]["href"])
    relay = token["_embedded"]["mediaRelay"][0]
    return (f"turn:{relay['host']}:{relay['udpPort']}?transport=udp", token["userName"],
            token["password"])


class PhoneCall:
    """A call via work (startPhoneAudio) as its caller's application sees it: the
    phoneAudioInvitation, the conversation and its phoneAudio (docs/extensions.md
    section 23)."""

    def __init__(self, app, invitation, op):
        self.app, self.invitation, self.operation_id = app, invitation, op
        self.conversation = None

    def started(self, timeout=10):
        """phoneAudioInvitation started (Outgoing, Connecting), conversation added,
        phoneAudio updated (Connecting): returns the invitation."""
        ev = self.app.wait("phoneAudioInvitation", "started", sender="communication",
                           timeout=timeout)
        inv = self.app.resource(ev)
        assert inv.get("direction") == "Outgoing" and inv.get("state") == "Connecting", inv
        assert inv.get("operationId") == self.operation_id, inv
        added = self.app.wait("conversation", "added", sender="communication",
                              timeout=timeout)
        self.conversation = _conversation_of(inv) or added.href
        ev = self.app.wait("phoneAudio", "updated", timeout=timeout)
        assert self.app.state_of(ev) == "Connecting", ev.raw
        return inv

    def connected(self, timeout=15):
        """phoneAudioInvitation completed Success, phoneAudio updated Connected."""
        if self.conversation is None:
            self.started(timeout)
        done = self.app.wait("phoneAudioInvitation", "completed", timeout=timeout)
        assert done.get("status") == "Success", done.raw
        self.app.wait("phoneAudio", "updated", timeout=timeout,
                      where=lambda e: self.app.state_of(e) == "Connected")
        return done

    def failed(self, timeout=30):
        """phoneAudioInvitation completed Failure: its reason."""
        done = self.app.wait("phoneAudioInvitation", "completed", timeout=timeout)
        assert done.get("status") == "Failure", done.raw
        return done.get("reason", {})

    def ended(self, timeout=10):
        """phoneAudio updated (Disconnected), conversation deleted."""
        ev = self.app.wait("phoneAudio", "updated", timeout=timeout,
                           where=lambda e: self.app.state_of(e) in ("Disconnected", None))
        gone = self.app.wait("conversation", "deleted", sender="communication",
                             timeout=timeout)
        return ev, gone

    def phone_audio(self):
        conv = self.app.get(self.conversation)
        return self.app.get(conv["_links"]["phoneAudio"]["href"])

    def action(self, rel, expect=(204,)):
        """POSTs the phoneAudio's action link rel (holdPhoneAudio, resumePhoneAudio,
        stopPhoneAudio)."""
        pa = self.phone_audio()
        assert rel in pa["_links"], (rel, pa)
        return self.app.post(pa["_links"][rel]["href"], expect=expect, data="{}",
                             headers={"Content-Type": JSON})
