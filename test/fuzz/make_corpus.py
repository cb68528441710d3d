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
        # the issuer's form and nothing else: a sixth field, a user that is not normalised,
        # a nonce that is not 16 base64url characters, a leading zero
        "payload-six-fields": payload(alice, NOW - 60, NOW + 3600) + b"\nadmin",
        "payload-trailing-lf": payload(alice, NOW - 60, NOW + 3600) + b"\n",
        "payload-upper-user": payload(b"Alice@Contoso.test", NOW - 60, NOW + 3600),
        "payload-sip-user": payload(b"sip:alice@contoso.test", NOW - 60, NOW + 3600),
        "payload-short-nonce": b"1\nalice@contoso.test\n1\n2\nx",
        "payload-leading-zero": payload(alice, 1, 2).replace(b"\n1\n", b"\n01\n"),
        "valid-upper-user": token(b"ALICE@contoso.test", NOW - 60, NOW + 3600),
        "user-upper": b"Bob@Contoso.test",
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


def ucwa_input_seeds():
    def deep(n, o=b"{\"a\":", c=b"}", inner=b"1"):
        return o * n + inner + c * n

    return {
        # the documented capture: application creation with its trailing comma
        "capture-create": (b'{"UserAgent":"UCWA Samples","EndpointId":'
                           b'"a917c6f4-976c-4cf3-847d-cdfffa28ccdf","Culture":"en-US",}'),
        "capture-create-pretty": (b'{\r\n  "UserAgent": "UCWA Samples",\r\n  "EndpointId": '
                                  b'"a917c6f4-976c-4cf3-847d-cdfffa28ccdf",\r\n  "Culture": '
                                  b'"en-US",\r\n}\r\n'),
        "make-me-available": b'{"SupportedModalities":["Messaging"]}',
        "make-me-available-full": (b'{"signInAs":"Online","supportedMessageFormats":["Plain",'
                                   b'"Html",],"supportedModalities":["Messaging","Audio",],'
                                   b'"phoneNumber":null,}'),
        "presence": b'{"availability":"Busy"}',
        "note": b'{"message":"Out of office until Monday \\u00e9\\ud83d\\ude00"}',
        "location": b'{"location":"Building 5, floor 2"}',
        "instance": (b'{"userAgent":"Lync Mobile/6.0","endpointId":"e1","culture":"de-DE",'
                     b'"instanceId":"i-1"}'),
        "empty": b"",
        "blank": b" \r\n\t ",
        "empty-object": b"{}",
        "empty-array": b"[]",
        "array-top": b'[{"a":1}]',
        "string-top": b'"UCWA"',
        "null-top": b"null",
        "number-top": b"42",
        # commas: only the trailing one after a value is forgiven
        "trailing-nested": b'{"a":[1,2,],"b":{"c":true,},}',
        "trailing-spaced": b'{"a":[1 , ] , }',
        "double-comma": b'{"a":1,,}',
        "leading-comma": b'{,"a":1}',
        "comma-after-colon": b'{"a":,}',
        "comma-after-top": b'{"a":1},',
        "comma-before-wrong-bracket": b'{"a":1,]',
        # strings that look like structure
        "escaped-quote-comma": b'{"message":"say \\"hi\\",","x":"\\\\",}',
        "escaped-quote-key": b'{"a\\",":1,"b\\\\":"}",}',
        "brackets-in-string": b'{"m":"{[,]}","n":"\\"}]",}',
        "unterminated-string": b'{"a":"b\\"}',
        # names
        "case-duplicates": b'{"availability":"Busy","Availability":"Away","AVAILABILITY":3}',
        "exact-duplicates": b'{"message":"one","message":"two"}',
        "non-ascii-names": '{"ÉTAT":"x","état":"y","Straße":1}'.encode(),
        "empty-name": b'{"":"empty","a":""}',
        "long-string-512": b'{"message":"' + b"m" * 512 + b'"}',
        "long-string-513": b'{"message":"' + b"m" * 513 + b'"}',
        "wrong-types": b'{"availability":["Busy"],"message":{"text":"x"},"location":5,"culture":false}',
        # depth
        "depth-16": deep(15),
        "depth-17": deep(16),
        "depth-16-arrays": b'{"a":' + b"[" * 15 + b"]" * 15 + b"}",
        "depth-17-arrays": b'{"a":' + b"[" * 16 + b"]" * 16 + b"}",
        "depth-huge": b"[" * 100000,
        "depth-in-duplicate": b'{"a":' + b"[" * 20 + b"]" * 20 + b',"a":1}',
        "close-first": b"]]]]" + b"{" * 20,
        # NUL bytes
        "nul-in-string": b'{"message":"a\x00b"}',
        "nul-outside": b'{"a":1}\x00',
        "nul-escape": b'{"message":"a\\u0000b"}',
        # numbers
        "huge-integer": b'{"n":123456789012345678901234567890}',
        "huge-real": b'{"n":1e400,"m":-1e400}',
        "tiny-real": b'{"n":1e-400,"m":-0.0}',
        "int64-edges": b'{"max":9223372036854775807,"min":-9223372036854775808}',
        "int64-over": b'{"n":9223372036854775808}',
        "bad-numbers": b'{"a":01,"b":.5,"c":+1,"d":1.}',
        # encodings
        "invalid-utf8": b'{"message":"\xff\xfe"}',
        "overlong-utf8": b'{"message":"\xc0\xaf"}',
        "surrogate-raw": b'{"message":"\xed\xa0\x80"}',
        "surrogate-escape": b'{"message":"\\ud800"}',
        "bom": b'\xef\xbb\xbf{"a":1}',
        "utf16": '{"a":1}'.encode("utf-16"),
        # trailing garbage
        "two-objects": b"{}{}",
        "garbage-after": b'{"a":1} x',
        "literal-case": b'{"a":True,"b":NULL}',
        "huge-body": b'{"message":"' + b"z" * 70000 + b'",}',
        "many-members": b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(2000)) + b",}",
    }


def ucwa_query_seeds():
    return {
        "ack": b"ack=1",
        "ack-timeout": b"ack=2&timeout=180",
        "limit-small": b"limit=5",
        "limit-zero": b"limit=0&ack=1",
        "limit-huge": b"ack=3&limit=99999999999",
        "limit-minus-zero": b"limit=-0",
        "all": b"ack=42&timeout=900&low=30&medium=10&priority=7",
        "case": b"ACK=3&Timeout=5000&LOW=1&Medium=99999",
        "repeated": b"ack=1&ack=2&timeout=200&timeout=x",
        "others": b"callback=x&ack=7&_=1717200000",
        "empty": b"",
        "ack-only-name": b"ack",
        "ack-empty": b"ack=",
        "ack-zero": b"ack=0",
        "ack-negative": b"ack=-1",
        "ack-minus-zero": b"ack=-0",
        "ack-max": b"ack=4294967295",
        "ack-over": b"ack=4294967296",
        "ack-huge": b"ack=99999999999999999999999999",
        "ack-plus-space": b"ack=+1",
        "ack-plus": b"ack=%2B1",
        "ack-leading-space": b"ack=%201",
        "ack-trailing-space": b"ack=1%20",
        "ack-hex": b"ack=0x10",
        "ack-leading-zeros": b"ack=0000000000000000000000001",
        "ack-decimal": b"ack=1.0",
        "priority-max": b"ack=1&priority=1000000",
        "priority-over": b"ack=1&priority=1000001",
        "timeout-minus-zero": b"ack=1&timeout=-0",
        "timeout-empty": b"ack=1&timeout=",
        "timeout-over": b"ack=1&timeout=4294967296",
        "windows-edges": b"ack=1&low=4&medium=1801",
        "windows-zero": b"ack=1&low=0&medium=0&timeout=0",
        "low-letters": b"ack=1&low=abc",
        "bad-escape": b"ack=1&x=%ZZ",
        "nul-escape": b"ack=1&medium=%00",
        "nul-raw": b"ack=1&timeout=2\x000",
        "invalid-utf8": b"ack=1&x=%FF",
        "fields-33": b"ack=1&" + b"&".join(b"f%d=1" % i for i in range(32)),
        "value-1025": b"ack=1&x=" + b"1" * 1025,
    }


# fuzz_ucwa_store: an opcode byte (mod 10) and its argument bytes; the first byte of an
# input picks the limits (mod 4): 0 {8 apps, ring 8, 256-byte slots, 8 users},
# 1 {4, 3, 128, 3}, 2 {8, 1, 200, 2}, 3 {2, 2, 64, 8}.
def st_create(sip, endpoint=0, instance=0, agent=0, culture=0, per_user_max=0, prefix=0):
    return bytes([0, sip, endpoint | instance << 2 | agent << 4 | culture << 5,
                  per_user_max | prefix << 2])


def st_delete(slot):
    return bytes([1, slot])


def st_expire(slot):
    return bytes([2, slot])


def st_post(slot, prio=2, sender=0, size=0):   # prio 0 low, 1 medium, 2 high
    return bytes([3, slot, prio | sender << 2, size])   # size 0 small, 1 exact, 2 +1, 3 huge


def st_post_user(sip, available_only=0, prio=1, kind=0):
    return bytes([4, sip | available_only << 4, prio | kind << 2])


# ack: 0 pkg-1, 1 pkg, 2 pkg+1, 3 pkg+2, 4 zero, 5 random (four more bytes)
def st_poll(slot, ack=2, final=0, low=2, medium=1, rand=b""):
    return bytes([5, slot, ack, final | low << 1 | medium << 3]) + rand


def st_time(delta):   # 0, 1 us, 1 s - 1 us, 1 s, 5 s, 15 s, 60 s, 1800 s
    return bytes([6, delta])


def st_find(slot, how=5, raw=b""):   # 0 raw, 1 "0"+id, 2 id+"0", 3 id + 2^64, 4 "+"+id, 5 id
    return bytes([7, slot | how << 3]) + (bytes([len(raw)]) + raw if how == 0 else b"")


def st_user_find(how, arg, create=1, raw=b""):   # 0 fixed, 1 long (arg: 250+arg), 2 raw
    return bytes([8, create | how << 1, arg]) + raw


