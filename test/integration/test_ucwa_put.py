"""UCWA's PUT contract and ETags: communication and callForwardingSettings carry an ETag
and the GUID-named property; a PUT needs If-Match (428), a current one (412), and the
GUID property echoed (400); a conditional GET answers 304."""
PUT_PROPERTY = "4d221db7-4af0-476b-9443-8bc874283085"


def new_app(http, urls, token):
    h = {"Authorization": "Bearer " + token()}
    r = http.post(urls["internal"] + "/ucwa/oauth/v1/applications", headers=h,
                  json={"userAgent": "put-test", "endpointId": "put-1", "culture": "en-US"})
    assert r.status_code in (200, 201), r.text
    return urls["internal"] + r.json()["_links"]["self"]["href"], h


def test_communication_put_contract(deployment, http, urls, token, check_logs):
    app, h = new_app(http, urls, token)
    r = http.get(app + "/communication", headers=h)
    assert r.status_code == 200
    body, etag = r.json(), r.headers["ETag"]
    assert body[PUT_PROPERTY] == "please pass this in a PUT request"
    assert etag == f'"{body["etag"]}"'
    assert http.get(app + "/communication", headers={**h, "If-None-Match": etag}).status_code == 304
    r = http.put(app + "/communication", headers=h, json=body)
    assert r.status_code == 428 and r.json()["code"] == "PreconditionRequired"
    r = http.put(app + "/communication", headers={**h, "If-Match": '"12345"'}, json=body)
    assert r.status_code == 412 and r.json()["code"] == "PreconditionFailed"
    r = http.put(app + "/communication", headers={**h, "If-Match": etag},
                 json={k: v for k, v in body.items() if k != PUT_PROPERTY})
    assert r.status_code == 400 and r.json()["subcode"] == "ParameterValidationFailure"
    r = http.put(app + "/communication", headers={**h, "If-Match": etag}, json=body)
    assert r.status_code == 200 and r.json()["rel"] == "communication"


def test_call_forwarding_is_readable_not_settable(deployment, http, urls, token, check_logs):
    app, h = new_app(http, urls, token)
    r = http.get(app + "/me/callForwardingSettings", headers=h)
    assert r.status_code == 200 and r.json()["activeSetting"] == "None"
    r = http.put(app + "/me/callForwardingSettings", headers={**h, "If-Match": r.headers["ETag"]},
                 json=dict(r.json(), activeSetting="ImmediateForward"))
    assert r.status_code == 403   # no Enterprise Voice on this server
