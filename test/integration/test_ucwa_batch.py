"""POST {A}/batch (multipart/batching): each part runs through the normal dispatch and
answers exactly what the same request answers directly, in the order of the parts; more
than 100 parts are refused whole (429) with nothing run; the event channel, photos and
another batch are refused part by part (403); parts outside the application get the 404
a direct request gets; malformed batches (boundary, nesting, header bombs, truncation,
size) are refused whole in UCWA's error form. No child crashes, the error log stays
clean, the session store stays consistent."""
import re

import pytest
from requests.structures import CaseInsensitiveDict

import conftest
from ucwa_client import FAST, JSON, XML, ack_of, assert_error, start_fe, stop_fe

P = "/ucwa/oauth/v1/applications"
BOUNDARY = "batch_7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-batch", extra=FAST, servers=2)
    yield f
    stop_fe(f)


@pytest.fixture(autouse=True)
def clean_log(fe):
    """Every test leaves the error log without warnings, errors or crashed children."""
    mark = len(fe.apache.log_text())
    yield
    new = fe.apache.log_text()[mark:]
    bad = conftest.unexpected_log_lines(new, conftest.ALLOWED_LOG)
    bad += [line for line in new.splitlines() if "exit signal" in line]
    assert not bad, "unexpected lines in the error log:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def alice(fe):
    return fe.user()


@pytest.fixture
def app(alice):
    a = alice.create()
    a.available()
    yield a
    # presence, note and location belong to the user and outlive applications: reset
    for sub in ("/me/presence", "/me/note", "/me/location"):
        a.post(sub, {})
    a.delete()


@pytest.fixture(scope="module")
def bob_app(fe):
    return fe.user("bob@contoso.test").create(endpointId="bobs-phone")


# --- building and reading batches --------------------------------------------------------