def st_available(slot):
    return bytes([9, slot])


def ucwa_store_seeds():
    c = b"".join
    return {
        "lifecycle": c([b"\x00", st_create(0), st_available(0), st_post(0), st_post(0, sender=1),
                        st_poll(0), st_poll(0, ack=1), st_poll(0, ack=2), st_post(0, prio=0),
                        st_time(5), st_poll(0, ack=2), st_time(6), st_poll(0, ack=2),
                        st_poll(0, ack=2, final=1), st_poll(0, ack=1), st_find(0),
                        st_delete(0), st_find(0, how=0, raw=b"12345"), st_create(0)]),
        "overflow": c([b"\x00", st_create(1)] + [st_post(0, prio=1)] * 9 +
                      [st_poll(0), st_poll(0, ack=1)] + [st_post(0)] * 9 +
                      [st_poll(0, ack=1), st_poll(0, ack=2), st_poll(0, ack=2, final=1)]),
        "overflow-full-package": c([b"\x00", st_create(1)] + [st_post(0)] * 8 +
                                   [st_poll(0)] + [st_post(0)] * 3 +
                                   [st_poll(0, ack=1), st_poll(0, ack=2)]),
        "ring-1": c([b"\x02", st_create(0), st_post(0), st_post(0), st_poll(0),
                     st_poll(0, ack=1), st_post(0), st_poll(0, ack=2), st_poll(0)]),
        "tombstones": c([b"\x01", st_create(0), st_time(3), st_create(1), st_time(3),
                         st_create(2), st_time(3), st_create(0, endpoint=2), st_expire(1),
                         st_expire(0), st_find(0), st_find(1), st_poll(2, ack=2),
                         st_create(1, endpoint=3), st_find(0), st_find(1),
                         st_create(2, endpoint=1), st_create(2, endpoint=2), st_delete(2),
                         st_find(2)]),
        "users-full": c([b"\x02", st_create(0), st_create(1), st_create(2), st_delete(0),
                         st_create(2), st_user_find(0, 3, create=1), st_expire(1),
                         st_user_find(0, 4, create=1), st_user_find(0, 1, create=0)]),
        "post-user": c([b"\x00", st_create(0), st_create(0, endpoint=1), st_create(1),
                        st_available(1), st_post_user(0, available_only=1),
                        st_post_user(0, kind=1, prio=2), st_post_user(3),
                        st_poll(0, final=1), st_poll(1, final=1), st_poll(2, final=1)]),
        "long-sip": c([b"\x00"] + [st_user_find(1, i, create=1) for i in range(12)] +
                      [st_user_find(1, i, create=0) for i in range(12)]),
        "raw-sip": c([b"\x01", st_user_find(2, 5, raw=b"x@y.z"), st_user_find(2, 0),
                      st_user_find(2, 3, raw=b"a\x00b"), st_user_find(2, 5, raw=b"x@y.z", create=0)]),
        "find-aliases": c([b"\x00", st_create(0), st_create(1)] +
                          [st_find(s, how=h) for s in (0, 1) for h in range(1, 6)] +
                          [st_find(0, how=0, raw=b"0"), st_find(0, how=0, raw=b"1" * 23),
                           st_find(0, how=0, raw=b"18446744073709551617"),
                           st_find(0, how=0, raw=b"-1")]),
        "sizes": c([b"\x03", st_create(0)] +
                   [st_post(0, sender=s, size=k) for s in range(3) for k in range(4)] +
                   [st_poll(0, final=1), st_post_user(0, kind=2), st_poll(0, ack=2, final=1)]),
        "sizes-256": c([b"\x00", st_create(0)] +
                       [st_post(0, sender=s, size=k) for s in range(3) for k in range(4)] +
                       [st_poll(0, final=1), st_post_user(0, kind=2), st_poll(0, ack=2, final=1)]),
        "per-user-limit": c([b"\x00", st_create(0, endpoint=0, per_user_max=2),
                             st_create(0, endpoint=1, per_user_max=2),
                             st_create(0, endpoint=2, per_user_max=2),
                             st_create(0, endpoint=1, per_user_max=2),
                             st_create(0, endpoint=3, per_user_max=3)]),
        "existing": c([b"\x00", st_create(0, instance=0), st_create(0, instance=1),
                       st_create(0, instance=2), st_create(0, agent=1), st_create(0, culture=1),
                       st_create(0, prefix=1), st_expire(0), st_create(0)]),
        "windows": c([b"\x00", st_create(4), st_post(0, prio=0), st_post(0, prio=1),
                      st_poll(0, low=3, medium=2), st_time(4), st_poll(0, low=3, medium=1),
                      st_time(6), st_poll(0, ack=2, low=3, medium=3), st_time(7),
                      st_poll(0, ack=2, low=3, medium=3), st_poll(0, ack=5, rand=b"\xff\xff\xff\xff"),
                      st_poll(0, ack=0), st_poll(0, ack=3), st_poll(0, ack=4)]),
        "full-apps": c([b"\x03", st_create(0), st_create(1), st_create(2), st_expire(0),
                        st_create(3), st_create(4), st_delete(1), st_create(5)]),
    }

BATCH_APP = b"/ucwa/oauth/v1/applications/103"
PART_HEAD = b"Content-Type: application/http; msgtype=request\r\n\r\n"


def b_part(method, path, body=None, headers=(), eol=b"\r\n", head=PART_HEAD):
    h = [method + b" " + path + b" HTTP/1.1", b"Host: lyncweb.contoso.com",
         b"Accept: application/json"]
    if body is not None:
        h += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
    h += list(headers)
    return head.replace(b"\r\n", eol) + eol.join(h) + eol + eol + (body or b"")


def b_batch(parts, boundary=b"b7a3", eol=b"\r\n", close=True):
    out = b"".join(b"--" + boundary + eol + p + eol for p in parts)
    return out + (b"--" + boundary + b"--" + eol if close else b"")


def ucwa_batch_seeds():
    """Batch bodies (boundary b7a3, or the one their first line names), then Content-Type
    headers and request-targets (the harness reads every input all four ways)."""
    a = BATCH_APP
    get = b_part(b"GET", a + b"/me")
    post = b_part(b"POST", a + b"/me/presence", b'{"availability":"Busy"}')
    doc_b = b"77f2569d-c005-442b-b856-782305305e5f"
    s = {
        # as UCWA's BatchingRequests sample sends it
        "doc-sample": b_batch([b_part(b"GET", a + b"/people/contacts"),
                               b_part(b"GET", a + b"/me"),
                               b_part(b"GET", a + b"/me/presence"),
                               b_part(b"GET", a + b"/policies"),
                               b_part(b"GET", a + b"/me/phones")], boundary=doc_b),
        "get-and-post": b_batch([get, post, b_part(b"GET", a + b"/me/presence")]),
        "lf-only": b_batch([b_part(b"GET", a + b"/me", eol=b"\n")], eol=b"\n"),
        "mixed-eol": b_batch([get.replace(b"\r\n", b"\n", 2), post]),
        "preamble-epilogue": b"preamble\r\n" + b_batch([get]) + b"epilogue\r\n",
        "transport-padding": b_batch([get]).replace(b"--b7a3\r\n", b"--b7a3 \t \r\n"),
        "cte-and-length": b_batch([b"Content-Type: application/http; msgtype=request\r\n"
                                   b"Content-Transfer-Encoding: binary\r\nContent-Length: 73\r\n"
                                   b"\r\n" + get[len(PART_HEAD):]]),
        "no-part-headers": b_batch([b"\r\n" + get[len(PART_HEAD):]]),
        "blank-lines-before-request-line": b_batch([PART_HEAD + b"\r\n\r\n" + get[len(PART_HEAD):]]),
        "absolute-uri": b_batch([b_part(b"GET", b"https://pool01.contoso.test:443" + a + b"/me"),
                                 b_part(b"GET", b"https://evil.example" + a + b"/me")]),
        "traversal": b_batch([b_part(b"GET", a + b"/me/../../104/me"),
                              b_part(b"GET", a + b"/%2e%2e/%2E%2e/x"),
                              b_part(b"GET", a + b"/me/..%2f..%2fx")]),
        "forbidden": b_batch([b_part(b"GET", a + b"/events?ack=1"),
                              b_part(b"GET", a + b"/photos/alice@contoso.test"),
                              b_part(b"POST", a + b"/batch", b"")]),
        "nested-batch": b_batch([b_part(b"POST", a + b"/batch", b_batch([get], boundary=b"in"),
                                        headers=[b"Content-Type: multipart/batching;boundary=in"])]),
        "own-boundary": b_batch([get, post], boundary=b"batch_0011-2233 (x)"),
        "own-boundary-70": b_batch([get], boundary=b"z" * 70),
        "own-boundary-71": b_batch([get], boundary=b"z" * 71),
        "boundary-in-body": b_batch([b_part(b"POST", a + b"/me/note",
                                            b'{"message":"\r\n--b7a3x\r\nx--b7a3--\r\n--b7a3-"}')]),
        "boundary-prefix-lines": b"--b7a3\r\n" + get + b"\r\n--b7a30\r\n--b7a3--",
        "body-without-length": b_batch([b_part(b"POST", a + b"/me/note", None) + b'{"message":"x"}\r\n']),
        "empty-part": b_batch([b""]),
        "empty-parts": b_batch([b"", b"", get]),
        "nul-in-body": b_batch([b_part(b"POST", a + b"/me/note", b'{"m":"\x00"}')]),
        "nul-in-header": b_batch([get.replace(b"Accept: ", b"Accept: \x00")]),
        "nul-in-request-line": b_batch([get.replace(b" HTTP/1.1", b"\x00 HTTP/1.1")]),
        "cr-in-header": b_batch([get.replace(b"Accept: ", b"Accept: a\rb")]),
        "folded-header": b_batch([get.replace(b"Accept: application/json",
                                              b"Accept: application/json\r\n json")]),
        "utf8-target": b_batch([b_part(b"GET", a + "/é".encode())]),
        "http2": b_batch([get.replace(b"HTTP/1.1", b"HTTP/2.0")]),
        "http09": b_batch([PART_HEAD + b"GET " + a + b"/me\r\n"]),
        "te-chunked": b_batch([b_part(b"POST", a + b"/me/note", b"2\r\n{}\r\n0\r\n\r\n",
                                      headers=[b"Transfer-Encoding: chunked"])]),
        "length-beyond": b_batch([post.replace(b"Content-Length: 23", b"Content-Length: 2300")]),
        "length-short": b_batch([post.replace(b"Content-Length: 23", b"Content-Length: 2")]),
        "length-twice": b_batch([b_part(b"POST", a + b"/me/note", b"{}",
                                        headers=[b"Content-Length: 2"])]),
        "length-huge": b_batch([post.replace(b"Content-Length: 23",
                                             b"Content-Length: 99999999999999999999")]),
        "nested-multipart": b_batch([b_part(b"GET", a + b"/me", head=b"Content-Type: multipart/"
                                            b"batching; boundary=x\r\n\r\n")]),
        "msgtype-response": b_batch([b_part(b"GET", a + b"/me", head=PART_HEAD.replace(
            b"request", b"response"))]),
        "base64": b_batch([b_part(b"GET", a + b"/me", head=b"Content-Transfer-Encoding: "
                                  b"base64\r\n\r\n")]),
        "no-request-line": b_batch([PART_HEAD]),
        "only-close": b"--b7a3--\r\n",
        "no-close": b_batch([get, post], close=False),
        "truncated-in-part": b_batch([get, post])[:-40],
        "truncated-in-headers": b_batch([get])[:40],
        "no-boundary": get + post,
        "empty": b"",
        "headers-64": b_batch([b_part(b"GET", a + b"/me", headers=[
            b"X-%d: %d" % (i, i) for i in range(62)])]),     # with Host and Accept: 64
        "headers-65": b_batch([b_part(b"GET", a + b"/me", headers=[
            b"X-%d: %d" % (i, i) for i in range(63)])]),
        "headers-10000": b_batch([b_part(b"GET", a + b"/me", headers=[b"X: y"] * 10000)]),
        "part-headers-10000": b_batch([b"X: y\r\n" * 10000 + b"\r\n" + get]),
        "line-8190": b_batch([b_part(b"GET", a + b"/me", headers=[b"X: " + b"a" * 8187])]),
        "line-8191": b_batch([b_part(b"GET", a + b"/me", headers=[b"X: " + b"a" * 8188])]),
        "target-100k": b_batch([b_part(b"GET", b"/" + b"a" * 100000)]),
        "parts-100": b_batch([get] * 99 + [post]),
        "parts-101": b_batch([get] * 101),
        "parts-10000": b_batch([b""] * 10000),
        "delimiters-only-10000": b"--b7a3\r\n" * 10000,
        "line-breaks-100k": b"--b7a3\n" + b"\n" * 100000 + b"--b7a3--",
    }
    # Content-Type headers
    for i, ct in enumerate([b"multipart/batching;boundary=b7a3",
                            b'multipart/batching; boundary="77f2569d-c005-442b-b856-782305305e5f"',
                            b"Multipart/Batching ; Boundary = x ; charset=utf-8 ;",
                            b'multipart/batching; boundary="a\\"b"', b'multipart/batching; boundary="a b "',
                            b"multipart/batching; boundary=a; boundary=b", b"multipart/batching",
                            b'multipart/batching; boundary="unterminated', b"multipart/mixed; boundary=x",
                            b"multipart/batching; boundary=" + b"x" * 71]):
        s[f"ctype-{i}"] = ct
    # request-targets and paths
    for i, t in enumerate([a + b"/me?x=1#f", b"https://pool01.contoso.test:443" + a,
                           b"HTTPS://POOL01.CONTOSO.TEST:443/x", b"https://u@pool01.contoso.test:443/x",
                           b"//pool01.contoso.test:443/x", b"https://pool01.contoso.test:443//x",
                           a + b"/./me/../%65vents", a + b"/../../../../../..", b"/%2e%2e",
                           b"/a%", b"/a%zz", b"/a/%2f../b", b"/EVENTS/", b"/photos", b"*"]):
        s[f"target-{i}"] = t
    return s


