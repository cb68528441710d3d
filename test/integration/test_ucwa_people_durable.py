"""people, durability: the schema is created by the module (once, whichever child gets
there first, recorded in ucwa_schema_version), contact lists survive a graceful restart
and a full restart (a new Apache on the same state), many children change lists at once,
a database the children cannot write answers 503 without breaking sign-in, and an older
demo state is brought to the current layout. Each test checks the error logs."""
import os
import re
import shutil
import sqlite3
import stat
import time

import pytest

import conftest
import mobility
from ucwa_client import FAST, assert_error, change_lists_at_once, start_fe, stop_fe

BOB, CAROL = "bob@contoso.test", "carol@contoso.test"


def fresh_state(workdir, topo, name):
    st = workdir / name
    if st.exists():
        shutil.rmtree(st)
    return mobility.make_state(st, topo)


def log_count(fe, pattern):
    return len(re.findall(pattern, fe.apache.log_text()))


def contact_list(app):
    """(groups [(id, name)], contacts [uri], memberships [(group, contact)])."""
    groups = [(g["id"], g["name"]) for g in app.get("/people/groups").json()["_embedded"]["group"]]
    contacts = [c["uri"] for c in app.get("/people/contacts").json()["_embedded"]["contact"]]
    ms = sorted(tuple(m["_links"]["self"]["href"].split("/")[-2:])
                for m in app.get("/people/groupMemberships").json()["_embedded"]["myGroupMembership"])
    return groups, contacts, ms


def test_schema_created_once_and_recorded(workdir, topo):
    st = fresh_state(workdir, topo, "durable-schema")
    fe = start_fe(workdir, st, "durable-schema", servers=4, extra=FAST)
    try:
        alice = fe.user()
        for _ in range(8):   # every child answers (and signs in): no stale statements
            app = alice.create()
            assert app.get("/people/contacts").status_code == 200
            app.delete()
        assert log_count(fe, r"UCWA00232: people: sqlite3 schema upgraded from version 0 to 8") \
            == 1, fe.apache.log_text()
    finally:
        stop_fe(fe)
    con = sqlite3.connect(st / "directory.db")
    rows = con.execute("SELECT version, description, applied_at FROM ucwa_schema_version "
                       "ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r[2]) for r in rows)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert {"ucwa_groups", "ucwa_group_members", "ucwa_group_members_contact",
            "ucwa_conversation_logs", "users", "user_details"} <= names
    con.close()
    # the layout: the database in a directory of its own, the rest root's
    assert (st / "directory.db").is_symlink()
    key = os.stat(st / "token.key")
    assert stat.S_IMODE(key.st_mode) == 0o600 and key.st_uid == os.geteuid()
    assert not os.stat(st).st_mode & 0o022
    if os.geteuid() == 0:
        nobody = mobility._directory_owner()
        for p in (st / "directory", st / "directory" / "directory.db"):
            s = os.stat(p)
            assert (s.st_uid, s.st_gid) == nobody
            assert not s.st_mode & 0o077
    # started again: nothing to do
    fe = start_fe(workdir, st, "durable-schema-2", servers=2)
    try:
        assert fe.user().create().get("/people/groups").status_code == 200
        assert log_count(fe, "UCWA00232") == 0
    finally:
        stop_fe(fe)


def test_contact_list_survives_graceful_and_full_restart(workdir, topo):
    st = fresh_state(workdir, topo, "durable-restart")
    fe = start_fe(workdir, st, "durable-restart", servers=2, extra=FAST)
    try:
        alice = fe.user()
        app = alice.create()
        r = app.post("/people/groups", {"displayName": "Team"})
        team = r.headers["Location"].rsplit("/", 1)[1]
        for body in ({"contactUri": "sip:" + BOB, "groupId": team},
                     {"contactUri": "sip:" + CAROL, "groupId": "pinned"},
                     {"contactUri": "sip:" + BOB}):
            assert app.post("/people/groupMemberships", body).status_code == 201
        before = contact_list(app)
        assert before == ([(team, "Team")], ["sip:" + BOB, "sip:" + CAROL],
                          sorted([("default", BOB), (team, BOB), ("pinned", CAROL)]))

        children = set(fe.children())
        fe.apache.graceful()
        deadline = time.time() + 10
        while time.time() < deadline and not (set(fe.children()) - children):
            time.sleep(0.05)
        assert set(fe.children()) - children
        # the application survived too (the session store); a new one sees the same
        assert contact_list(app) == before
        assert contact_list(alice.create()) == before
        assert fe.user(BOB).create().get("/people/search?query=alice").status_code == 200
    finally:
        stop_fe(fe)

    fe = start_fe(workdir, st, "durable-restart-2", servers=2, extra=FAST)
    try:
        app = fe.user().create()
        assert contact_list(app) == before
        # and it can still change
        assert app.user.request("DELETE", app.self + "/people/groups/" + team).status_code == 204
        assert contact_list(app) == ([], ["sip:" + BOB, "sip:" + CAROL],
                                     [("default", BOB), ("pinned", CAROL)])
    finally:
        stop_fe(fe)


