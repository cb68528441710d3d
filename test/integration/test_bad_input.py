"""Hostile and malformed requests get the protocol's own error, never crash a child, and
never leave anything but an info line in the log."""
import socket
import ssl

import pytest

ROOT = "/Autodiscover/AutodiscoverService.svc/root"


@pytest.mark.parametrize("query", [
    "originalDomain=%ZZ", "sipuri=%ff%fe@contoso.test", "originalDomain=contoso.test%00.evil",
    "originalDomain=" + "a" * 5000, "sipuri=alice", "Domain=-bad-.test",
    "originalDomain=<script>.test", "originalDomain=contoso.test%0d%0aSet-Cookie:x=1",
    "&" * 100 + "=" * 100, "a=1&" * 40,
])
def test_hostile_query_strings_get_400(deployment, http, urls, query, check_logs):
    r = http.get(urls["internal"] + ROOT + "?" + query)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "BadRequest"
    assert "Set-Cookie" not in r.headers
    assert r.headers["X-MS-Server-Fqdn"]


def test_hostile_query_gets_xml_error_for_xml_clients(deployment, http, urls, check_logs):
    r = http.get(urls["internal"] + ROOT + "?sipuri=%ff",
                 headers={"Accept": "application/vnd.microsoft.rtc.autodiscover+xml;v=1"})
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/vnd.microsoft.rtc.autodiscover+xml")
    assert b"<code>BadRequest</code>" in r.content


@pytest.mark.parametrize("accept", ["a" * 5000, ",".join(["text/plain"] * 200),
                                    "application/json;q=abc", ";;;,,,;=;=",
                                    "application/json;q=1.0001"])
def test_hostile_accept_headers(deployment, http, urls, accept, check_logs):
    r = http.get(urls["internal"] + ROOT, headers={"Accept": accept})
    assert r.status_code == 406
    assert r.json()["code"] == "NotAcceptable"


def raw_request(addr, port, data, tls_name=None, ca=None):
    s = socket.create_connection((addr, port), timeout=5)
    if tls_name:
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(s, server_hostname=tls_name)
    s.sendall(data)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out


def test_truncated_and_chunked_bodies(deployment, topo, state, check_logs):
    ca = str(state / "pki" / "ca.crt")
    host = topo.lyncdiscoverinternal
    # a body shorter than its Content-Length: the server times out reading, answers 400
    head = (f"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n")
    chunked = (head + "Transfer-Encoding: chunked\r\n\r\n"
               "10\r\ngrant_type=passw\r\n8\r\nord&user\r\n0\r\n\r\n").encode()
    out = raw_request(topo.fe_addr, topo.fe_https, chunked, host, ca)
    assert out.startswith(b"HTTP/1.1 400") and b'"invalid_request"' in out
    huge_chunk = (head + "Transfer-Encoding: chunked\r\n\r\n"
                  "FFFFFFFF\r\n" + "a" * 10000 + "\r\n0\r\n\r\n").encode()
    out = raw_request(topo.fe_addr, topo.fe_https, huge_chunk, host, ca)
    assert out.startswith(b"HTTP/1.1 400")


def test_children_survive_everything(deployment, http, urls, check_logs):
    # after all of the above, every child still answers (a crash would show as
    # "exit signal" in the log, which check_logs refuses)
    for _ in range(20):
        http.close()
        assert http.get(urls["internal"] + "/").status_code == 200