# fuzz_ucwa_message: the first byte picks the mode (mod 4): 0 data URI, 1 message text
# (checked, written, read back), 2 Content-Type, 3 text against the UTF-8 reference.
def ucwa_message_seeds():
    uri, text, ctype, ref = b"\x00", b"\x01", b"\x02", b"\x03"
    return {
        # data URIs as clients and captures write them
        "uri-capture": uri + b"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a",
        "uri-encodeuri": uri + b"data:text/plain;charset=utf-8,What's%20up%3F",
        "uri-html": uri + b"data:text/html;charset=utf-8,%3Cb%3EHi%3C%2Fb%3E",
        "uri-base64": uri + b"data:text/plain;base64,SGkgVG9zaA0K",
        "uri-base64-charset": uri + b"data:text/plain;charset=utf-8;base64,R3LDvMOfZQ==",
        "uri-base64-escaped": uri + b"data:text/plain;base64,SGk%3D",
        "uri-base64-nopad": uri + b"data:text/plain;base64,SGk",
        "uri-empty-type": uri + b"data:,plain+by+default",
        "uri-quoted-charset": uri + b'data:text/plain;charset="UTF-8";x=y,raw \xc3\xa9',
        "uri-ascii": uri + b"data:text/plain;charset=us-ascii,abc",
        "uri-empty": uri + b"data:text/plain,",
        "uri-commas": uri + b"data:text/plain,a,b,,c",
        # refused ones
        "uri-not-data": uri + b"http://example.com/",
        "uri-no-comma": uri + b"data:text/plain",
        "uri-png": uri + b"data:image/png;base64,iVBORw0KGgo=",
        "uri-latin1": uri + b"data:text/plain;charset=iso-8859-1,caf\xe9",
        "uri-ascii-8bit": uri + b"data:text/plain;charset=us-ascii,%c3%a9",
        "uri-bad-escape": uri + b"data:text/plain,%zz",
        "uri-short-escape": uri + b"data:text/plain,50%",
        "uri-escape-at-end": uri + b"data:text/plain,%4",
        "uri-nul-escape": uri + b"data:text/plain,a%00b",
        "uri-nul-raw": uri + b"data:text/plain,a\x00b",
        "uri-invalid-utf8": uri + b"data:text/plain,%ff%fe",
        "uri-surrogate": uri + b"data:text/plain,%ed%a0%80",
        "uri-overlong": uri + b"data:text/plain,%c0%af",
        "uri-bad-base64": uri + b"data:text/plain;base64,!!!!",
        "uri-base64-pad": uri + b"data:text/plain;base64,QQ=",
        "uri-base64-spare-bits": uri + b"data:text/plain;base64,QR==",
        "uri-base64-not-last": uri + b"data:text/plain;base64;charset=utf-8,SGk=",
        "uri-param-no-value": uri + b"data:text/plain;x,a",
        "uri-long-header": uri + b"data:text/plain" + b";a=b" * 70 + b",x",
        "uri-max": uri + b"data:," + b"a" * 65536,
        "uri-max-plus-one": uri + b"data:," + b"a" * 65537,
        "uri-escaped-max": uri + b"data:," + b"%41" * 65537,
        "uri-huge": uri + b"data:," + b"%e2%98%ba" * 30000,
        # texts
        "text-capture": text + b"Hi Tosh\r\n",
        "text-all-kinds": text + "a-Z_0.9!*()'~ +%&=/?é☺😀\t".encode(),
        "text-empty": text,
        "text-nul": text + b"a\x00b",
        "text-controls": text + bytes(range(1, 32)) + b"\x7f",
        "text-cut-short": text + b"\xe2\x98",
        "text-max-codepoint": text + b"\xf4\x8f\xbf\xbf",
        "text-past-max": text + b"\xf4\x90\x80\x80",
        "text-long": text + "Grüße ☺ ".encode() * 5000,
        # Content-Type values
        "ctype-plain": ctype + b"text/plain",
        "ctype-plain-utf8": ctype + b"text/plain; charset=UTF-8",
        "ctype-html-quoted": ctype + b'Text/HTML;Charset="utf-8"',
        "ctype-ascii": ctype + b"text/plain;charset=us-ascii",
        "ctype-params": ctype + b"text/plain; format=flowed; delsp=yes; charset=utf8",
        "ctype-json": ctype + b"application/json",
        "ctype-latin1": ctype + b"text/plain; charset=iso-8859-1",
        "ctype-empty": ctype,
        "ctype-bare-param": ctype + b"text/plain; flowed",
        "ctype-blanks": ctype + b"  text/plain  ;  charset = utf-8 ",
        # the UTF-8 reference
        "ref-boundaries": ref + b"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
                                b"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
        "ref-e0-overlong": ref + b"\xe0\x9f\xbf",
        "ref-ed-surrogate": ref + b"\xed\xbf\xbf",
        "ref-f0-overlong": ref + b"\xf0\x8f\xbf\xbf",
        "ref-f5": ref + b"\xf5\x80\x80\x80",
        "ref-c1": ref + b"\xc1\xbf",
        "ref-lone-continuation": ref + b"a\x80b",
    }


