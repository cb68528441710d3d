#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<harness>/ (the files are in git; rerun this after
changing a seed here, or to restore them). Realistic inputs first, then nasty ones:
huge, invalid UTF-8, NUL bytes, deep percent escapes. Only the files named here are
written: the others (regress-* inputs that found a bug, found-* inputs a fuzzing run
added) are left alone; delete a seed's file by hand when you drop it here.

The token seeds are signed with the fixed keys of fuzz_token.c (KEY_CURRENT,
KEY_PREVIOUS): keep both in step."""
import base64
import hashlib
import hmac
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

KEY_CURRENT = bytes([
    0x6b, 0x65, 0x79, 0x2d, 0x63, 0x75, 0x72, 0x72, 0x65, 0x6e, 0x74, 0x2d, 0x30, 0x31, 0x32, 0x33,
    0x9a, 0x1f, 0x00, 0xe4, 0x55, 0x10, 0xc3, 0x7e, 0x42, 0x88, 0xfe, 0x01, 0x6d, 0x2b, 0xb7, 0x5c])
KEY_PREVIOUS = bytes([
    0x6b, 0x65, 0x79, 0x2d, 0x70, 0x72, 0x65, 0x76, 0x69, 0x6f, 0x75, 0x73, 0x2d, 0x34, 0x35, 0x36,
    0x03, 0xd2, 0x77, 0x00, 0x8c, 0x41, 0xaa, 0x19, 0xe0, 0x5f, 0x36, 0xcd, 0x92, 0x0b, 0x7a, 0xf1])
KEY_UNKNOWN = b"an operator's old key, long retired 0123456789"
NOW = 1717200000          # fuzz_token.c's NOW, in seconds


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(user, iat, exp, key=KEY_CURRENT, nonce=b"\x01" * 12, version=b"1"):
    payload = b"\n".join([version, user, str(iat).encode(), str(exp).encode(), b64(nonce)])
    body = b64(payload)
    return b"cwt=" + body + b"." + b64(hmac.new(key, body, hashlib.sha256).digest())


def payload(user, iat, exp, nonce=b"AQEBAQEBAQEBAQEB"):
    return b"\n".join([b"1", user, str(iat).encode(), str(exp).encode(), nonce])


def form_seeds():
    s = {
        # token request bodies (WebTicket oauthtoken), as UCWA and Lync mobile send them
        "ucwa-password": b"grant_type=password&username=alice%40contoso.test&password=Demo-Passw0rd",
        "ucwa-password-raw-at": b"grant_type=password&username=alice@contoso.test&password=Demo-Passw0rd",
        "ucwa-password-scope": b"grant_type=password&username=bob%40contoso.test&password=Demo-Passw0rd&scope=all",
        "sip-prefix-plus-space": b"grant_type=password&username=sip%3Acarol%40contoso.test&password=p%40ss+w%C3%B6rd%21",
        "lync-windows": b"grant_type=urn%3Amicrosoft.rtc%3Awindows&username=CONTOSO%5Calice",
        "lync-anonmeeting": (b"grant_type=urn%3Amicrosoft.rtc%3Aanonmeeting&password=12345678"
                             b"&ms_rtc_conferenceuri=sip%3Aalice%40contoso.test%3Bgruu%3Bopaque%3Dapp"
                             b"%3Aconf%3Afocus%3Aid%3AABCD1234"),
        "lync-passive": b"grant_type=urn%3Amicrosoft.rtc%3Apassive&ms_rtc_passiveauthtoken=eyJ0eXAiOiJKV1Qi",
        "client-credentials": b"grant_type=client_credentials&client_id=x&client_secret=y",
        "utf8-user": b"grant_type=password&username=%C3%A9lodie%40contoso.test&password=%E2%82%AC%F0%9F%98%80",
        "utf8-raw": "grant_type=password&username=ÉLODIE@contoso.test&password=пароль".encode(),
        # query strings (Autodiscover)
        "query-sipuri": b"sipuri=alice@contoso.test",
        "query-sipuri-sip": b"sipuri=sip:alice@contoso.test",
        "query-original-domain": b"originalDomain=contoso.test",
        "query-both": b"originalDomain=contoso.test&sipuri=alice%40contoso.test",
        "query-repeated-case": b"sipuri=a@contoso.test&SIPURI=b@contoso.test",
        "empty": b"",
        # malformed
        "ampersands": b"&&&=&",
        "no-name": b"=value",
        "name-only": b"grant_type",
        "two-equals": b"a=b=c",
        "plus": b"+=+",
        "repeated": b"grant_type=password&grant_type=password&username=a@b.c&password=x",
        "bad-escape": b"grant_type=password&username=%ZZ&password=x",
        "truncated-escape-1": b"a=%",
        "truncated-escape-2": b"a=%4",
        "escape-at-end-of-field": b"a=%4&b=1",
        "percent-percent": b"a=%%41",
        "double-encoded": b"a=%2541%252541",
        "nul-escape": b"grant_type=password&username=alice%00@contoso.test&password=x",
        "nul-raw": b"grant_type=password&user\x00name=alice&password=x",
        "control-escape": b"a=%0D%0Ab",
        "del-escape": b"a=%7F",
        "tab-raw": b"a=\tb",
        "overlong-nul": b"grant_type=password&username=%C0%80@contoso.test&password=x",
        "overlong-slash": b"a=%C0%AF..%C0%AF",
        "overlong-3byte": b"a=%E0%80%AF",
        "overlong-4byte": b"a=%F0%80%80%AF",
        "surrogate": b"a=%ED%A0%80",
        "surrogate-pair": b"a=%ED%A0%BD%ED%B8%80",
        "above-10ffff": b"a=%F4%90%80%80",
        "f5-lead": b"a=%F5%80%80%80",
        "c1-nel": b"a=%C2%85",
        "c1-csi": b"a=%C2%9B31m",
        "nbsp-ok": b"a=%C2%A0",
        "max-code-point": b"a=%F4%8F%BF%BF",
        "bom": b"a=%EF%BB%BF",
        "invalid-utf8-raw": b"a=\xff\xfe\xfd&b=\xc3",
        "lone-continuation": b"a=%80",
        "truncated-sequence": b"a=%E2%82",
        "fields-32": b"&".join(b"f%d=%d" % (i, i) for i in range(32)),
        "fields-33": b"&".join(b"f%d=%d" % (i, i) for i in range(33)),
        "value-1024": b"a=" + b"x" * 1024,
        "value-1025": b"a=" + b"x" * 1025,
        "escapes-1024": b"a=" + b"%41" * 1024,
        "escapes-1025": b"a=" + b"%41" * 1025,
        "raw-3073": b"a=" + b"x" * 3073,
        "deep-escapes-utf8": b"a=" + b"%E2%82%AC" * 341,
        "deep-escapes-utf8-over": b"a=" + b"%E2%82%AC" * 342,
        "huge-body": b"grant_type=password&username=alice@contoso.test&password=" + b"A" * 9000,
        "huge-ampersands": b"&" * 65536,
        "huge-many-short": b"a=1&" * 20000,
    }
    return s


AD_XML = b"application/vnd.microsoft.rtc.autodiscover+xml"
AD_JSON = b"application/vnd.microsoft.rtc.autodiscover+json"


def accept_seeds():
    return {
        # pidgin-sipe (sipe-lync-autodiscover.c) and its EWS Autodiscover
        "pidgin-sipe-lync": AD_XML + b";v=1",
        "pidgin-sipe-ews": b"text/xml",
        # Lync / Skype for Business mobile clients, UCWA applications
        "lync-mobile-json": AD_JSON + b";v=1",
        "lync-mobile-json-space": AD_JSON + b"; v=1",
        "ucwa-json": b"application/json",
        "ucwa-vnd-json": b"application/vnd.microsoft.com.ucwa+json",
        "ucwa-vnd-xml": b"application/vnd.microsoft.com.ucwa+xml",
        "ucwa-xml": b"application/xml",
        "jquery-json": b"application/json, text/javascript, */*; q=0.01",
        # Exchange-style SOAP/XML clients
        "exchange-xml-charset": b"text/xml; charset=utf-8",
        "exchange-ad-xml": AD_XML + b"; v=1, application/xml;q=0.9",
        # browsers and tools
        "firefox": b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "chrome": (b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                   b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
        "curl": b"*/*",
        "wildcard-app": b"application/*",
        "wildcard-text": b"text/*;q=0.5",
        "empty": b"",
        "blank": b" \t ",
        # parameters
        "quoted-version": AD_XML + b'; v="1"',
        "version-1.0": AD_JSON + b";v=1.0",
        "version-2": AD_XML + b";v=2",
        "no-version": AD_XML,
        "q-zero": b"application/json;q=0",
        "q-one-thousandths": b"application/json;q=1.000",
        "q-too-precise": b"application/json;q=0.0001",
        "q-above-one": b"application/json;q=1.5",
        "q-empty": b"application/json;q=",
        "q-quoted": b'application/json;q="0.5"',
        "q-order": AD_XML + b";v=1;q=0.5, " + AD_JSON + b";v=1;q=0.6",
        "q-tie": AD_JSON + b";v=1, " + AD_XML + b";v=1",
        "upper": AD_XML.upper() + b";V=1;Q=0.9",
        "tabs": b"\tapplication/json\t;\tq=0.5\t,\ttext/xml",
        "params-only": b";;;;q=1;v=1;;",
        "commas-only": b",,,,,,",
        "quote": b'"',
        "quoted-comma": AD_XML + b';x="a,b";v=1',
        "image-only": b"image/png",
        # nasty
        "hostile-long": b"a" * 5000,
        "hostile-many": b",".join([b"text/plain"] * 200),
        "range-65": b",".join([b"text/plain"] * 64 + [b"application/json"]),
        "range-64": b",".join([b"text/plain"] * 63 + [b"application/json"]),
        "len-4096": b"application/json;" + b"x" * (4096 - 17),
        "len-4097": b"application/json;" + b"x" * (4097 - 17),
        "nul-inside": b"application/json\x00" + AD_XML,
        "nul-first": b"\x00application/json",
        "invalid-utf8": b"application/\xff\xfe;q=\xc3",
        "deep-percent": b"application%2Fjson;q=%30.5",
        "huge": b"application/json;q=0.5," * 5000,
    }


ROOT = b"/Autodiscover/AutodiscoverService.svc/root"


def route_seeds():
    return {
        "root": ROOT,
        "root-slash": ROOT + b"/",
        "user": ROOT + b"/user",
        "oauth-user": ROOT + b"/oauth/user",
        "domain": ROOT + b"/domain",
        "lower-user": ROOT.lower() + b"/user",
        "upper-user": ROOT.upper() + b"/USER//",
        "token": b"/WebTicket/oauthtoken",
        "token-lower": b"/webticket/OAUTHTOKEN",
        "webticket-svc": b"/WebTicket/WebTicketService.svc",
        "xframe": b"/Autodiscover/XFrame/XFrame.html",
        "slash": b"/",
        "slashes": b"///",
        "empty": b"",
        "xframe-short": b"/xframe",
        "xframe-short-upper": b"/XFrame/",
        "ucwa": b"/ucwa/oauth/v1/applications",
        "mcx": b"/Mcx/McxService.svc",
        "dotdot": b"/Autodiscover/../Autodiscover/AutodiscoverService.svc/root",
        "no-leading-slash": b"Autodiscover/AutodiscoverService.svc/root",
        "prefix": b"/Autodiscover/AutodiscoverService.svc/roo",
        "longer": ROOT + b"/users",
        # host names (mob_route_discovery_domain)
        "host-lyncdiscover": b"lyncdiscover.contoso.test",
        "host-lyncdiscoverinternal": b"lyncdiscoverinternal.contoso.test",
        "host-mixed-case": b"LyncDiscover.Contoso.Test",
        "host-prefix-only": b"lyncdiscover.",
        "host-internal-prefix-only": b"lyncdiscoverinternal.",
        "host-no-dot": b"lyncdiscovercontoso.test",
        "host-pool": b"pool01.contoso.test",
        "host-port": b"lyncdiscover.contoso.test:443",
        # nasty
        "nul-inside": ROOT + b"\x00/user",
        "invalid-utf8": ROOT + b"/\xff\xfe\xc0\x80",
        "percent": b"/Autodiscover%2FAutodiscoverService.svc%2Froot",
        "huge-slashes": b"/" * 100000,
        "huge-path": ROOT + b"/" + b"a" * 65536,
    }


def token_seeds():
    alice = b"alice@contoso.test"
    return {
        # presented tokens
        "valid-current": token(alice, NOW - 60, NOW + 8 * 3600),
        "valid-previous-key": token(b"bob@contoso.test", NOW - 60, NOW + 3600, key=KEY_PREVIOUS),
        "expired": token(alice, NOW - 7200, NOW - 3600),
        "expires-now": token(alice, NOW - 3600, NOW),
        "unknown-key": token(alice, NOW, NOW + 3600, key=KEY_UNKNOWN),
        "version-2": token(alice, NOW, NOW + 3600, version=b"2"),
        "empty-user": token(b"", NOW, NOW + 3600),
        "user-256": token(b"u" * 246 + b"@c.test", NOW, NOW + 3600),
        "user-257": token(b"u" * 247 + b"@c.test", NOW, NOW + 3600),
        "exp-before-iat": token(alice, NOW, NOW - 1),
        "padded-signature": token(alice, NOW, NOW + 3600) + b"=",
        "truncated-signature": token(alice, NOW, NOW + 3600)[:-2],
        "no-signature": token(alice, NOW, NOW + 3600).split(b".")[0] + b".",
        "two-dots": token(alice, NOW, NOW + 3600) + b".AAAA",
        "short": b"cwt=AAAA.BBBB",
        "prefix-only": b"cwt=",
        "dot-only": b"cwt=.",
        "payload-no-mac": b"cwt=MQphbGljZQ.",
        "bearer-prefixed": b"Bearer " + token(alice, NOW, NOW + 3600),
        "upper-prefix": b"CWT=" + token(alice, NOW, NOW + 3600)[4:],
        "x-dot-600": b"cwt=" + b"x." * 600,
        "len-1024": b"cwt=" + b"A" * 1020,
        "len-1025": b"cwt=" + b"A" * 1021,
        "invalid-utf8": b"cwt=\xff\xfe.\xff",
        "nul-inside": b"cwt=AAAA\x00.BBBB",
        "huge": b"cwt=" + b"A" * 100000 + b"." + b"B" * 43,
        # payloads (signed by the harness) and users (round trip)
        "payload-real": payload(alice, NOW - 60, NOW + 3600),
        "payload-expired": payload(alice, 0, 0),
        "payload-negative": payload(alice, -5, 10),
        "payload-spaces": payload(alice, 1, 2).replace(b"\n1\n", b"\n 1\n"),
        "payload-plus": b"1\nalice\n+1\n+2\nx",
        "payload-13-digits": payload(alice, 1, 1234567890123),
        "payload-12-digits": payload(alice, 1, 999999999999),
        "payload-blank-lines": b"\n\n1\n\nalice\n\n1\n\n2\n\nx\n\n",
        "payload-four-fields": b"1\nalice\n1\n2",
        "payload-cr": b"1\r\nalice\r\n1\r\n2\r\nx",
        "payload-nul": b"1\nal\x00ice\n1\n2\nx",
        "user-alice": alice,
        "user-sip": b"sip:alice@contoso.test",
        "user-utf8": "élodie@contoso.test".encode(),
        "user-256": b"u" * 249 + b"@c.test",
        "user-257": b"u" * 250 + b"@c.test",
        "user-spaces": b"Alice Smith",
        "user-invalid-utf8": b"\xff\xfe@contoso.test",
        "user-cr": b"alice\r@contoso.test",
        "user-one-byte": b"a",
    }


def topology_seeds():
    dom = b"AutodiscoverSipDomain contoso.test pool01.contoso.test"
    p1 = (b"AutodiscoverPool pool01.contoso.test role=FrontEnd site=Site1 "
          b"internal=https://pool01.contoso.test external=https://webext.contoso.test "
          b"sip-internal=pool01.contoso.test:5061 sip-external=sip.contoso.test:443 mcx=on")
    p2 = (b"AutodiscoverPool pool02.contoso.test role=FrontEnd site=Site1 "
          b"internal=https://pool02.contoso.test:4443 external=https://webext2.contoso.test:8443 "
          b"sip-internal=pool02.contoso.test:5061 sip-external=sip.contoso.test:443 mcx=off")
    director = (b"AutodiscoverPool dir01.contoso.test role=Director site=Edge "
                b"internal=https://dir01.contoso.test/ external=https://dirext.contoso.test/")
    good = (b"AutodiscoverPool pool01.contoso.test internal=https://pool01.contoso.test "
            b"external=https://webext.contoso.test")

    def pool(internal, external=b"https://webext.contoso.test", extra=b""):
        return (b"AutodiscoverSipDomain contoso.test pool01.contoso.test\n"
                b"AutodiscoverPool pool01.contoso.test internal=" + internal +
                b" external=" + external + extra)

    return {
        "demo": b"\n".join([dom, p1, p2]),
        "demo-director": b"\n".join([b"AutodiscoverSipDomain contoso.test dir01.contoso.test",
                                     b"AutodiscoverSipDomain fabrikam.test pool02.contoso.test",
                                     director, p1, p2]),
        "demo-plain-http": pool(b"http://pool01.contoso.test:8080", b"http://webext.contoso.test:80"),
        "minimal": b"\n".join([dom, good]),
        "tabs-crlf": (dom.replace(b" ", b"\t") + b"\r\n" + good + b"\r\n"),
        # what configtest must refuse
        "same-web-fqdn": pool(b"https://web.contoso.test", b"https://WEB.contoso.test"),
        "unknown-pool": b"AutodiscoverSipDomain contoso.test pool09.contoso.test\n" + good,
        "relative-url": pool(b"/ucwa"),
        "url-with-path": pool(b"https://pool01.contoso.test/x"),
        "url-query": pool(b"https://pool01.contoso.test?x=1"),
        "url-fragment": pool(b"https://pool01.contoso.test#top"),
        "url-credentials": pool(b"https://admin:secret@pool01.contoso.test"),
        "url-ftp": pool(b"ftp://pool01.contoso.test"),
        "url-ipv6": pool(b"https://[::1]:443"),
        "url-port-70000": pool(b"https://pool01.contoso.test:70000"),
        "url-port-minus-one": pool(b"https://pool01.contoso.test:-1"),
        "url-port-plus": pool(b"https://pool01.contoso.test:+443"),
        "url-port-zero": pool(b"https://pool01.contoso.test:0"),
        "url-port-empty": pool(b"https://pool01.contoso.test:"),
        "url-port-letters": pool(b"https://pool01.contoso.test:https"),
        "url-percent-host": pool(b"https://pool%30.contoso.test"),
        "url-underscore-host": pool(b"https://pool_01.contoso.test"),
        "no-domain": good,
        "no-pool": dom,
        "domain-without-pool": b"AutodiscoverSipDomain contoso.test\n" + good,
        "domain-no-dot": b"AutodiscoverSipDomain contoso pool01.contoso.test\n" + good,
        "domain-twice": b"\n".join([dom, dom, good]),
        "pool-twice": b"\n".join([dom, good, good.replace(b"pool01", b"POOL01", 1)]),
        "unknown-setting": b"\n".join([dom, good + b" colour=blue"]),
        "not-key-value": b"\n".join([dom, good + b" mcx"]),
        "empty-key": b"\n".join([dom, good + b" =on"]),
        "bad-role": b"\n".join([dom, good + b" role=Edge"]),
        "bad-mcx": b"\n".join([dom, good + b" mcx=yes"]),
        "sip-bad-port": b"\n".join([dom, good + b" sip-internal=pool01.contoso.test:99999"]),
        "sip-port-zero": b"\n".join([dom, good + b" sip-external=sip.contoso.test:0"]),
        "sip-ipv6": b"\n".join([dom, good + b" sip-external=[fe80::1%eth0]:443"]),
        "sip-empty": b"\n".join([dom, good + b" sip-internal="]),
        "pool-only-name": b"AutodiscoverPool pool01.contoso.test",
        "pool-no-args": b"AutodiscoverPool",
        "label-63": pool(b"https://" + b"a" * 63 + b".contoso.test"),
        "label-64": pool(b"https://" + b"a" * 64 + b".contoso.test"),
        "name-253": pool(b"https://" + b".".join([b"a" * 49] * 5) + b".b"),
        "name-254": pool(b"https://" + b".".join([b"a" * 49] * 5) + b".bc"),
        "trailing-dot": pool(b"https://pool01.contoso.test."),
        "hyphen-edges": pool(b"https://-pool01.contoso.test-"),
        "utf8-host": pool("https://pööl01.contoso.test".encode()),
        "invalid-utf8-host": pool(b"https://pool\xff.contoso.test"),
        "nul-inside": b"\n".join([dom, good]).replace(b"webext", b"web\x00ext"),
        # bare words go to mob_parse_base_url
        "urls": b"https://pool01.contoso.test https://webext.contoso.test:4443/ http://a.b: "
                b"HTTPS://UPPER.TEST https://a.b:65535 https://a.b:65536 https://a.b:00443",
        "huge-args": b"AutodiscoverPool pool01.contoso.test " + b"site=x " * 5000,
        "huge-pools": b"\n".join(
            b"AutodiscoverPool p%d.contoso.test internal=https://i%d.contoso.test "
            b"external=https://e%d.contoso.test" % (i, i, i) for i in range(300)) + b"\n" + dom,
        "huge-line": b"AutodiscoverSipDomain " + b"a" * 100000 + b".test pool01.contoso.test",
    }


def write(name, seeds):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    for k, v in seeds.items():
        (d / k).write_bytes(v)


def main():
    write("fuzz_form", form_seeds())
    write("fuzz_accept", accept_seeds())
    write("fuzz_route", route_seeds())
    write("fuzz_token", token_seeds())
    write("fuzz_topology", topology_seeds())
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
