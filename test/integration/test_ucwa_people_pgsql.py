"""people on PostgreSQL: the same schema, migrations and statements as on SQLite, through
APR-util's pgsql driver. A private PostgreSQL (its own data directory, a Unix socket, no
TCP) is started for the module. The test command installs the server (postgresql) and
the driver (libaprutil1-dbd-pgsql); the module is skipped only when not run as root
(PostgreSQL must run as postgres)."""
import os
import re

import pytest

import mobility
import pool
from ucwa_client import FAST, assert_error, change_lists_at_once, start_fe, stop_fe

BOB = "bob@contoso.test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


def test_postgresql_and_its_driver_are_installed():
    # ./apxs-build.sh test installs both: missing means the tests below prove nothing
    assert pool.INITDB, "postgresql is not installed"
    assert pool.PG_DRIVER, "libaprutil1-dbd-pgsql is not installed"


@pytest.fixture(scope="module")
def pg(workdir):
    """A private PostgreSQL with a database 'mobility' owned by the role 'mobility'."""
    server = pool.Postgres(workdir / "pgsql").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fe(workdir, topo, pg):
    st = workdir / "pgsql-state"
    mobility.clean(st)
    mobility.make_state(st, topo)
    pg.load_directory(st, "INSERT INTO users VALUES ('helpdesk@contoso.test', 'x', "
                          "'pool01.contoso.test', 'Help_Desk 100% Support', NULL);")
    # the shipped directory configuration, on PostgreSQL
    conf = pg.directory_conf(workdir / "directory-pgsql.conf")
    f = start_fe(workdir, st, "ucwa-people-pgsql", servers=4, directory=None,
                 extra=f'Include "{conf}"\n{FAST}')
    yield f
    stop_fe(f)


def test_schema_created_by_children_at_once(fe, pg):
    app = fe.user().create()     # served: the children are past child_init
    assert app.get("/people/groups").status_code == 200
    rows = pg.sql("SELECT version, description FROM ucwa_schema_version ORDER BY version")
    assert [line.split("|")[0] for line in rows.strip().splitlines()] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert len(re.findall(r"UCWA00232", fe.apache.log_text())) == 1


def test_contact_list_search_and_photos(fe, pg):
    alice = fe.user()
    app = alice.create()
    r = app.post("/people/groups", {"displayName": "Team"})
    assert r.status_code == 204
    team = r.headers["Location"].rsplit("/", 1)[1]
    assert app.post("/people/groupMemberships", {"contactUri": "sip:" + BOB, "groupId": team}) \
        .status_code == 201
    assert_error(app.post("/people/groupMemberships", {"contactUri": BOB, "groupId": team}),
                 409, "Conflict", "AlreadyExists")
    [bob] = app.get("/people/contacts").json()["_embedded"]["contact"]
    assert bob["name"] == "Bob Brown" and bob["title"] == "Software Engineer"
    etag = app.get("/people/groups/" + team).headers["ETag"]
    r = app.user.request("PUT", app.self + "/people/groups/" + team, json={"name": "Crew"},
                         headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["name"] == "Crew"

    def found(query, **params):
        r = app.user.request("GET", app.self + "/people/search", params={"query": query, **params})
        return [c["uri"] for c in r.json()["_embedded"]["contact"]]
    assert found("BROWN") == ["sip:" + BOB]
    assert found("%") == found("_") == ["sip:helpdesk@contoso.test"]
    assert found("' OR 1=1 --") == [] and found("p_t") == []
    assert len(found("contoso")) == 4
    r = app.user.request("GET", app.self + "/people/search", params={"query": "contoso",
                                                                      "limit": "2"}).json()
    assert r["moreResultsAvailable"] is True
    assert app.get("/photos/" + BOB).content == mobility.photo_jpeg(
        *mobility.DIRECTORY_DETAILS[BOB]["photo"])
    assert app.get("/people/ghost@contoso.test").json()["sourceNetwork"] == "Federated"


def test_concurrent_changes_and_a_full_restart(fe, workdir, pg):
    users = [fe.user(u) for u in ("alice@contoso.test", BOB)]
    change_lists_at_once(users, 8, "p", "G ")
    counts = pg.sql("SELECT owner, COUNT(DISTINCT contact) FROM ucwa_group_members "
                       "WHERE contact LIKE 'p%' GROUP BY owner ORDER BY owner")
    assert counts.split() == ["alice@contoso.test|24", "bob@contoso.test|24"]
    # a new Apache on the same database
    other = start_fe(workdir, fe.state, "ucwa-people-pgsql-2", servers=2, directory=None,
                     extra=f'Include "{workdir / "directory-pgsql.conf"}"')
    try:
        app = other.user(BOB).create()
        assert len(app.get("/people/contacts").json()["_embedded"]["contact"]) == 24
        assert len(app.get("/people/groups").json()["_embedded"]["group"]) == 24
        assert "UCWA00232" not in other.apache.log_text()
    finally:
        stop_fe(other)


def test_voice_policy_and_call_forwarding(fe, pg):
    # what an admin writes (docs/schema.md), read through the pgsql driver; the settings
    # written with ON CONFLICT, once inserted, then updated
    pg.sql(r"""
INSERT INTO ucwa_dial_plans (identity) VALUES ('Global');
INSERT INTO ucwa_dial_plan_rules VALUES ('global', 'Redmond 4 digit', 1, '^(\d{4})$', '+1425555$1');
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL);
INSERT INTO ucwa_voice_routes VALUES ('Redmond', 1, '^\+1425\d{7}$', 'Local', 'gw1.contoso.test', NULL);
""")
    app = fe.user(BOB).create()
    cfs = "/me/callForwardingSettings"
    assert app.post(cfs + "/simultaneousRingSettings/simultaneousRingToContact",
                    {"target": "0100"}).status_code == 204
    assert app.post(cfs + "/immediateForwardSettings/immediateForwardToContact",
                    {"target": "0101"}).status_code == 204
    doc = app.get(cfs).json()
    assert doc["activeSetting"] == "ImmediateForward"
    assert doc["_embedded"]["immediateForwardSettings"]["contactUri"] == "tel:+14255550101"
    assert pg.sql("SELECT active_setting, simring_uri FROM ucwa_call_forwarding WHERE owner = "
                  "'bob@contoso.test'").strip() == "ImmediateForward|tel:+14255550100"
    assert_error(app.post(cfs + "/immediateForwardSettings/immediateForwardToContact",
                          {"target": "+442079460018"}), 403, "Forbidden", "NotAllowed")
