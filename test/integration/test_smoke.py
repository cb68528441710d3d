"""The three modules load into a stock Debian Apache and the discovery root answers."""


def test_root_document_over_internal_site(deployment, http, urls, topo, check_logs):
    r = http.get(urls["internal"] + "/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    links = r.json()["_links"]
    assert links["user"]["href"] == (f"{topo.internal_base}/Autodiscover/AutodiscoverService.svc"
                                     f"/root/oauth/user?originalDomain=contoso.test")
    assert r.headers["X-MS-Server-Fqdn"]


def test_ucwa_and_mcx_modules_answer(deployment, http, topo, check_logs):
    # UCWA wants a token first; so does MCX, whose metadata is public
    r = http.post(f"{topo.internal_base}/ucwa/oauth/v1/applications", json={})
    assert r.status_code == 401
    assert any(c.startswith("MsRtcOAuth href=") for c in r.raw.headers.getlist("WWW-Authenticate"))
    r = http.get(f"{topo.internal_base}/Mcx/McxService.svc")
    assert r.status_code == 405 and b"<faultcode>" in r.content and r.headers["Allow"] == "POST"
    r = http.post(f"{topo.internal_base}/Mcx/McxService.svc", headers={"Content-Type": "text/xml"},
                  data=b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                       b'<m:SignIn xmlns:m="urn:mobility-httpd:mcx:1"><m:DeviceId>d</m:DeviceId>'
                       b'</m:SignIn></s:Body></s:Envelope>')
    assert r.status_code == 401 and b"<m:Code>Unauthorized</m:Code>" in r.content
    assert any(c.startswith("MsRtcOAuth href=") for c in r.raw.headers.getlist("WWW-Authenticate"))
    r = http.get(f"{topo.internal_base}/Mcx/McxService.svc/mex")
    assert r.status_code == 200 and b"<wsdl:definitions" in r.content