def part(method, path, body=None, headers=None, host="pool01.contoso.test", eol=b"\r\n",
         part_headers=None, ctype=JSON):
    """One part: its headers, a blank line, the HTTP request."""
    ph = part_headers if part_headers is not None else [
        "Content-Type: application/http; msgtype=request"]
    h = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Accept: {JSON}"]
    if isinstance(body, (dict, list)):
        import json
        body = json.dumps(body).encode()
    if body is not None:
        h += [f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
    h += headers or []
    out = eol.join(x.encode() for x in ph) + eol + eol + eol.join(x.encode() for x in h) + eol + eol
    return out + (body or b"")


def batch_body(parts, boundary=BOUNDARY, eol=b"\r\n"):
    b = boundary.encode()
    out = b""
    for p in parts:
        out += b"--" + b + eol + p + eol
    return out + b"--" + b + b"--" + eol


def post_batch(user, app, body, ctype=None, headers=None, href=None):
    h = {"Content-Type": ctype or f"multipart/batching; boundary={BOUNDARY}",
         "Accept": "multipart/batching"}
    h.update(headers or {})
    return user.request("POST", href or app.href("/batch"), data=body, headers=h, timeout=60)


class PartResponse:
    def __init__(self, status, reason, headers, body):
        self.status_code = status
        self.reason = reason
        self.headers = CaseInsensitiveDict(headers)
        self.content = body

    def json(self):
        import json
        return json.loads(self.content)

    @property
    def text(self):
        return self.content.decode(errors="replace")


def parse_batch(r):
    """The parts of a multipart/batching response, strictly as the server writes them."""
    assert r.status_code == 200, (r.status_code, r.text)
    m = re.fullmatch(r'multipart/batching; boundary="([^"]{1,70})"', r.headers["Content-Type"])
    assert m, r.headers["Content-Type"]
    b = m.group(1).encode()
    data = r.content
    assert data.startswith(b"--" + b + b"\r\n") and data.endswith(b"\r\n--" + b + b"--\r\n")
    chunks = data[:-len(b"\r\n--" + b + b"--\r\n")].split(b"\r\n--" + b + b"\r\n")
    chunks[0] = chunks[0][len(b"--" + b + b"\r\n"):]
    out = []
    for c in chunks:
        head, http = c.split(b"\r\n\r\n", 1)
        assert head == b"Content-Type: application/http; msgtype=response"
        top, body = http.split(b"\r\n\r\n", 1)
        lines = top.split(b"\r\n")
        sm = re.fullmatch(rb"HTTP/1\.1 (\d{3}) (.+)", lines[0])
        assert sm, lines[0]
        headers = {}
        for line in lines[1:]:
            k, v = line.split(b": ", 1)
            headers[k.decode().lower()] = v.decode()
        assert int(headers["content-length"]) == len(body)
        out.append(PartResponse(int(sm.group(1)), sm.group(2).decode(), headers, body))
    return out


def same_as_direct(part_r, direct):
    assert part_r.status_code == direct.status_code, (part_r.status_code, part_r.text, direct.text)
    assert part_r.content == direct.content
    for h in ("Content-Type", "ETag", "Location", "X-MS-Server-Fqdn", "Cache-Control"):
        assert part_r.headers.get(h.lower()) == direct.headers.get(h), h


def availability(app):
    return app.get("/me/presence").json()["availability"]


# --- what works --------------------------------------------------------------------------

def test_parts_answer_as_direct_requests(fe, alice, app):
    direct = {sub: app.get(sub) for sub in ("/me", "/me/presence", "/policies",
                                            "/communication", "")}
    assert direct["/me/presence"].json()["availability"] == "Online"
    a = app.self
    r = post_batch(alice, app, batch_body([
        part("GET", a + "/me"),
        part("GET", a + "/me/presence"),
        part("GET", a + "/policies"),
        part("POST", a + "/me/presence", {"availability": "Busy"}),
        part("GET", a + "/me/presence"),
        part("GET", a + "/communication"),
        part("GET", a),
    ]))
    assert r.headers["X-MS-Server-Fqdn"] and r.headers["Cache-Control"] == "no-cache"
    parts = parse_batch(r)
    assert len(parts) == 7
    same_as_direct(parts[0], direct["/me"])
    same_as_direct(parts[1], direct["/me/presence"])
    same_as_direct(parts[2], direct["/policies"])
    assert parts[3].status_code == 204 and parts[3].content == b""
    assert parts[3].reason == "No Content"
    # the parts ran in order: the POST is seen by the GET after it
    assert parts[4].json()["availability"] == "Busy"
    same_as_direct(parts[4], app.get("/me/presence"))
    same_as_direct(parts[5], direct["/communication"])
    assert parts[5].headers["etag"]
    same_as_direct(parts[6], app.get())
    assert parts[6].headers["set-cookie"].startswith("cwt_ucwa=")
    assert availability(app) == "Busy"
    assert fe.status()["consistent"] is True


def test_quoted_boundary_lf_lines_and_xml(alice, app):
    # LF line endings throughout; the first part asks for XML
    body = batch_body([
        b"Content-Type: application/http; msgtype=request\n\nGET " + app.self.encode()
        + b"/me/presence HTTP/1.1\nHost: pool01.contoso.test\nAccept: " + XML.encode() + b"\n\n",
        part("GET", app.self + "/me", eol=b"\n")], eol=b"\n")
    r = post_batch(alice, app, body, ctype=f'multipart/batching; boundary="{BOUNDARY}"')
    parts = parse_batch(r)
    direct = app.get("/me/presence", headers={"Accept": XML})
    assert parts[0].headers["content-type"].startswith(XML)
    same_as_direct(parts[0], direct)
    same_as_direct(parts[1], app.get("/me"))


def test_preamble_epilogue_and_odd_but_valid_parts(alice, app):
    b = BOUNDARY.encode()
    body = (b"This is the preamble.\r\n--" + b + b"  \r\n"
            + b"content-type: Application/HTTP;msgtype=Request\r\n"
            + b"Content-Transfer-Encoding: binary\r\nContent-Length: 99\r\n\r\n"
            + b"\r\nGET " + app.self.encode() + b"/me HTTP/1.1\r\nHost: x\r\n"
            + b"Authorization: Bearer not-a-token\r\n"
            + b"\r\n--" + b + b"\r\n"
            + b"\r\n"       # a part without part headers
            + b"GET " + app.self.encode() + b"/policies HTTP/1.1\r\nAccept: application/json\r\n"
            + b"\r\n--" + b + b"--\r\nand an epilogue\r\n")
    parts = parse_batch(post_batch(alice, app, body))
    # the part's own Authorization is replaced by the batch request's token
    same_as_direct(parts[0], app.get("/me"))
    same_as_direct(parts[1], app.get("/policies"))


def test_post_bodies_and_query_inputs(alice, app):
    a = app.self
    parts = parse_batch(post_batch(alice, app, batch_body([
        part("POST", a + "/me/note", {"message": "from a batch"}),
        part("POST", a + "/me/location?location=Building%207"),
        part("POST", a + "/me/presence", {"availability": "Telepathic"}),
        part("POST", a + "/me/presence", b"{not json"),
        part("POST", a + "/me/presence", b"x" * (64 * 1024 + 1)),
        part("GET", a + "/me/note"),
        part("GET", a + "/me/location"),
    ])))
    assert [p.status_code for p in parts] == [204, 204, 400, 400, 413, 200, 200]
    assert parts[2].json()["subcode"] == "ParameterValidationFailure"
    assert parts[3].json()["subcode"] == "DeserializationFailure"
    assert parts[4].json()["code"] == "EntityTooLarge"
    assert parts[5].json()["message"] == "from a batch"
    assert parts[6].json()["location"] == "Building 7"
    same_as_direct(parts[5], app.get("/me/note"))


def test_absolute_uri_on_this_host(fe, alice, app):
    host = f"{fe.topo.pool}:{fe.topo.fe_https}"
    parts = parse_batch(post_batch(alice, app, batch_body([
        part("GET", f"https://{host}{app.self}/me"),
        part("GET", f"https://{host.upper()}{app.self}/me#frag"),
        part("GET", f"https://evil.example{app.self}/me"),
        part("GET", f"https://{host}@evil.example{app.self}/me"),
        part("GET", f"ftp://{host}{app.self}/me"),
        part("GET", f"//{host}{app.self}/me"),
    ])))
    direct = app.get("/me")
    same_as_direct(parts[0], direct)
    same_as_direct(parts[1], direct)
    for p in parts[2:]:
        assert p.status_code == 404 and p.json()["code"] == "NotFound", p.text
        assert b"Alice" not in p.content


def test_exactly_100_parts(alice, app):
    parts = parse_batch(post_batch(alice, app, batch_body(
        [part("GET", app.self + "/me/presence")] * 99
        + [part("POST", app.self + "/me/presence", {"availability": "DoNotDisturb"})])))
    assert len(parts) == 100 and [p.status_code for p in parts] == [200] * 99 + [204]
    assert availability(app) == "DoNotDisturb"


# --- refusals ----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [101, 150])
def test_more_than_100_parts_run_nothing(fe, alice, app, n):
    body = batch_body([part("POST", app.self + "/me/presence", {"availability": "Away"})]
                      + [part("GET", app.self + "/me")] * (n - 1))
    r = post_batch(alice, app, body)
    assert_error(r, 429, "TooManyRequests")
    assert availability(app) == "Online"
    assert fe.status()["consistent"] is True


def test_ten_thousand_parts(alice, app):
    body = batch_body([b"\r\n"] * 10000)
    assert_error(post_batch(alice, app, body), 429, "TooManyRequests")
    assert availability(app) == "Online"


def test_events_photos_and_batches_are_refused_part_by_part(fe, alice, app):
    a = app.self
    parts = parse_batch(post_batch(alice, app, batch_body([
        part("GET", a + "/events?ack=1&timeout=1"),
        part("GET", a + "/EVENTS/?ack=1"),
        part("GET", a + "/me/../%65vents?ack=1"),
        part("GET", a + "/photos/alice@contoso.test"),
        part("POST", a + "/batch", batch_body([part("GET", a + "/me")], boundary="inner"),
             ctype="multipart/batching; boundary=inner"),
        part("GET", a + "/me"),
    ])))
    for p in parts[:5]:
        assert p.status_code == 403, p.text
        assert p.json()["code"] == "Forbidden" and p.json()["subcode"] == "NotAllowed"
    same_as_direct(parts[5], app.get("/me"))
    st = fe.status()
    assert st["parked"] == 0 and st["consistent"] is True
    # the events were not consumed by the batch: the channel still starts at ack=1
    pkg = app.poll("timeout=1")
    assert "resync" not in pkg["_links"], pkg
    assert ack_of(pkg["_links"]["self"]["href"]) == 1, pkg


def test_paths_outside_the_application(fe, alice, app, bob_app):
    a = app.self
    cases = [
        P + f"/{bob_app.id}/me",                          # another user's application
        a + f"/me/../../{bob_app.id}/me",                 # ... reached by traversal
        a + "/nowhere",
        P + "/../../Autodiscover/AutodiscoverService.svc/root",
        "/ucwa-status",
        "/",
        a + "/../../../../../../etc/passwd",
        a + "/me/..%2f..%2f" + bob_app.id,
        a + "/me/%zz",
        "*",
    ]
    parts = parse_batch(post_batch(alice, app, batch_body([part("GET", c) for c in cases])))
    assert len(parts) == len(cases)
    for c, p in zip(cases, parts):
        assert p.status_code == 404, (c, p.status_code, p.text)
        assert p.json()["code"] == "NotFound", (c, p.text)
        for leak in (b"Bob", b"root:", b"applications\":", b"consistent"):
            assert leak not in p.content, (c, p.text)
    # the same answers as direct requests where a direct request reaches mod_ucwa
    for c, p in zip(cases[:3], parts[:3]):
        direct = alice.request("GET", c)
        same_as_direct(p, direct)
    assert fe.status()["consistent"] is True


def test_application_errors_apply_to_the_batch(fe, alice, app, bob_app):
    body = batch_body([part("GET", app.self + "/me")])
    assert_error(post_batch(alice, app, body, href=bob_app.self + "/batch"), 404, "NotFound",
                 "ApplicationNotFound")
    r = alice.request("GET", app.href("/batch"))
    assert_error(r, 405, "MethodNotAllowed")
    r = alice.http.post(alice.url(app.href("/batch")), data=body, headers={
        "Content-Type": f"multipart/batching; boundary={BOUNDARY}"})
    assert r.status_code == 401


MALFORMED = {
    "no boundary delimiter": batch_body([b"x"], boundary="other"),
    "no close delimiter": batch_body([b"x"])[:-len(BOUNDARY) - 6],
    "no part": f"--{BOUNDARY}--\r\n".encode(),
    "empty body": b"",
    "boundary inside a line only": f"x--{BOUNDARY}\r\n--{BOUNDARY}x--\r\n".encode(),
    "nested multipart": None,
    "not application/http": None,
    "msgtype response": None,
    "base64 transfer encoding": None,
    "no request line": None,
    "request line without version": None,
    "HTTP/2 request line": None,
    "too many part headers": None,
    "too many request headers": None,
    "header line too long": None,
    "folded header": None,
    "NUL in a header": None,
    "control character in target": None,
    "Content-Length beyond the part": None,
    "data after Content-Length": None,
    "Transfer-Encoding": None,
    "two Content-Lengths": None,
}


def malformed(name, a):
    ph = "Content-Type: application/http; msgtype=request"
    if MALFORMED[name] is not None:
        return MALFORMED[name]
    get = part("GET", a + "/me")
    table = {
        "nested multipart": part("GET", a + "/me", part_headers=[
            f"Content-Type: multipart/batching; boundary=inner"]),
        "not application/http": part("GET", a + "/me", part_headers=["Content-Type: text/plain"]),
        "msgtype response": part("GET", a + "/me", part_headers=[
            "Content-Type: application/http; msgtype=response"]),
        "base64 transfer encoding": part("GET", a + "/me", part_headers=[
            ph, "Content-Transfer-Encoding: base64"]),
        "no request line": (ph + "\r\n\r\n").encode(),
        "request line without version": (ph + f"\r\n\r\nGET {a}/me\r\n").encode(),
        "HTTP/2 request line": (ph + f"\r\n\r\nGET {a}/me HTTP/2.0\r\n").encode(),
        "too many part headers": part("GET", a + "/me", part_headers=[ph] + [
            f"X-Part-{i}: {i}" for i in range(64)]),
        "too many request headers": part("GET", a + "/me", headers=[
            f"X-Bomb-{i}: {i}" for i in range(64)]),
        "header line too long": part("GET", a + "/me", headers=["X-Long: " + "a" * 8200]),
        "folded header": part("GET", a + "/me", headers=["X-Folded: a", " b"]),
        "NUL in a header": get.replace(b"Accept: ", b"Accept: \x00"),
        "control character in target": part("GET", a + "/me\x01"),
        "Content-Length beyond the part": part("POST", a + "/me/note", b"{}",
                                               headers=[]).replace(b"Content-Length: 2",
                                                                   b"Content-Length: 200"),
        "data after Content-Length": part("POST", a + "/me/note", b'{"message":"x"}').replace(
            b"Content-Length: 15", b"Content-Length: 2"),
        "Transfer-Encoding": part("POST", a + "/me/note", b"{}",
                                  headers=["Transfer-Encoding: chunked"]),
        "two Content-Lengths": part("POST", a + "/me/note", b"{}",
                                    headers=["Content-Length: 2"]),
    }
    return batch_body([get, table[name]])


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_batches_run_nothing(fe, alice, app, name):
    body = malformed(name, app.self)
    if body.startswith(f"--{BOUNDARY}\r\n".encode()):
        # a first part that would show that something ran
        body = batch_body([part("POST", app.self + "/me/note", {"message": "ran"})])[
            :-len(BOUNDARY) - 6] + body
    r = post_batch(alice, app, body)
    body_json = assert_error(r, 400, "BadRequest")
    assert "malformed" in body_json["message"]
    assert "message" not in app.get("/me/note").json()
    assert fe.status()["consistent"] is True


def test_header_bombs_at_the_limit_are_fine(alice, app):
    ph = ["Content-Type: application/http; msgtype=request"] + [
        f"X-Part-{i}: {i}" for i in range(63)]
    parts = parse_batch(post_batch(alice, app, batch_body([
        part("GET", app.self + "/me", part_headers=ph,
             headers=[f"X-H-{i}: {i}" for i in range(62)]),     # Host, Accept, 62: 64
        part("GET", app.self + "/me", headers=["X-Long: " + "a" * (8190 - 8)])])))
    assert [p.status_code for p in parts] == [200, 200]


@pytest.mark.parametrize("ctype,status,code", [
    (None, 415, "UnsupportedMediaType"),
    ("application/json", 415, "UnsupportedMediaType"),
    ("multipart/mixed; boundary=" + BOUNDARY, 415, "UnsupportedMediaType"),
    ("multipart/batching", 400, "BadRequest"),
    ("multipart/batching; boundary=", 400, "BadRequest"),
    ('multipart/batching; boundary=""', 400, "BadRequest"),
    ("multipart/batching; boundary=" + "b" * 71, 400, "BadRequest"),
    ('multipart/batching; boundary="unterminated', 400, "BadRequest"),
    ("multipart/batching; boundary=a; boundary=b", 400, "BadRequest"),
    ('multipart/batching; boundary="ends with space "', 400, "BadRequest"),
    ("multipart/batching; boundary=" + BOUNDARY + "; junk", 400, "BadRequest"),
])
def test_bad_content_types(alice, app, ctype, status, code):
    body = batch_body([part("POST", app.self + "/me/presence", {"availability": "Away"})])
    h = {"Accept": "multipart/batching"}
    if ctype:
        h["Content-Type"] = ctype
    r = alice.request("POST", app.href("/batch"), data=body, headers=h)
    assert_error(r, status, code)
    assert availability(app) == "Online"


def test_oversized_batches(alice, app):
    big = part("POST", app.self + "/me/note", b" " * (1024 * 1024))
    r = post_batch(alice, app, batch_body([big]))
    assert_error(r, 413, "EntityTooLarge")
    # chunked, with no Content-Length to refuse it early
    def gen():
        data = batch_body([big])
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]
    r = post_batch(alice, app, gen())
    assert_error(r, 413, "EntityTooLarge")
    assert "message" not in app.get("/me/note").json()


