"""Calls when the conversation table is full: an ended conversation is recycled for a new
one before its minute (UCWA_CONV_RETAIN) is up, and the call record it held must go with
it. Before the fix the record stayed in use, naming a conversation that was no more: after
UcwaMaxCalls such recycles every call was refused 503 until the server restarted.

A small store (UcwaMaxApplications 4: 8 conversation records; UcwaMaxCalls 2), nobody to
ring (every invitation ends at once, Unreachable, and is kept a minute)."""
import pytest

from test_calls import call, callable_app, sdp
from ucwa_client import FAST, start_fe, stop_fe


@pytest.fixture(scope="module")
def fe(workdir, state):
    f = start_fe(workdir, state, "ucwa-calls-table",
                 extra=FAST + "\nUcwaMaxApplications 4\nUcwaMaxCalls 2")
    yield f
    stop_fe(f)


def test_recycled_conversation_gives_its_call_record_back(users, fe):
    alice = callable_app(users("alice@contoso.test"))
    records = 2 * 4
    # two calls take both call records; their conversations end at once (bob is not
    # signed in) and are kept a minute
    for k in range(2):
        assert call(alice, "bob@contoso.test", sdp(f"t{k}")).status_code == 201
    # the rest of the table, then as many again: each recycles the oldest ended record
    for k in range(2 * records - 2):
        r = alice.post("/communication/messagingInvitations",
                       {"to": "sip:bob@contoso.test", "operationId": f"im-{k}"})
        assert r.status_code == 201, r.text
    # both call records are free again
    for k in range(2):
        r = call(alice, "bob@contoso.test", sdp(f"after-{k}"))
        assert r.status_code == 201, r.text
    st = fe.status()
    assert st["consistent"] and st["conversations"] <= records