def test_many_children_change_lists_at_once(workdir, topo):
    """Writers in several children at the same moment: every change lands (SQLite
    serialises them), nothing fails, nothing is logged."""
    st = fresh_state(workdir, topo, "durable-concurrent")
    fe = start_fe(workdir, st, "durable-concurrent", servers=4, extra=FAST)
    try:
        users = [fe.user(u) for u in ("alice@contoso.test", BOB)]   # carol is on pool02
        change_lists_at_once(users, 12, "person", "Group ")
        for user in users:
            app = user.create()
            assert len(app.get("/people/contacts").json()["_embedded"]["contact"]) == 36
            assert len(app.get("/people/groups").json()["_embedded"]["group"]) == 36
    finally:
        stop_fe(fe)


def test_readers_go_on_while_a_writer_holds_the_lock(workdir, topo):
    """An admin's tool (or a long commit in another child) holds SQLite's write lock while
    new children start and open their connections: the database is in WAL mode (set when
    Apache starts), so mod_dbd's statements prepare and sign-in, the directory and contact
    lists are read as usual; before, a child opening a connection then failed its
    prepare (AH00632) and its requests answered 503 or 500."""
    st = fresh_state(workdir, topo, "durable-wal")
    fe = start_fe(workdir, st, "durable-wal", servers=2, extra=FAST)
    try:
        alice = fe.user()
        app = alice.create()
        assert app.post("/people/groupMemberships", {"contactUri": BOB}).status_code == 201
        con = sqlite3.connect(st / "directory.db", isolation_level=None, timeout=5)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        con.execute("BEGIN EXCLUSIVE")
        con.execute("UPDATE users SET display_name = display_name WHERE sip_uri = ?", (BOB,))
        try:
            children = set(fe.children())
            fe.apache.graceful()
            deadline = time.time() + 10
            while time.time() < deadline and not (set(fe.children()) - children):
                time.sleep(0.05)
            assert set(fe.children()) - children
            started = time.time()
            for _ in range(4):      # each new child: sign-in, directory, contact list
                other = fe.user(BOB).create()
                assert other.get("/people/" + CAROL).status_code == 200
                assert other.get("/people/search?query=alice").status_code == 200
                assert [c["uri"] for c in app.get("/people/contacts").json()["_embedded"]
                        ["contact"]] == ["sip:" + BOB]
                other.delete()
            assert time.time() - started < 5
        finally:
            con.execute("ROLLBACK")
            con.close()
        assert log_count(fe, "AH00632|AH02655|UCWA00760") == 0, fe.apache.log_text()
    finally:
        stop_fe(fe)


def test_a_database_the_children_cannot_write(workdir, topo, state):
    """A copy of a state made before any migration, owned by root and read-only to the
    children. If the children had to create the schema, they cannot: the start logs why
    (UCWA00231) and the contact list answers 503 (UCWA00235). If the parent created it (it
    runs as root), reading works and a change fails with 500 (UCWA00236). Either way,
    sign-in, the directory and search still work."""
    src = fresh_state(workdir, topo, "durable-ro-src")
    st = workdir / "durable-ro"
    if st.exists():
        shutil.rmtree(st)
    shutil.copytree(src, st)      # directory.db: a plain copy of the file
    (st / "directory.db").chmod(0o644)
    allowed = conftest.ALLOWED_LOG + [re.compile("UCWA00231|UCWA00235|UCWA00236")]
    fe = start_fe(workdir, st, "durable-ro", servers=2)
    try:
        if os.geteuid() != 0:
            pytest.skip("the children run as this user, who can write the copy")
        app = fe.user().create()
        r = app.get("/people/contacts")
        if r.status_code == 503:
            assert_error(r, 503, "ServiceUnavailable")
            assert r.headers["Retry-After"] == "60"
            assert_error(app.post("/people/groups", {"displayName": "Team"}), 503,
                         "ServiceUnavailable")
            assert log_count(fe, "UCWA00231") >= 1
        else:
            assert r.status_code == 200, r.text
            assert_error(app.post("/people/groups", {"displayName": "Team"}), 500,
                         "ServiceFailure")
            assert log_count(fe, "UCWA00236.*readonly") == 1
        assert app.get("/people/search?query=bob").json()["_embedded"]["contact"][0]["uri"] == \
            "sip:" + BOB
        assert app.get("/people/" + BOB).json()["name"] == "Bob Brown"
    finally:
        stop_fe(fe, allowed)


def test_an_older_state_is_brought_to_the_current_layout(workdir, topo):
    """A state from before people: directory.db a plain file in state/, no user_details."""
    st = fresh_state(workdir, topo, "durable-old")
    real = st / "directory" / "directory.db"
    (st / "directory.db").unlink()
    shutil.move(str(real), str(st / "directory.db"))
    shutil.rmtree(st / "directory")
    con = sqlite3.connect(st / "directory.db")
    con.execute("DROP TABLE user_details")
    con.commit()
    con.close()
    mobility.make_directory(st, topo)
    assert (st / "directory.db").is_symlink()
    con = sqlite3.connect(st / "directory.db")
    assert con.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 3
    assert con.execute("SELECT title FROM user_details WHERE sip_uri = ?",
                       (BOB,)).fetchone() == ("Software Engineer",)
    con.close()
    fe = start_fe(workdir, st, "durable-old", servers=2)
    try:
        app = fe.user().create()
        assert app.post("/people/groupMemberships", {"contactUri": BOB}).status_code == 201
    finally:
        stop_fe(fe)