def test_hostile_bodies_do_not_hurt(fe, alice, app):
    b = BOUNDARY.encode()
    bodies = [
        b"\x00" * 4096,
        (b"--" + b + b"\r\n") * 5000,
        b"--" + b + b"\r\n" + b"X: y\r\n" * 100000,
        b"--" + b + b"\r\n\r\nGET " + b"/" * 500000 + b" HTTP/1.1\r\n--" + b + b"--",
        b"--" + b + b"\n\n" + b"\n" * 200000 + b"--" + b + b"--",
        (b"--" + b + b"\r\n\r\nGET " + app.self.encode() + b"/me HTTP/1.1\r\n\r\n") * 90
        + b"--" + b,                                       # truncated
        b"--" + b + b"\r\n\r\nGET " + app.self.encode() + b"/me HTTP/1.1\r\n\r\n--" + b
        + b"\x00--",
    ]
    for body in bodies:
        r = post_batch(alice, app, body)
        assert r.status_code in (400, 413, 429), (r.status_code, r.text[:200])
        assert r.json()["code"] in ("BadRequest", "EntityTooLarge", "TooManyRequests")
    assert app.get("/me").status_code == 200
    st = fe.status()
    assert st["consistent"] is True and st["parked"] == 0


def test_the_store_is_consistent_at_the_end(fe, alice, app):
    parts = parse_batch(post_batch(alice, app, batch_body([
        part("POST", P, {"userAgent": "BatchTest/1.0", "endpointId": "from-a-batch",
                         "culture": "en-US"}),
        part("DELETE", app.self),
        part("GET", app.self + "/me")])))
    assert [p.status_code for p in parts] == [201, 204, 404]
    created = parts[0].json()
    assert created["endpointId"] == "from-a-batch"
    assert_error(parts[2], 404, "NotFound", "ApplicationNotFound")
    assert alice.request("DELETE", created["_links"]["self"]["href"]).status_code == 204
    st = fe.status()
    assert st["consistent"] is True and st["parked"] == 0


@pytest.mark.parametrize("method", ["HEAD", "PUT", "PATCH", "OPTIONS", "TRACE",
                                    "DELETE-ALL"])
def test_other_methods_answer_as_directly(alice, app, method):
    href = app.self + "/me/presence"
    parts = parse_batch(post_batch(alice, app, batch_body([part(method, href)])))
    direct = alice.request(method, href)
    assert parts[0].status_code == direct.status_code, (parts[0].text, direct.text)
    if method != "HEAD" and direct.headers.get("Content-Type", "").startswith(JSON):
        assert parts[0].content == direct.content
    if method == "HEAD":
        assert parts[0].content == b"" and parts[0].headers["content-type"].startswith(JSON)
