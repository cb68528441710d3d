"""people on PostgreSQL: the same schema, migrations and statements as on SQLite, through
APR-util's pgsql driver. A private PostgreSQL (its own data directory, a Unix socket, no
TCP) is started for the module. The test command installs the server (postgresql) and
the driver (libaprutil1-dbd-pgsql); the module is skipped only when not run as root
(PostgreSQL must run as postgres)."""
import glob
import os
import re
import shutil
import sqlite3
import subprocess

import pytest

import mobility
from ucwa_client import FAST, assert_error, change_lists_at_once, start_fe, stop_fe

REPO = mobility.REPO
BOB = "bob@contoso.test"
INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
DRIVER = glob.glob("/usr/lib/*/apr-util-1/apr_dbd_pgsql*.so")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (to run PostgreSQL as postgres)")


def test_postgresql_and_its_driver_are_installed():
    # ./apxs-build.sh test installs both: missing means the tests below prove nothing
    assert INITDB, "postgresql is not installed"
    assert DRIVER, "libaprutil1-dbd-pgsql is not installed"

DIRECTORY = """
CREATE TABLE users (sip_uri VARCHAR(256) PRIMARY KEY, password VARCHAR(256) NOT NULL,
    home_pool VARCHAR(256) NOT NULL, display_name VARCHAR(256), policy_tag VARCHAR(64));
CREATE TABLE user_details (sip_uri VARCHAR(256) PRIMARY KEY, title VARCHAR(256),
    department VARCHAR(256), office VARCHAR(256), company VARCHAR(256), email VARCHAR(256),
    work_phone VARCHAR(64), mobile_phone VARCHAR(64), home_phone VARCHAR(64), photo TEXT,
    hidden INTEGER NOT NULL DEFAULT 0);
"""


def as_postgres(cmd, **kw):
    return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], capture_output=True,
                          text=True, **kw)


@pytest.fixture(scope="module")
def pg(workdir):
    """A private PostgreSQL with a database 'mobility' owned by the role 'mobility'."""
    root = workdir / "pgsql"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    shutil.chown(root, "postgres")
    bin_dir = os.path.dirname(INITDB[-1])
    r = as_postgres(f"{bin_dir}/initdb -D {root}/data -A trust -U postgres")
    assert r.returncode == 0, r.stderr
    port = 5432 + os.getpid() % 1000 + 10000
    r = as_postgres(f"{bin_dir}/pg_ctl -D {root}/data -l {root}/log -w -o "
                    f"\"-p {port} -k {root} -c listen_addresses=''\" start")
    assert r.returncode == 0, r.stderr + (root / "log").read_text()
    psql = f"{bin_dir}/psql -v ON_ERROR_STOP=1 -q -h {root} -p {port}"
    r = as_postgres(f"{psql} -U postgres -c 'CREATE ROLE mobility LOGIN' "
                    f"-c 'CREATE DATABASE mobility OWNER mobility'")
    assert r.returncode == 0, r.stderr

    def sql(text):
        r = as_postgres(f"{psql} -U mobility -d mobility -A -t", input=text)
        assert r.returncode == 0, r.stderr
        return r.stdout
    yield {"dsn": f"host={root} port={port} dbname=mobility user=mobility", "sql": sql}
    as_postgres(f"{bin_dir}/pg_ctl -D {root}/data -m fast -w stop")


def q(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


@pytest.fixture(scope="module")
def fe(workdir, topo, pg):
    st = workdir / "pgsql-state"
    if st.exists():
        shutil.rmtree(st)
    mobility.make_state(st, topo)
    con = sqlite3.connect(st / "directory.db")
    rows = [f"INSERT INTO users VALUES ({', '.join(q(v) for v in r)});"
            for r in con.execute("SELECT * FROM users")]
    rows += [f"INSERT INTO user_details VALUES ({', '.join(q(v) for v in r)});"
             for r in con.execute("SELECT * FROM user_details")]
    con.close()
    rows.append("INSERT INTO users VALUES ('helpdesk@contoso.test', 'x', 'pool01.contoso.test', "
                "'Help_Desk 100% Support', NULL);")
    pg["sql"](DIRECTORY + "\n".join(rows))
    # the shipped directory configuration, on PostgreSQL
    conf = (REPO / "conf.d" / "sites" / "directory-sqlite.conf").read_text()
    conf = conf.replace("DBDriver sqlite3", "DBDriver pgsql")
    conf = re.sub(r'DBDParams .*', f'DBDParams "{pg["dsn"]}"', conf)
    (workdir / "directory-pgsql.conf").write_text(conf)
    f = start_fe(workdir, st, "ucwa-people-pgsql", servers=4, directory=None,
                 extra=f'Include "{workdir / "directory-pgsql.conf"}"\n{FAST}')
    yield f
    stop_fe(f)


def test_schema_created_by_children_at_once(fe, pg):
    app = fe.user().create()     # served: the children are past child_init
    assert app.get("/people/groups").status_code == 200
    rows = pg["sql"]("SELECT version, description FROM ucwa_schema_version ORDER BY version")
    assert [line.split("|")[0] for line in rows.strip().splitlines()] == ["1", "2", "3"]
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
    counts = pg["sql"]("SELECT owner, COUNT(DISTINCT contact) FROM ucwa_group_members "
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