# fuzz_ucwa_conv: the first byte picks the limits (mod 4); then operations of four bytes
# [opcode, a1, a2, a3] (see the harness): 0 sign in (a1 user, a2 0 lurker / 1 Messaging /
# 2 PhoneAudio / 3 Audio and Video / 4 Messaging and Audio, a3 odd: Html), 1 sign out / 2 expire (a1 slot), 3 invite (a1 from slot,
# a2 user / 4 unknown, a3 first message 0 none 1 short 2 long 3 too long, +4 subject,
# +8 operationId, +16 Html), 4 accept (a1 record, a2 slot), 5 decline / 6 cancel (a1
# record), 7 leave / 9 typing (a1 record, a2 side), 8 message (a1 record, a2 side, a3 size
# as for invite, +4 Html), 10 time (a1: 0, 1, 5, 30, 61 s; a2 odd: a call's side that
# polled no more for 20 s is Suspended), 11 poll (a1 slot); calls: 12 call (as invite; a3
# offer 0 300 B, 1 2.5 KiB, 2 6 KiB, 3 too large, +4 multipart, +8 video, +16
# sessionContext), 13 answer (a1 record, a2 slot, a3 bit 0 provisional, the
# rest >> 1 the size as for call, +32 processedOfferId, +64 sessionContext), 14 renegotiate
# (a1 record, a2 side, a3 size), 15 renegotiation answer (a1 record, a2 side, a3 bit 0 an
# answer (else dismiss), bit 1 the wrong number, >> 2 the size), 16 stopAudioVideo (a1
# record, a2 side), 17 addAudio (a1 record, a2 side, a3 as for call), 18 stopMessaging (a1
# record, a2 side).
def cv(op, a1=0, a2=0, a3=0):
    return bytes([op, a1, a2, a3])


def ucwa_conv_seeds():
    c = b"".join
    signin = lambda user, mode=1, html=0: cv(0, user, mode, html)
    return {
        "exchange": c([b"\x00", signin(0), signin(1), cv(3, 0, 1, 1 | 4 | 8), cv(11, 0),
                       cv(11, 1), cv(4, 0, 1), cv(11, 0), cv(11, 1), cv(9, 0, 1), cv(8, 0, 1, 1),
                       cv(8, 0, 0, 2), cv(10, 2), cv(9, 0, 0), cv(10, 2), cv(11, 0), cv(11, 1),
                       cv(7, 0, 1), cv(11, 0), cv(11, 1), cv(10, 4)]),
        "two-devices": c([b"\x00", signin(0), signin(1), signin(1), signin(1, 0),
                          signin(1, 2), cv(3, 0, 1, 1), cv(4, 0, 2), cv(4, 0, 1), cv(5, 0),
                          cv(11, 1), cv(11, 2), cv(11, 3), cv(11, 4), cv(8, 0, 1, 1),
                          cv(1, 2), cv(11, 0)]),
        "decline-cancel-timeout": c([b"\x00", signin(0), signin(1), cv(3, 0, 1), cv(5, 0),
                                     cv(3, 0, 1), cv(6, 1), cv(3, 0, 1), cv(10, 3),
                                     cv(11, 0), cv(11, 1), cv(10, 4), cv(3, 0, 1)]),
        "unreachable": c([b"\x00", signin(0), signin(1, 0), signin(2, 2), cv(3, 0, 1),
                          cv(3, 0, 2), cv(3, 0, 3), cv(3, 0, 4), cv(11, 0)]),
        "gone": c([b"\x00", signin(0), signin(1), cv(3, 0, 1), cv(1, 0), signin(0),
                   cv(3, 2, 1), cv(2, 1), signin(1), cv(3, 2, 1), cv(4, 0, 1), cv(4, 1, 1),
                   cv(2, 2), cv(11, 1)]),
        "html": c([b"\x00", signin(0, 1, 1), signin(1, 1, 1), cv(3, 0, 1, 1 | 16),
                   cv(4, 0, 1), cv(8, 0, 0, 1 | 4), cv(11, 1)]),
        "too-large": c([b"\x02", signin(0), signin(1), cv(3, 0, 1, 2), cv(3, 0, 1, 3),
                        cv(3, 0, 1), cv(4, 0, 1), cv(8, 0, 0, 2), cv(8, 0, 0, 1), cv(11, 1)]),
        "big-slots": c([b"\x03", signin(0), signin(1), cv(3, 0, 1, 2), cv(4, 0, 1),
                        cv(8, 0, 0, 3), cv(11, 0), cv(11, 1)]),
        "full": c([b"\x03", signin(0), signin(1), signin(2)] +
                  [cv(3, 0, 1)] * 3 + [cv(3, 2, 1), cv(6, 0), cv(3, 2, 1), cv(10, 4),
                                       cv(3, 2, 1)]),
        "per-app-limit": c([b"\x00", signin(0), signin(1)] + [cv(3, 0, 1)] * 20 +
                           [cv(10, 3)] + [cv(3, 0, 1)] * 4),
        # calls: slot 0 alice, 1 bob, both available for Audio and Video
        "call-answered": c([b"\x00", signin(0, 3), signin(1, 3), cv(12, 0, 1, 1 | 16),
                            cv(11, 0), cv(11, 1), cv(13, 0, 1, 2 | 32 | 64), cv(11, 0),
                            cv(11, 1), cv(14, 0, 0, 0), cv(14, 0, 0, 0), cv(15, 0, 0, 1),
                            cv(15, 0, 1, 1 | 2), cv(15, 0, 1, 1), cv(14, 0, 1, 2),
                            cv(15, 0, 0, 0), cv(11, 0), cv(11, 1), cv(16, 0, 1), cv(11, 0),
                            cv(11, 1), cv(10, 4), cv(10, 4)]),
        "call-two-devices": c([b"\x00", signin(0, 3), signin(1, 3), signin(1, 3), signin(1, 1),
                               signin(1, 4), cv(12, 0, 1, 8), cv(13, 0, 3, 0), cv(13, 0, 1, 1),
                               cv(13, 0, 2, 2), cv(13, 0, 1, 0), cv(11, 0), cv(11, 1),
                               cv(11, 2), cv(11, 4), cv(16, 0, 0), cv(11, 2)]),
        "call-fail": c([b"\x00", signin(0, 3), signin(1, 3), cv(12, 0, 1), cv(5, 0),
                        cv(12, 0, 1), cv(6, 1), cv(12, 0, 1), cv(13, 2, 1, 1), cv(10, 3),
                        cv(12, 0, 1), cv(16, 3, 0), cv(11, 0), cv(11, 1), cv(10, 4),
                        cv(12, 0, 1), cv(16, 0, 1), cv(10, 4), cv(11, 0)]),
        "call-sizes": c([b"\x02", signin(0, 3), signin(1, 3), cv(12, 0, 1, 2 | 8),
                         cv(12, 0, 1, 4 | 1), cv(12, 0, 1, 3), cv(13, 0, 1, 4),
                         cv(13, 1, 1, 6), cv(13, 1, 1, 8 | 32), cv(14, 0, 1, 3),
                         cv(14, 0, 1, 2), cv(15, 0, 0, 1 | (3 << 2)), cv(15, 0, 0, 1 | (2 << 2)),
                         cv(11, 0), cv(11, 1)]),
        "call-limit": c([b"\x01", signin(0, 3), signin(1, 3), cv(12, 0, 1), cv(12, 1, 0),
                         cv(10, 4), cv(10, 4), cv(12, 1, 0), cv(13, 0, 0, 0), cv(11, 0)]),
        "call-gone": c([b"\x00", signin(0, 3), signin(1, 3), signin(1, 3), cv(12, 0, 1),
                        cv(13, 0, 1), cv(1, 0), cv(11, 1), signin(0, 3), cv(12, 1, 0),
                        cv(2, 0), cv(12, 2, 0), cv(12, 0, 1), cv(1, 1), cv(1, 2), cv(11, 0),
                        cv(10, 4), cv(10, 4)]),
        "call-added": c([b"\x00", signin(0, 4), signin(1, 4), cv(3, 0, 1), cv(4, 0, 1),
                         cv(17, 0, 0, 1), cv(17, 0, 1), cv(11, 0), cv(11, 1), cv(13, 0, 0),
                         cv(13, 0, 1, 1), cv(13, 0, 1, 2), cv(14, 0, 1), cv(15, 0, 0, 1),
                         cv(8, 0, 0, 1), cv(18, 0, 0), cv(8, 0, 1, 1), cv(11, 0), cv(11, 1),
                         cv(16, 0, 1), cv(11, 0), cv(11, 1), cv(10, 4), cv(10, 4)]),
        "call-added-ends": c([b"\x00", signin(0, 4), signin(1, 4), signin(2, 1), cv(3, 0, 1),
                              cv(4, 0, 1), cv(17, 0, 0), cv(16, 0, 1), cv(17, 0, 1, 2 | 8),
                              cv(10, 3), cv(17, 0, 0, 4), cv(16, 0, 0), cv(17, 0, 0, 3),
                              cv(17, 0, 0), cv(13, 0, 1), cv(16, 0, 0), cv(11, 0), cv(11, 1),
                              cv(3, 0, 2), cv(4, 1, 2), cv(17, 1, 0), cv(17, 0, 0), cv(1, 1),
                              cv(11, 0), cv(10, 4), cv(10, 4)]),
        "call-suspended": c([b"\x00", signin(0, 3), signin(1, 3), cv(12, 0, 1), cv(13, 0, 1),
                             cv(11, 0), cv(11, 1), cv(10, 3, 1), cv(11, 0), cv(11, 1),
                             cv(14, 0, 0), cv(15, 0, 1, 1), cv(10, 2, 1), cv(10, 3, 1),
                             cv(11, 1), cv(16, 0, 0), cv(11, 0), cv(10, 4, 1)]),
        "call-modalities": c([b"\x00", signin(0, 1), signin(1, 1), signin(2, 3), signin(3, 2),
                              cv(12, 0, 1), cv(12, 0, 2), cv(12, 0, 3), cv(3, 2, 0),
                              cv(3, 0, 1), cv(13, 4, 1), cv(14, 4, 0), cv(16, 4, 0),
                              cv(11, 0), cv(11, 2)]),
    }


# fuzz_ucwa_pool: the first byte picks the limits (mod 3); then operations of four bytes
# [opcode, a1, a2, a3] (see the harness); a1 is the Front End (bit 0: fe1 0, fe2 1) and,
# shifted right by one, an application or record slot: 0 sign in (a2 user, a3 0 lurker /
# 1 Messaging / 2 PhoneAudio, +4 a name, +8 Html), 1 sign out, 2 invite (a2 user / 4
# unknown, a3 first message 0 none 1 short 2 long, +16 Html), 3 accept / 4 decline (a2
# slot), 5 cancel, 6 leave / 7 message / 8 typing (a2 side), 9 time (a1: 0, 1, 5, 30,
# 61 s), 10 ship, 11 deliver (a2: 1, 2, 4, all), 12 fe gone (a2: 0 out, 1 restart empty,
# 2 join with its store), 13 presence (a2 user), 14 subscribe (a2 user), 15 raw (a2 | a3
# << 8 bytes follow), 16 forged (a2 kind and fe, a3 ids and members), 17 settle.
def pl(op, fe=0, slot=0, a2=0, a3=0):
    return bytes([op, fe | (slot << 1), a2, a3])


