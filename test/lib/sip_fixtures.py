"""The module fixtures the SIP test modules share (test_sip_calls, test_sip_snr,
test_call_via_work; test_sip_pool takes test_sip_calls'): a module takes them as

    logs = sip_fixtures.logs_fixture(ALLOWED)
    dave = sip_fixtures.phone_fixture("dave", 1, PHONE_HZ)

and builds its Front End's state with `sip_fixtures.voice_state(...)`. pytest and the
integration helpers (ucwa_client) are imported when a fixture is made: only the tests
need them."""


def logs_fixture(allowed, name="logs"):
    """An autouse fixture named name: each test's error log lines checked against the
    module's allowed patterns (besides the suite's), the log cleaned after the test."""
    import pytest
    from ucwa_client import clean_log

    @pytest.fixture(autouse=True, name=name)
    def logs(fe, allowed_log):
        allowed_log.extend(allowed)
        yield from clean_log(fe, allowed_log)
    return logs


def phone_fixture(user, n, tone, name=None):
    """A module fixture named name (default: user): baresip as user's phone, registered
    on the module's SIP side (its `side` fixture) with sip_side's addresses n, sending a
    tone of tone Hz."""
    import pytest

    @pytest.fixture(scope="module", name=name or user)
    def phone(side):
        return side.phone(user, n, tone=tone)
    return phone


def voice_state(workdir, state, name, sql, tags=None):
    """The demo state copied as state-<name> (users tagged with mobility policies: tags),
    its voice tables made by a first start of the module (<name>-0), then the Enterprise
    Voice rows of sql put in while it is stopped: the state's directory."""
    from sip_side import seed_voice
    from ucwa_client import start_fe, state_with_tags, stop_fe

    st = state_with_tags(workdir, state, f"state-{name}", tags or {})
    stop_fe(start_fe(workdir, st, f"{name}-0"))
    seed_voice(st, sql)
    return st


def peer_fixture(tone, name="peer"):
    """A fixture named name: make(tone=tone) gives an application's WebRTC peer (aiortc,
    webrtc_media.Peer) on the module's `media` loop, sending a tone; the test's peers are
    closed when it ends."""
    import pytest
    from webrtc_media import Peer

    @pytest.fixture(name=name)
    def peer(media):
        made = []

        def make(tone=tone):
            p = Peer(media, tone)
            made.append(p)
            return p
        yield make
        for p in made:
            p.close()
    return peer
