"""A private PostgreSQL for a pool of Front Ends (UcwaPoolFrontEnd): initdb in a directory
of our own, a Unix socket there and no TCP, run as the postgres user (so: root only), and
the demo directory copied into it. Used by test/integration/test_pool*.py and
bench/bench_pool.py."""
import glob
import os
import re
import shutil
import sqlite3
import subprocess

import mobility

INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))

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


class Postgres:
    def __init__(self, root, settings=None):
        """settings: more server settings (-c name=value), e.g. synchronous_commit off
        where the time of the disk's flush is not what is measured."""
        self.root = root
        self.settings = "".join(f" -c {k}={v}" for k, v in (settings or {}).items())
        self.bin = os.path.dirname(INITDB[-1])
        self.port = 5432 + os.getpid() % 1000 + 11000
        self.dsn = f"host={root} port={self.port} dbname=mobility user=mobility"

    def create(self):
        """initdb, start, and an empty database `mobility` owned by the role `mobility`."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir()
        shutil.chown(self.root, "postgres")
        r = as_postgres(f"{self.bin}/initdb -D {self.root}/data -A trust -U postgres")
        assert r.returncode == 0, r.stderr
        self.start()
        r = as_postgres(f"{self.bin}/psql -q -h {self.root} -p {self.port} -U postgres "
                        f"-d postgres -c 'CREATE ROLE mobility LOGIN' "
                        f"-c 'CREATE DATABASE mobility OWNER mobility'")
        assert r.returncode == 0, r.stderr
        return self

    def start(self):
        r = as_postgres(f"{self.bin}/pg_ctl -D {self.root}/data -l {self.root}/log -w -o "
                        f"\"-p {self.port} -k {self.root} -c listen_addresses=''"
                        f"{self.settings}\" start")
        assert r.returncode == 0, r.stderr + (self.root / "log").read_text()

    def stop(self, mode="fast"):
        as_postgres(f"{self.bin}/pg_ctl -D {self.root}/data -m {mode} -w stop")

    def sql(self, text, user="mobility"):
        r = as_postgres(f"{self.bin}/psql -v ON_ERROR_STOP=1 -q -h {self.root} -p {self.port} "
                        f"-U {user} -d mobility -A -t", input=text)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def load_directory(self, state):
        """The directory of a state (mobility.make_state, add_generated_users) copied into
        the database: its users and their details."""
        con = sqlite3.connect(state / "directory.db")
        rows = [f"INSERT INTO users VALUES ({', '.join(q(v) for v in r)});"
                for r in con.execute("SELECT * FROM users")]
        rows += [f"INSERT INTO user_details VALUES ({', '.join(q(v) for v in r)});"
                 for r in con.execute("SELECT * FROM user_details")]
        con.close()
        self.sql(DIRECTORY + "\n".join(rows))

    def directory_conf(self, path):
        """conf.d/sites/directory-sqlite.conf made to read this database (pgsql), written
        to path, for an Include in each Front End of the pool."""
        conf = (mobility.REPO / "conf.d" / "sites" / "directory-sqlite.conf").read_text()
        conf = conf.replace("DBDriver sqlite3", "DBDriver pgsql")
        conf = re.sub(r'DBDParams .*', f'DBDParams "{self.dsn}"', conf)
        path.write_text(conf)
        return path


def q(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"