def raw(fe, body):
    return pl(15, fe, 0, len(body) & 0xff, len(body) >> 8) + body


def ucwa_pool_seeds():
    c = b"".join
    ALICE, BOB, CAROL = 0, 1, 2
    signin = lambda fe, user, mode=1: pl(0, fe, 0, user, mode | 4)
    settle = pl(17)
    connected = [signin(0, ALICE), signin(1, BOB), settle, pl(2, 0, 0, BOB, 1), settle,
                 pl(3, 1, 0, 0), settle]
    return {
        "exchange": c([b"\x00"] + connected +
                      [pl(7, 0, 0, 0, 1), pl(7, 1, 0, 1, 1), pl(7, 0, 0, 0, 2), pl(8, 1, 0, 1),
                       pl(10, 0), pl(10, 1), pl(11, 1, 0, 0), pl(11, 0, 0, 3), pl(11, 1, 0, 3),
                       pl(9, 2), settle, pl(6, 1, 0, 1), settle, pl(9, 4), settle]),
        "inviter-leaves": c([b"\x01"] + connected + [pl(6, 0, 0, 0), settle]),
        "both-front-ends": c([b"\x00", signin(0, ALICE), signin(0, BOB), signin(1, BOB), settle,
                              pl(2, 0, 0, BOB), settle, pl(3, 0, 0, 1), pl(3, 1, 0, 0),
                              pl(10, 1), pl(10, 0), settle, pl(7, 0, 0, 0, 1), settle,
                              pl(2, 0, 0, BOB), settle, pl(3, 0, 1, 1), pl(3, 1, 1, 0),
                              pl(10, 0), pl(10, 1), settle]),
        "decline-cancel": c([b"\x00", signin(0, ALICE), signin(1, BOB), settle,
                             pl(2, 0, 0, BOB), settle, pl(4, 1, 0, 0), settle,
                             pl(2, 0, 0, BOB), settle, pl(5, 0, 1), settle,
                             pl(2, 0, 0, BOB), settle, pl(3, 1, 2, 0), pl(5, 0, 2),
                             pl(10, 1), settle]),
        "timeouts-crossing": c([b"\x00", signin(0, ALICE), signin(1, BOB), settle,
                                pl(2, 0, 0, BOB), settle, pl(3, 1, 0, 0), pl(10, 1), pl(9, 3),
                                settle, pl(2, 0, 0, BOB), settle, pl(3, 1, 1, 0), pl(9, 3),
                                settle, pl(9, 4), settle]),
        "unreachable": c([b"\x00", signin(0, ALICE), signin(1, BOB), settle,
                          pl(2, 0, 0, BOB), pl(1, 1, 0), settle, pl(2, 0, 0, CAROL),
                          pl(2, 0, 0, 4), signin(1, BOB), settle, pl(2, 0, 0, BOB), settle,
                          pl(1, 1, 1), settle]),
        "fe-gone": c([b"\x00", signin(0, CAROL), pl(14, 0, 0, BOB)] + connected +
                     [pl(12, 1, 0, 0), settle, pl(7, 1, 0, 1, 1), pl(12, 1, 0, 2), settle,
                      pl(12, 0, 0, 1), settle, signin(0, ALICE), settle, pl(2, 0, 1, BOB),
                      settle]),
        "partition": c([b"\x00", signin(0, ALICE), signin(1, BOB), settle, pl(2, 0, 0, BOB),
                        settle, pl(12, 1, 0, 0), pl(3, 1, 0, 0), pl(12, 1, 0, 2), settle,
                        pl(2, 0, 0, BOB), settle, pl(12, 0, 0, 0), pl(3, 1, 1, 0), settle,
                        pl(12, 0, 0, 2), settle]),
        "presence": c([b"\x00", signin(0, CAROL), pl(14, 0, 0, BOB), settle, signin(1, BOB),
                       settle, pl(13, 1, 0, BOB, 7), settle, signin(1, BOB, 2), pl(1, 1, 0),
                       settle, pl(1, 1, 1), settle, pl(13, 0, 0, CAROL, 1), settle]),
        "full-outbox": c([b"\x00"] + connected + [pl(7, 0, 0, 0, 1)] * 258 +
                         [pl(6, 0, 0, 0), pl(10, 0), pl(6, 0, 0, 0), settle]),
        "raw": c([b"\x00"] + connected +
                 [raw(0, b'{"k":"presence","fe":"fe2","sip":"bob@contoso.test","av":"Away",'
                         b'"avail":1,"note":"n","changed":1}'),
                  raw(1, b'{"k":"invite","fe":"fe1","conv":"00000000","to":"bob@contoso.test",'
                         b'"from":"eve@contoso.test","first":"data:,x","expires":1}'),
                  raw(0, b'{"k":"fe-gone","fe":"fe2"}'), raw(1, b"not json"),
                  raw(0, b'{"k":"left","fe":"fe1","conv":"' + b"0" * 60 + b'"}'),
                  raw(0, b"{" + b" " * 13000 + b"}"), raw(1, b'{"k":"typing"}\x00x'), settle]),
        "forged": c([b"\x00"] + connected +
                    [pl(16, fe, 0, k | (f << 4), ids) for fe in (0, 1) for k in range(12)
                     for f, ids in ((0, 0), (1, 5), (2, 2))] + [settle]),
        "tiny": c([b"\x01", signin(0, ALICE), signin(0, BOB), signin(1, BOB), settle] +
                  [pl(2, 0, 0, BOB), settle] * 4 + [pl(9, 4), settle]),
    }


MCX_ENV = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
           b'xmlns:m="urn:mobility-httpd:mcx:1"><s:Body>%s</s:Body></s:Envelope>')


def mcx_soap_seeds():
    def env(x):
        return MCX_ENV.replace(b"%s", x)
    return {
        "sign-in": env(b"<m:SignIn><m:SessionKind>PushCapable</m:SessionKind>"
                       b"<m:DeviceId>dev-1</m:DeviceId></m:SignIn>"),
        "subscribe": env(b"<m:SubscribePresence><m:SessionId>12</m:SessionId>"
                         + b"".join(b"<m:Uri>sip:u%d@contoso.test</m:Uri>" % i for i in range(5))
                         + b"</m:SubscribePresence>"),
        "send-escapes": env(b"<m:SendMessage><m:SessionId>1</m:SessionId><m:ConversationId>ab"
                            b"</m:ConversationId><m:Text>a &amp; b &lt;c&gt; &#13;&#10;\xc3\xa9"
                            b"<![CDATA[<x>]]></m:Text></m:SendMessage>"),
        "header-comments": (b'<?xml version="1.0"?><!-- c --><s:Envelope xmlns:s="http://'
                            b'schemas.xmlsoap.org/soap/envelope/"><s:Header><a/></s:Header>'
                            b'<s:Body><KeepAlive xmlns="urn:mobility-httpd:mcx:1"><?pi x?>'
                            b'<SessionId>7</SessionId></KeepAlive></s:Body></s:Envelope>'),
        "version-2": env(b'<v:SignIn xmlns:v="urn:mobility-httpd:mcx:2"/>'),
        "soap12": (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
                   b'<m:SignIn xmlns:m="urn:mobility-httpd:mcx:1"/></s:Body></s:Envelope>'),
        "two-ops": env(b"<m:SignIn/><m:SignOut/>"),
        "nested-field": env(b"<m:SignIn><m:DeviceId><b>x</b></m:DeviceId></m:SignIn>"),
        "doctype": b'<!DOCTYPE s [<!ENTITY x "y">]>' + env(b"<m:SignIn>&x;</m:SignIn>"),
        "xxe": (b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                + env(b"<m:SignIn><m:DeviceId>&x;</m:DeviceId></m:SignIn>")),
        "deep": env(b"<m:SignIn>" + b"<a>" * 40 + b"</a>" * 40 + b"</m:SignIn>"),
        "truncated": env(b"<m:SignIn><m:DeviceId>x</m:Dev"),
        "latin1": b'<?xml version="1.0" encoding="iso-8859-1"?>' + env(b"<m:SignIn>\xe9</m:SignIn>"),
        "empty": b"",
    }


def mcx_events_seeds():
    base = b"/ucwa/oauth/v1/applications/1"
    inv = (b'{"link":{"rel":"messagingInvitation","href":"' + base + b'/communication/'
           b'messagingInvitations/ab"},"_embedded":{"messagingInvitation":{"direction":'
           b'"Incoming","subject":"s","_links":{"conversation":{"href":"' + base
           + b'/communication/conversations/cd"},"message":{"href":"data:text/plain;'
           b'charset=utf-8,hi+there"}},"_embedded":{"from":{"uri":"sip:bob@x","name":"Bob"}}}},'
           b'"type":"started"}')
    msg = (b'{"link":{"rel":"message","href":"' + base + b'/communication/conversations/cd/'
           b'messaging/messages/2"},"_embedded":{"message":{"direction":"Incoming","_links":'
           b'{"contact":{"href":"' + base + b'/people/bob@x"},"participant":{"title":"Bob"},'
           b'"plainMessage":{"href":"data:text/plain;charset=utf-8,yo%0d%0a"}}}},"status":'
           b'"Success","type":"completed"}')
    pres = (b'{"link":{"rel":"contactPresence","href":"' + base + b'/people/bob@x/presence"},'
            b'"type":"updated"}')

    def pkg(events, links=b'"next":{"href":"' + base + b'/events?ack=3"}'):
        return (b'{"_links":{"self":{"href":"' + base + b'/events?ack=2"},' + links
                + b'},"sender":[{"rel":"communication","href":"' + base
                + b'/communication","events":[' + b",".join(events) + b']}]}')
    return {
        "invitation": pkg([inv]),
        "message": pkg([msg]),
        "presence-twice": pkg([pres, pres]),
        "resync": pkg([], b'"resync":{"href":"' + base + b'/events?ack=9"}'),
        "resume": pkg([msg], b'"resume":{"href":"' + base + b'/events?ack=3"},"next":{"href":"'
                      + base + b'/events?ack=3"}'),
        "no-self": b'{"_links":{},"sender":[]}',
        "bad-types": b'{"_links":{"self":{"href":5}},"sender":{"x":1}}',
    }


# fuzz_lockout: 4 header bytes (table size - 4; account threshold | lock s - 1 << 3;
# address threshold | lock s - 1 << 4; forget s - 1), then 3-byte operations.
LK_FAIL, LK_OK, LK_FAIL_IN_FLIGHT, LK_OK_IN_FLIGHT, LK_CHECK, LK_JUMP = 0, 1, 2, 3, 4, 5
LK_NOBODY = 7   # a name that cannot be a user


def lk_head(slots=64, acc=3, acc_lock=3, addr=5, addr_lock=3, forget=30):
    return bytes([slots - 4, acc | (acc_lock - 1) << 3, addr | (addr_lock - 1) << 4, forget - 1])


def lk(kind, account=0, address=0, device=-1, password=1, tenths=0):
    return bytes([kind | account << 3, address | (device + 1) << 3, password | tenths << 3])


def lk_jump(seconds):
    return bytes([LK_JUMP, 0, seconds])


def lockout_seeds():
    c = b"".join
    return {
        # the defect: 40 wrong passwords, then the owner retries every 1 s
        "retrying-owner": c([lk_head()] + [lk(LK_FAIL, 1, 7, password=i % 8, tenths=1)
                                           for i in range(40)]
                            + [lk(LK_OK, 1, 7, tenths=10) for _ in range(8)]),
        "stale-password": c([lk_head()] + [lk(LK_FAIL, 2, 0, password=4, tenths=2)] * 40
                            + [lk(LK_OK, 2, 0)]),
        "spray-from-elsewhere": c([lk_head(), lk(LK_OK, 0, 0, device=0)]
                                  + [lk(LK_FAIL, 0, 1 + i % 6, password=i % 8)
                                     for i in range(20)]
                                  + [lk(LK_OK, 0, 0), lk(LK_OK, 0, 6, device=0),
                                     lk(LK_OK, 0, 3), lk(LK_CHECK, 0, 5, device=2)]),
        "familiar-typos": c([lk_head(), lk(LK_OK, 3, 0)]
                            + [lk(LK_FAIL, 3, 0, password=i) for i in range(1, 6)]
                            + [lk(LK_CHECK, 3, 1), lk_jump(4), lk(LK_OK, 3, 0)]),
        "in-flight": c([lk_head(acc=2)] + [lk(LK_FAIL_IN_FLIGHT, 4, 2, password=i)
                                          for i in range(6)]
                       + [lk(LK_OK_IN_FLIGHT, 4, 2), lk(LK_FAIL_IN_FLIGHT, 4, 2, password=7)]),
        "forget-and-relock": c([lk_head(forget=5)] + [lk(LK_FAIL, 0, 1, password=i)
                                                      for i in range(3)]
                               + [lk_jump(3), lk(LK_FAIL, 0, 1, password=3), lk_jump(4),
                                  lk(LK_FAIL, 0, 1, password=4), lk_jump(10),
                                  lk(LK_FAIL, 0, 1, password=5)]),
        "address-spray": c([lk_head(acc=7, addr=4)]
                           + [lk(LK_FAIL, i % 7, 5, password=2) for i in range(10)]
                           + [lk(LK_FAIL, LK_NOBODY, 5), lk(LK_OK, 0, 5)]),
        "history-overflow": c([lk_head(acc=7)] + [lk(LK_FAIL, 5, 4, password=i % 5)
                                                   for i in range(15)]),
        "many-origins": c([lk_head()] + [lk(LK_OK, 0, i % 8, device=i % 4 - 1)
                                         for i in range(12)]
                          + [lk(LK_CHECK, 0, i, device=-1) for i in range(8)]),
        "full-table": c([lk_head(slots=4, acc=2, addr=2)]
                        + [lk(LK_FAIL, i % 8, (i * 3) % 8, password=i % 8, tenths=i % 3)
                           for i in range(60)]
                        + [lk(LK_OK, i % 7, i % 8, device=i % 4 - 1) for i in range(14)]),
        "disabled": c([lk_head(acc=0, addr=0)] + [lk(LK_FAIL, 1, 1, password=i) for i in range(8)]
                      + [lk(LK_OK, 1, 1)]),
        "short": b"\x00\x01",
        "header-only": lk_head(),
        "odd-tail": lk_head() + lk(LK_FAIL, 0, 0) + b"\xff\xff",
    }


def write(name, seeds):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    for k, v in seeds.items():
        (d / k).write_bytes(v)


# fuzz_ucwa_pool_link: the first byte picks the mode (mod 3): 0 a message out of pool A and
# back, 1 a message arriving from pool B as it is on the wire, 2 a body to sign and verify
def ucwa_pool_link_seeds():
    out, inc, sig = b"\x00", b"\x01", b"\x02"
    return {
        "out-invite": out + b'{"k":"invite","fe":"fe1","conv":"00000001aaaa","to":"carol@contoso.test",'
                            b'"from":"alice@contoso.test","name":"Alice","first":""}',
        "out-accepted": out + b'{"k":"accepted","fe":"fe1@pool02.contoso.test","conv":"c","by":"fe2",'
                              b'"peer":"p","name":"Carol","html":0}',
        "out-message": out + b'{"k":"message","fe":"fe1","conv":"c","uri":"data:,hi","fmt":0}',
        "out-not-json": out + b'{"k":',
        "in-message": inc + b'{"k":"message","fe":"fe1@pool01.contoso.test","conv":"c","uri":"data:,x"}',
        "in-foreign-name": inc + b'{"k":"left","fe":"fe9@pool77.contoso.test","conv":"c"}',
        "in-unqualified": inc + b'{"k":"left","fe":"fe9","conv":"c"}',
        "in-at-only": inc + b'{"k":"gone","fe":"@pool02.contoso.test","conv":"c"}',
        "in-duplicate-key": inc + b'{"k":"left","k":"gone","fe":"a@pool02.contoso.test"}',
        "in-number-name": inc + b'{"k":"left","fe":7}',
        "out-call-sdp": out + b'{"k":"reneg","fe":"fe1","conv":"c","sdp":"0123456789abcdef0123456789abcdef",'
                              b'"op":"h1"}',
        "in-call-sdp": inc + b'{"k":"reneg","fe":"fe1@pool02.contoso.test","conv":"c","sdp":"k",'
                             b'"sdpType":"application/sdp","sdpData":"dj0wDQo="}',
        "in-call-no-sdp": inc + b'{"k":"accepted","fe":"fe1@pool01.contoso.test","conv":"c","sdp":"k"}',
        "in-call-bad-base64": inc + b'{"k":"reneg","fe":"fe1@pool02.contoso.test","conv":"c","sdp":"k",'
                                    b'"sdpType":"application/sdp","sdpData":"dj0=wDQo"}',
        "in-sdp-no-key": inc + b'{"k":"left","fe":"fe1@pool02.contoso.test","sdpData":"dj0wDQo="}',
        "in-sdp-number": inc + b'{"k":"reneg","fe":"fe1@pool02.contoso.test","sdp":"k","sdpData":5}',
        "sign-empty": sig,
        "sign-body": sig + b'{"k":"presence","fe":"fe1","sip":"alice@contoso.test"}',
    }


# fuzz_ucwa_sdp: the offers of test/unit/unit_sdp.h (its SDP_* macros: string literals and
# names of earlier macros), so the unit tests and the seeds share one copy
def unit_sdp_macros():
    import re
    text = (HERE.parent / "unit" / "unit_sdp.h").read_text()
    macros = {}
    for m in re.finditer(r"#define (SDP_\w+)((?:[^\n]*\\\n)*[^\n]*)", text):
        value = b""
        for tok in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\w+)', m.group(2).replace("\\\n", " ")):
            if tok.group(1) is not None:
                value += tok.group(1).encode().decode("unicode_escape").encode("latin-1")
            else:
                value += macros[tok.group(2)]
        macros[m.group(1)] = value
    return macros


def ucwa_sdp_seeds():
    u = unit_sdp_macros()
    chrome, aiortc, sfb, ice6 = u["SDP_CHROME"], u["SDP_AIORTC"], u["SDP_SFB"], u["SDP_SFB_ICE6"]
    mini = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
    sdp_head = b"Content-Type: application/sdp\r\n\r\n"

    def lf(b):
        return b.replace(b"\r\n", b"\n")

    def ct(ctype, body):          # mode 0: a Content-Type line, then the body
        return b"\x00" + ctype + b"\n" + body

    def mp(parts, boundary=b"fzb", close=True):
        body = b"".join(b"--" + boundary + b"\r\n" + p for p in parts)
        return body + (b"--" + boundary + b"--\r\n" if close else b"")

    related = mp([b"Content-Type: application/json\r\n\r\n"
                  b'{"to":"sip:bob@contoso.com","_links":{"mediaOffer":{"href":"cid:o1"}}}\r\n',
                  b"Content-Type: application/sdp\r\nContent-ID: <o1>\r\n\r\n" + chrome])
    seeds = {
        "ct-chrome": ct(b"application/sdp", chrome),
        "ct-aiortc": ct(b"Application/SDP; charset=utf-8", aiortc),
        "ct-lync-multipart": ct(u["SDP_MULTIPART_CTYPE"], u["SDP_MULTIPART"]),
        "ct-lync-multipart-lf": ct(u["SDP_MULTIPART_CTYPE"], lf(u["SDP_MULTIPART"])),
        "ct-related-json": ct(b'multipart/related; type="application/json"; boundary=fzb', related),
        "ct-nested": ct(b"multipart/alternative; boundary=fzb",
                        mp([b"Content-Type: multipart/alternative; boundary=in\r\n\r\n"
                            + mp([sdp_head + mini], b"in")])),
        "ct-five-parts": ct(b"multipart/alternative; boundary=fzb", mp([sdp_head + mini] * 5)),
        "ct-no-boundary": ct(b"multipart/alternative", mp([sdp_head + mini])),
        "ct-boundary-71": ct(b"multipart/alternative; boundary=" + b"b" * 71,
                             mp([sdp_head + mini], b"b" * 71)),
        "ct-not-closed": ct(b"multipart/alternative; boundary=fzb", mp([sdp_head + mini], close=False)),
        "ct-base64-part": ct(b"multipart/alternative; boundary=fzb",
                             mp([b"Content-Type: application/sdp\r\nContent-Transfer-Encoding: base64"
                                 b"\r\n\r\n" + base64.b64encode(mini) + b"\r\n"])),
        "ct-same-content-id": ct(b"multipart/alternative; boundary=fzb",
                                 mp([b"Content-Type: application/sdp\r\nContent-ID: <x>\r\n\r\n" + mini] * 2)),
        "ct-quoted-boundary": ct(b'multipart/alternative; boundary="a b=c?"',
                                 mp([sdp_head + sfb], b"a b=c?")),
        "ct-256": ct(b"application/sdp; x=" + b"y" * 237, mini),
        "ct-257": ct(b"application/sdp; x=" + b"y" * 238, mini),
        "ct-json": ct(b"application/json", b'{"v":0}'),
        "sdp-chrome": b"\x01" + chrome,
        "sdp-chrome-lf": b"\x01" + lf(chrome),
        "sdp-aiortc": b"\x01" + aiortc,
        "sdp-sfb": b"\x01" + sfb,
        "sdp-sfb-ice6": b"\x01" + ice6,
        "sdp-mini-no-eol": b"\x01" + mini[:-2],
        "sdp-trailing-blank": b"\x01" + mini + b"\r\n\r\n",
        "sdp-blank-inside": b"\x01v=0\r\n\r\nm=audio 9 RTP/AVP 0\r\n",
        "sdp-nul": b"\x01v=0\r\nm=audio 9 RTP/AVP 0\r\na=x\x00y\r\n",
        "sdp-no-v0": b"\x01o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\nm=audio 9 RTP/AVP 0\r\n",
        "sdp-bom": b"\x01\xef\xbb\xbfv=0\r\nm=audio 9 RTP/AVP 0\r\n",
        "sdp-bare-cr": b"\x01v=0\rm=audio 9 RTP/AVP 0\r",
        "sdp-utf8": "\x01v=0\r\ns=café\r\nm=audio 9 RTP/AVP 0\r\n".encode(),
        "sdp-no-m": b"\x01v=0\r\ns=-\r\n",
        "sdp-line-4096": b"\x01" + mini + b"a=" + b"x" * 4094 + b"\r\n",
        "sdp-line-4097": b"\x01" + mini + b"a=" + b"x" * 4095 + b"\r\n",
        "sdp-m-video-bare": b"\x01v=0\nm=video \n",
        "sdp-64k": b"\x01" + mini + (b"a=" + b"x" * 1020 + b"\r\n") * 63 + b"a=" + b"x" * (65536 - len(mini) - 63 * 1024 - 4) + b"\r\n",
        "sdp-64k-plus-1": b"\x01" + mini + (b"a=" + b"x" * 1020 + b"\r\n") * 63 + b"a=" + b"x" * (65537 - len(mini) - 63 * 1024 - 4) + b"\r\n",
        "uri-chrome": b"\x02data:application/sdp;base64," + base64.b64encode(chrome),
        "uri-multipart": b"\x02data:multipart/alternative;boundary=----=_NextPart_9628;base64,"
                         + base64.b64encode(u["SDP_MULTIPART"]),
        "uri-percent": b"\x02data:application/sdp,v=0%0D%0Aa=ice-pwd:a+b/c%0D%0Am=audio%209%20RTP/AVP%200%0D%0A",
        "uri-upper": b"\x02DATA:Application/SDP;BASE64," + base64.b64encode(mini),
        "uri-escaped-b64": b"\x02data:application/sdp;base64," + base64.b64encode(mini).replace(b"=", b"%3D"),
        "uri-params": b"\x02data:multipart/related;type=application%2Fjson;boundary=a%20b;base64,"
                      + base64.b64encode(mp([sdp_head + mini], b"a b")),
        "uri-text-plain": b"\x02data:text/plain,v=0",
        "uri-bad-b64": b"\x02data:application/sdp;base64,dj1",
        "uri-bad-escape": b"\x02data:application/sdp,v=0%0",
        "uri-header-long": b"\x02data:application/sdp;x=" + b"a" * 1100 + b",v=0",
        "uri-nul-param": b"\x02data:application/sdp;x=%00,v=0",
        "uri-tab-param": b"\x02data:multipart/alternative;boundary=fzb;x=%09;base64,"
                         + base64.b64encode(mp([sdp_head + mini])),
        "mp-lync": b"\x03" + u["SDP_MULTIPART"].replace(b"----=_NextPart_9628", b"fzb"),
        "mp-related": b"\x03" + related,
        "mp-preamble-epilogue": b"\x03preamble\r\n" + mp([sdp_head + aiortc]) + b"epilogue",
        "mp-four": b"\x03" + mp([b"Content-Type: application/sdp\r\nContent-ID: <%d>\r\n\r\n" % i + mini
                                 for i in range(4)]),
        "mp-headers-65": b"\x03" + mp([b"X-H: 1\r\n" * 65 + sdp_head + mini]),
        "mp-folded": b"\x03" + mp([b"Content-Type: application/sdp\r\n folded\r\n\r\n" + mini]),
        "mp-no-part": b"\x03--fzb--\r\n",
        "mp-nine": b"\x03" + mp([b"Content-Type: text/plain\r\n\r\nx\r\n"] * 9),
    }
    return seeds


def ng_bencode_seeds():
    sdp = (b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
           b"m=audio 4000 RTP/AVP 0\r\n")
    offer = (b"d7:command5:offer7:call-id16:abc123@192.0.2.1" b"8:from-tag6:f00b4r3:sdp%d:%s"
             b"5:flagsl13:trust-addresse7:replacel6:origin18:session-connectione"
             b"3:ICE6:remove18:transport-protocol7:RTP/AVPe" % (len(sdp), sdp))
    return {
        "ping": b"d7:command4:pinge",
        "ping-message": b"5c0ffee d7:command4:pinge",
        "pong-message": b"5c0ffee d6:result4:ponge",
        "offer": offer,
        "offer-message": b"8d1f3a2b " + offer,
        "answer-ok": b"c1 d6:result2:ok3:sdp%d:%se" % (len(sdp), sdp),
        "error": b"c2 d6:result5:error12:error-reason14:Unknown call-ide",
        "query-totals": b"c3 d6:result2:ok7:createdi1733479200e6:totalsd3:RTPd7:packetsi50e"
                        b"5:bytesi8000e6:errorsi0eeee",
        "int-max": b"i9223372036854775807e",
        "int-min": b"i-9223372036854775808e",
        "int-over": b"i9223372036854775808e",
        "int-neg-zero": b"i-0e",
        "int-leading-zero": b"i03e",
        "str-leading-zero": b"03:abc",
        "str-binary": b"3:a\x00b",
        "str-short": b"10:abc",
        "str-huge-length": b"99999999999999999999:a",
        "dict-int-key": b"di1e1:ae",
        "dict-no-value": b"d1:ae",
        "trailing": b"lei0e",
        "deep-32": b"l" * 32 + b"e" * 32,
        "deep-33": b"l" * 33 + b"e" * 33,
        "deep-open": b"l" * 5000,
        "many-items": b"l" + b"i1e" * 10000 + b"e",
        "cookie-long": b"x" * 65 + b" de",
        "cookie-64": b"x" * 64 + b" de",
        "cookie-tab": b"a\tb de",
        "no-space": b"abcdef",
        "empty": b"",
    }


# fuzz_ucwa_voice: lines: a pattern, a translation (also a route's usages and gateways),
# then dialled strings
def ucwa_voice_seeds():
    def v(*lines):
        return "\n".join(lines).encode()
    return {
        "four-digit": v(r"^(\d{4})$", "+1425555$1", "0100", "tel:0100", "01000", "+14255550100"),
        "seven-digit": v(r"^(\d{7})$", "+1425$1", "555-0100", "(555) 0100", "5550100x1"),
        "international": v(r"^011(\d{7,15})$", "+$1", "011 44 20 7946 0018", "0114420"),
        "extension": v(r"^\+?(1[2-9]\d{9})x?(\d+)$", "+${1};ext=$2", "14255550100", "+1425555010012"),
        "route-usages": v(r"^\+1425\d{7}$", "Local;LongDistance, gw1 ; gw1;GW1", "+14255550100"),
        "brackets": v(r"^[\d\+]{2,}$", "$0", "12", "+1", "++"),
        "bad-regex": v(r"^(\d$", "+1", "1"),
        "bad-escape": v(r"^\q$", "+1", "1"),
        "lone-backslash": v("^1\\", "+1", "1"),
        "negated-in-bracket": v(r"^[\D]$", "+1", "1"),
        "too-many-groups": v("(1)(2)(3)(4)(5)(6)(7)(8)(9)(0)", "+1", "1234567890"),
        "missing-group": v(r"^(\d)$", "+$5", "1"),
        "open-brace": v(r"^(\d)$", "+${1", "1"),
        "dollars": v(r"^(\d+)$", "+$$1$", "12"),
        "not-a-number": v(r"^(\d+)$", "abc$1", "12"),
        "long-translation": v(r"^(\d+)$", "+" + "$1" * 100, "1" * 80),
        "long-pattern": v("1" * 300, "+1", "1"),
        "dial-limit": v("^(.*)$", "$1", "1" * 80, "1" * 81, "+" + "1" * 79),
        "alternation": v("^(1|12|123)$", "+9$1", "1", "12", "123", "1234"),
        "nested": v("^((((1)+)+)+)$", "+$1$2$3$4", "1" * 40),
        "empty-lines": b"\n\n\n",
        "nul": b"^(\\d)$\n+1\n1\x002",
        "no-digits": v(".*", "+1", "+", "tel:", " - ", "sip:bob@contoso.test"),
        "many-lines": v(r"^(\d{4})$", "+1425555$1", *[f"{i:04d}" for i in range(30)]),
        # request URI user parts (ucwa_snr): E.164, bare digits, a LIKE pattern, a name
        "snr-numbers": v(r"^\+1555\d{4}$", "Local;gw-a;3", "+15550100", "15550100",
                         "+1555%", "Alice", "+" + "1" * 32),
    }


# fuzz_ucwa_snr: a settings line (bytes: active setting, period, target bits, the two
# ring delays + 8, policy bits), a rule's pattern and translation, a route's pattern and
# gateways, the LineURI, the three targets, then dialled strings / enum spellings
SNR_NONE, SNR_IMM, SNR_SIM = 3, 1, 2
SNR_IMM_C, SNR_SIM_C, SNR_UNA_C, SNR_UNA_ON = 1, 2, 4, 8
SNR_NO_POLICY, SNR_FWD, SNR_SIMOK, SNR_OTHER = 1, 2, 4, 8


def snr(setting=SNR_NONE, targets=0, sim=0, una=20, policy=SNR_FWD | SNR_SIMOK, period=2,
        rule=(r"^(\d{4})$", "+1555$1"), route=(r"^\+1555\d{4}$", "5"),
        line="tel:+14255550111", imm="", simu="", unau="", more=()):
    head = bytes([setting, period, 0x40 | targets, sim + 8, una + 8, 0x40 | policy])
    assert b"\n" not in head and b"\0" not in head
    return b"\n".join([head, *(x.encode() for x in rule), *(x.encode() for x in route),
                       line.encode(), imm.encode(), simu.encode(), unau.encode(),
                       *(m if isinstance(m, bytes) else m.encode() for m in more)])


def ucwa_snr_seeds():
    return {
        "defaults": snr(more=["0100", "tel:+15550100", "+1 (555) 010-0"]),
        "immediate-number": snr(SNR_IMM, SNR_IMM_C, imm="tel:+15550199"),
        "immediate-sip": snr(SNR_IMM, SNR_IMM_C, imm="sip:bob@contoso.test"),
        "immediate-dialled": snr(SNR_IMM, SNR_IMM_C, imm="0199"),
        "immediate-not-allowed": snr(SNR_IMM, SNR_IMM_C, policy=SNR_SIMOK,
                                     imm="tel:+15550199"),
        "immediate-no-route": snr(SNR_IMM, SNR_IMM_C, imm="tel:+33123456789"),
        "immediate-own-number": snr(SNR_IMM, SNR_IMM_C, line="tel:+15550111",
                                    imm="tel:+15550111"),
        "immediate-own-ext": snr(SNR_IMM, SNR_IMM_C, line="tel:+15550111;ext=111",
                                 imm="0111"),
        "immediate-and-unanswered": snr(SNR_IMM, SNR_IMM_C | SNR_UNA_C | SNR_UNA_ON,
                                        imm="tel:+15550199", unau="tel:+15550198"),
        "simring": snr(SNR_SIM, SNR_SIM_C, sim=5, simu="tel:+15550123"),
        "simring-55": snr(SNR_SIM, SNR_SIM_C, sim=55, simu="tel:+15550123"),
        "simring-56": snr(SNR_SIM, SNR_SIM_C, sim=56, simu="tel:+15550123"),
        "simring-off": snr(SNR_SIM, SNR_SIM_C, policy=SNR_FWD, simu="tel:+15550123"),
        "simring-and-unanswered": snr(SNR_SIM, SNR_SIM_C | SNR_UNA_C | SNR_UNA_ON, sim=10,
                                      una=30, simu="tel:+15550123",
                                      unau="sip:voicemail@contoso.test"),
        "unanswered-4": snr(targets=SNR_UNA_C | SNR_UNA_ON, una=4, unau="tel:+15550124"),
        "unanswered-61": snr(targets=SNR_UNA_C | SNR_UNA_ON, una=61, unau="tel:+15550124"),
        "unanswered-none-target": snr(targets=SNR_UNA_ON, unau="tel:+15550124"),
        "no-policy": snr(SNR_IMM, SNR_IMM_C, policy=SNR_NO_POLICY, imm="tel:+15550199"),
        "gateway-names": snr(SNR_IMM, SNR_IMM_C, route=(r"^\+1555\d{4}$",
                                                         "gw.example;1234567890;7"),
                             imm="tel:+15550199"),
        "other-usage": snr(SNR_SIM, SNR_SIM_C, policy=SNR_FWD | SNR_SIMOK | SNR_OTHER,
                           simu="tel:+4930123456"),
        "extension-rule": snr(SNR_IMM, SNR_IMM_C, rule=(r"^(\d{3})$", "+15550100;ext=$1"),
                              imm="123"),
        "odd-uris": snr(SNR_SIM, SNR_SIM_C | SNR_UNA_C | SNR_UNA_ON,
                        simu="tel:+1555%30100", unau="SIP:Bob@Contoso.test",
                        more=["tel:+1555;ext=", "tel:;ext=1", "+", ";ext=12", "%2B15550100",
                              "sip:+15550100@contoso.test;user=phone", "x" * 300,
                              "+" + "9" * 40, "tel:+15550100;phone-context=+1"]),
        "enums": snr(more=["none", "IMMEDIATEFORWARD", "simultaneousring", "Workhours",
                           "always", "contact", "Contact ", "", "Delegates", "Voicemail"]),
        "bad-regex": snr(SNR_IMM, SNR_IMM_C, rule=("(", "$1"), route=("[", "5"),
                         imm="0199"),
        "line-uri-odd": snr(SNR_IMM, SNR_IMM_C, line="TEL:+15550199;ext=", imm="tel:+15550199"),
        "empty-lines": b"\x03\x02\x4f\x10\x1c\x46\n\n\n\n\n\n\n\n\n",
        "short": b"\x01",
        "nul": snr(SNR_IMM, SNR_IMM_C, imm="tel:+15550199") + b"\x00tail",
        "many-lines": snr(more=[str(i) * 4 for i in range(30)]),
    }


# fuzz_ucwa_workhours: lines: days, hours, a tz zone, then times (seconds since the epoch)
def ucwa_workhours_seeds():
    def w(days, hours, zone, *times):
        return "\n".join([days, hours, zone, *map(str, times)]).encode()
    t = [0, 1700000000, 1711846800, 1729990800, -1, 2 ** 62, -(2 ** 62), 253402300799]
    return {
        "office": w("Mon-Fri", "08:00-17:00", "Europe/London", *t),
        "night": w("Mon-Fri", "22:00-06:00", "America/New_York", *t),
        "all-day": w("Sun-Sat", "00:00-24:00", "UTC", *t),
        "wrap-days": w("Fri-Mon", "09:00-12:00", "Asia/Kolkata", *t),
        "list": w("mon,WED,Fri", "07:30-07:31", "Australia/Lord_Howe", *t),
        "one-day": w("Sat", "23:59-24:00", "Pacific/Chatham", *t),
        "same": w("Mon", "08:00-08:00", "UTC"),
        "start-24": w("Mon", "24:00-01:00", "UTC"),
        "end-0": w("Mon", "01:00-00:00", "UTC"),
        "bad-times": w("Mon", "8:00-17:00", "UTC") + b"\n" + w("Mon", "08:60-17:00", "UTC"),
        "bad-days": w("Mon-", "08:00-17:00", "UTC"),
        "bad-days-2": w("Monday,Tue", "08:00-17:00", "UTC"),
        "empty": w("", "", ""),
        "zone-dotdot": w("Mon", "08:00-17:00", "../../etc/passwd"),
        "zone-abs": w("Mon", "08:00-17:00", "/usr/share/zoneinfo/UTC"),
        "zone-long": w("Mon", "08:00-17:00", "Europe/" + "L" * 80),
        "zone-unknown": w("Mon", "08:00-17:00", "Mars/Olympus_Mons"),
        "zone-posix": w("Mon", "08:00-17:00", "EST5EDT"),
        "zone-etc": w("Mon", "08:00-17:00", "Etc/GMT+12", *t),
        "zone-dir": w("Mon", "08:00-17:00", "Europe"),
        "spec-blank": w("Mon Fri", "08:00-17:00", "UTC"),
        "nul": w("Mon", "08:00-17:00", "UTC") + b"\x00Tue",
        "huge-times": w("Mon-Sun", "00:00-24:00", "UTC", "9" * 30, "-" + "9" * 30, "x"),
    }


def main():
    write("fuzz_form", form_seeds())
    write("fuzz_accept", accept_seeds())
    write("fuzz_route", route_seeds())
    write("fuzz_token", token_seeds())
    write("fuzz_topology", topology_seeds())
    write("fuzz_ucwa_input", ucwa_input_seeds())
    write("fuzz_ucwa_query", ucwa_query_seeds())
    write("fuzz_ucwa_store", ucwa_store_seeds())
    write("fuzz_ucwa_message", ucwa_message_seeds())
    write("fuzz_ucwa_conv", ucwa_conv_seeds())
    write("fuzz_ucwa_pool", ucwa_pool_seeds())
    write("fuzz_ucwa_batch", ucwa_batch_seeds())
    write("fuzz_ucwa_sdp", ucwa_sdp_seeds())
    write("fuzz_mcx_soap", mcx_soap_seeds())
    write("fuzz_mcx_events", mcx_events_seeds())
    write("fuzz_lockout", lockout_seeds())
    write("fuzz_ucwa_pool_link", ucwa_pool_link_seeds())
    write("fuzz_ng_bencode", ng_bencode_seeds())
    write("fuzz_ucwa_voice", ucwa_voice_seeds())
    write("fuzz_ucwa_snr", ucwa_snr_seeds())
    write("fuzz_ucwa_workhours", ucwa_workhours_seeds())
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
