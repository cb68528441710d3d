"""A pool of Front Ends for the integration tests, the demo and the benchmarks (issue 11):
one private PostgreSQL (the pool's back end and its directory), N Front Ends of pool01,
each its own Apache instance on its own loopback address, and a private HAProxy in front
of them running conf.d/sites/haproxy-pool.cfg as shipped, as the pool's hardware load
balancer.

Addresses (all on loopback, where every 127.0.0.x works):
  HAProxy, the pool's VIP    Topology.fe_addr (127.0.0.1): the internal web services
                             (pool01.contoso.test, lyncdiscoverinternal) on fe_https and the
                             external ones on fe_ext_https, as the demo's names resolve
  Front End i (1..N)         127.0.0.1<i>, on the same ports as the VIP (as real Front Ends
                             on their own hosts): FE i answers X-MS-Server-Fqdn fe<i>.contoso.test
  HAProxy's connections to them  from 127.0.0.10, with a PROXY protocol header that gives
                             the Front End the client's address (fe-behind-haproxy.conf)
A client reaches one Front End either directly (FrontEnd.base / .origin, by address: the
pool's certificate holds the Front Ends' addresses; from 127.0.0.1, which needs no PROXY
header) or through HAProxy from a source address of its own (source_session /
bind_source): `balance source` sends one address to one Front End, Pool.fe_of_source
says which one, and that Front End's access log shows the address.

Nothing here needs pytest: test/demo.py runs the same pool (DEMO_POOL=1).
"""
import csv
import glob
import io
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import mobility

REPO = mobility.REPO
INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
PG_DRIVER = glob.glob("/usr/lib/*/apr-util-1/apr_dbd_pgsql*.so")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CFG = REPO / "conf.d" / "sites" / "haproxy-pool.cfg"
FE_ADDR = "127.0.0.1{}"              # Front End i's address
FE_FQDN = "fe{}.contoso.test"        # its X-MS-Server-Fqdn (AutodiscoverServerFqdn)
HLB_SOURCE = "127.0.0.10"            # HAProxy's connections to the Front Ends leave from it


# --- PostgreSQL ----------------------------------------------------------------------------

# The directory's tables, as make_directory creates them in SQLite.
DIRECTORY = """
CREATE TABLE users (sip_uri VARCHAR(256) PRIMARY KEY, password VARCHAR(256) NOT NULL,
    home_pool VARCHAR(256) NOT NULL, display_name VARCHAR(256), policy_tag VARCHAR(64));
CREATE TABLE user_details (sip_uri VARCHAR(256) PRIMARY KEY, title VARCHAR(256),
    department VARCHAR(256), office VARCHAR(256), company VARCHAR(256), email VARCHAR(256),
    work_phone VARCHAR(64), mobile_phone VARCHAR(64), home_phone VARCHAR(64), photo TEXT,
    hidden INTEGER NOT NULL DEFAULT 0);
"""


def _q(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


class Postgres:
    """A private PostgreSQL: its own data directory under root, a Unix socket there and no
    TCP, a database 'mobility' owned by the role 'mobility' (trust authentication: only
    who can reach the socket's directory can connect). As root the server runs as the
    user postgres (it refuses root); otherwise as the current user."""

    def __init__(self, root: Path, port=None, settings=None):
        """settings: more server settings (-c name=value), e.g. synchronous_commit off
        where the time of the disk's flush is not what is measured."""
        self.root = Path(root)
        self.port = port or 5432 + os.getpid() % 1000 + 10000   # names the socket only
        self.settings = "".join(f" -c {k}={v}" for k, v in (settings or {}).items())
        self.bin = os.path.dirname(INITDB[-1]) if INITDB else None
        self.initialized = False

    @property
    def dsn(self):
        return f"host={self.root} port={self.port} dbname=mobility user=mobility"

    @property
    def log(self):
        return self.root / "log"

    def run(self, cmd, **kw):
        """cmd (a shell line) as the server's owner."""
        if os.geteuid() == 0:
            return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd],
                                  capture_output=True, text=True, **kw)
        return subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, **kw)

    def _ctl(self, args):
        return self.run(f"{self.bin}/pg_ctl -D {self.root}/data {args}")

    def start(self):
        """The first time, initdb (a fresh cluster), start, then the role and database;
        after stop(), starts the same cluster again."""
        if self.initialized:
            self._serve()
            return self
        if not self.bin:
            raise RuntimeError("postgresql is not installed (./apxs-build.sh test installs it)")
        mobility.clean(self.root)
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.root.chmod(0o755)   # the children (nobody) reach the socket in it
        r = self.run(f"{self.bin}/initdb -D {self.root}/data -A trust -U postgres")
        assert r.returncode == 0, r.stderr
        self._serve()
        self.psql("CREATE ROLE mobility LOGIN; CREATE DATABASE mobility OWNER mobility;",
                  user="postgres", db="postgres")
        self.initialized = True
        return self

    def _serve(self):
        r = self._ctl(f"-l {self.log} -w -o \"-p {self.port} -k {self.root} "
                      f"-c listen_addresses=''{self.settings}\" start")
        assert r.returncode == 0, r.stderr + (self.log.read_text() if self.log.exists() else "")

    def stop(self, mode="fast"):
        if self.bin and (self.root / "data" / "postmaster.pid").exists():
            self._ctl(f"-m {mode} -w stop")

    def psql(self, text, user="mobility", db="mobility"):
        """Runs SQL text; returns psql's unaligned, tuples-only output."""
        r = self.run(f"{self.bin}/psql -v ON_ERROR_STOP=1 -q -h {self.root} -p {self.port} "
                     f"-U {user} -d {db} -A -t", input=text)
        assert r.returncode == 0, r.stderr
        return r.stdout

    sql = psql

    def load_directory(self, state: Path, extra_sql=""):
        """The state dir's SQLite directory (users and their details) copied into the
        database, then extra_sql."""
        con = sqlite3.connect(Path(state) / "directory.db")
        rows = [f"INSERT INTO {t} VALUES ({', '.join(_q(v) for v in r)});"
                for t in ("users", "user_details") for r in con.execute(f"SELECT * FROM {t}")]
        con.close()
        self.psql(DIRECTORY + "\n".join(rows) + "\n" + extra_sql)

    def directory_conf(self, path: Path):
        """conf.d/sites/directory-sqlite.conf, as shipped, on this database: written to
        path, for an Include."""
        conf = (REPO / "conf.d" / "sites" / "directory-sqlite.conf").read_text()
        conf = conf.replace("DBDriver sqlite3", "DBDriver pgsql")
        conf = re.sub(r'DBDParams .*', f'DBDParams "{self.dsn}"', conf)
        Path(path).write_text(conf)
        return Path(path)


# --- HAProxy -------------------------------------------------------------------------------

class HAProxy:
    """`haproxy -f cfg -db` in the foreground, with the shipped config's variables in its
    environment, plus a second config of our own: its log on stdout (to log_file) and an
    admin socket (show stat, disable server ...)."""

    def __init__(self, root: Path, env: dict, cfg=HAPROXY_CFG, servers=2):
        self.root = Path(root)
        self.env = env
        self.cfg = Path(cfg)
        self.servers = servers
        self.proc = None

    @property
    def socket_path(self): return self.root / "admin.sock"
    @property
    def log_file(self): return self.root / "haproxy.log"

    def configs(self):
        """The shipped config, with server lines for fe3.. when there are more than two
        Front Ends (copies of fe2's), and ours."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = self.cfg.read_text()
        for i in range(3, self.servers + 1):
            text = re.sub(r"^\s*server fe2 .*$", lambda m: m.group(0) + "\n" + m.group(0)
                          .replace("fe2", f"fe{i}").replace("FE2", f"FE{i}"), text, flags=re.M)
        main = self.root / "haproxy-pool.cfg"
        main.write_text(text)
        ours = self.root / "harness.cfg"
        ours.write_text(f"global\n    stats socket {self.socket_path} mode 600 level admin\n")
        return [main, ours]

    def environ(self):
        return dict(os.environ, HLB_LOG="stdout", **self.env)

    def check(self):
        """haproxy -c: (returncode, output)."""
        args = [HAPROXY, "-c", "-q"]
        for c in self.configs():
            args += ["-f", str(c)]
        r = subprocess.run(args, capture_output=True, text=True, env=self.environ())
        return r.returncode, r.stdout + r.stderr

    def start(self, timeout=10):
        args = [HAPROXY, "-db"]
        for c in self.configs():
            args += ["-f", str(c)]
        self.log_out = open(self.log_file, "a")
        self.proc = subprocess.Popen(args, stdout=self.log_out, stderr=subprocess.STDOUT,
                                     env=self.environ())
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy did not start:\n" + self.log_text())
            if self.socket_path.exists():
                try:
                    self.command("show info")
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("haproxy did not open its admin socket\n" + self.log_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()     # SIGTERM: a hard stop, connections are closed
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log_out", None):
            self.log_out.close()
            self.log_out = None

    def log_text(self):
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def command(self, line):
        """One command on the admin socket; its answer."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        try:
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        finally:
            s.close()
        return out.decode()

    def servers_state(self, backend=None):
        """{(backend, server): status} from `show stat` ('UP', 'DOWN', 'UP 1/2', ...)."""
        rows = csv.DictReader(io.StringIO(self.command("show stat").lstrip("# ")))
        return {(r["pxname"], r["svname"]): r["status"] for r in rows
                if r["svname"] not in ("FRONTEND", "BACKEND")
                and (backend is None or r["pxname"] == backend)}

    def wait_status(self, server, status, timeout=20):
        """Waits until the health checks say every backend's server is status ('UP' or
        'DOWN'); returns the seconds it took."""
        t0 = time.time()
        while time.time() < t0 + timeout:
            st = [v for (b, s), v in self.servers_state().items() if s == server]
            if st and all(v == status for v in st):
                return time.time() - t0
            time.sleep(0.1)
        raise AssertionError(f"{server} not {status} after {timeout} s: {self.servers_state()}")


# --- the pool ------------------------------------------------------------------------------

def pool_directive_known():
    """The built mod_ucwa knows UcwaPoolFrontEnd (pool mode, issue 11)."""
    try:
        return b"UcwaPoolFrontEnd" in mobility.module_path("ucwa").read_bytes()
    except FileNotFoundError:
        return False


@dataclass
class FrontEnd:
    """Front End i of the pool: its Apache instance and how to reach it directly."""
    index: int
    apache: mobility.Apache
    topo: mobility.Topology          # its own: fe_addr is its address; ports are the VIP's

    @property
    def name(self): return f"fe{self.index}"
    @property
    def fqdn(self): return FE_FQDN.format(self.index)
    @property
    def addr(self): return self.topo.fe_addr
    @property
    def base(self):
        """Its internal web services, directly (by address: in the pool's certificate)."""
        return f"https://{self.addr}:{self.topo.fe_https}"
    origin = base
    @property
    def external_base(self): return f"https://{self.addr}:{self.topo.fe_ext_https}"
    @property
    def status_url(self): return f"http://{self.addr}:{self.topo.fe_http}/ucwa-status"

    def start(self):
        self.apache.start()
        return self

    def stop(self):
        """A graceful stop (parked requests answer at once)."""
        self.apache.stop()

    def kill(self):
        """SIGKILL of the parent and its children at once, as a host dies; start() runs it
        again (its error log is then a new one)."""
        self.apache.kill()

    def _signal_all(self, sig):
        parent = self.apache.proc.pid
        for pid in [parent, *mobility.child_pids(parent)]:
            os.kill(pid, sig)

    def freeze(self):
        """SIGSTOP of the parent and its children: the host is unreachable (a network
        cut) while the kernel still accepts connections; thaw() ends it."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self):
        self._signal_all(signal.SIGCONT)


@dataclass
class Pool:
    """N Front Ends of pool01 behind HAProxy, on one PostgreSQL. topo is the pool's view
    (the VIP at fe_addr, the names clients use); fes[i-1] is Front End i."""
    root: Path
    state: Path
    topo: mobility.Topology
    pg: Postgres
    haproxy: HAProxy
    fes: list = field(default_factory=list)

    @property
    def ca(self): return self.state / "pki" / "ca.crt"
    @property
    def base(self):
        """The internal discovery URL, through the VIP (lyncdiscoverinternal)."""
        return f"https://{self.topo.lyncdiscoverinternal}:{self.topo.fe_https}"
    @property
    def origin(self):
        """The pool's internal web services, through the VIP."""
        return self.topo.internal_base
    @property
    def external_base(self):
        """The external web services VIP (the reverse proxy's next hop), by address."""
        return f"https://{self.topo.fe_addr}:{self.topo.fe_ext_https}"

    def fe(self, i):
        return self.fes[i - 1]

    def fe_of_fqdn(self, fqdn):
        return next(f for f in self.fes if f.fqdn == fqdn)

    def fe_of_source(self, source, path="/Autodiscover/AutodiscoverService.svc/root"):
        """The Front End that HAProxy sends source (a 127.0.0.x address) to, as the
        answer's X-MS-Server-Fqdn says."""
        s = source_session(self.ca, source)
        r = s.get(self.base + path, headers={"Accept": "application/json"}, timeout=10)
        s.close()
        return self.fe_of_fqdn(r.headers["X-MS-Server-Fqdn"])

    def sources_by_fe(self, candidates=None):
        """{fe index: [source addresses HAProxy sends to it]} over candidates (default
        127.0.0.20 to 127.0.0.59): pick a source address to pin a client to a Front End."""
        out = {f.index: [] for f in self.fes if f.apache.proc}
        for a in candidates or [f"127.0.0.{n}" for n in range(20, 60)]:
            out.setdefault(self.fe_of_source(a).index, []).append(a)
        return out

    def start(self):
        """PostgreSQL with the state's directory, the Front Ends, then HAProxy; returns
        once HAProxy's checks find every Front End up. Stops what started on failure."""
        try:
            self.pg.start()
            self.pg.load_directory(self.state)
            self.pg.directory_conf(self.root / "directory-pgsql.conf")
            for f in self.fes:
                f.start()
            self.haproxy.start()
            for f in self.fes:
                self.haproxy.wait_status(f.name, "UP")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        self.haproxy.stop()
        for f in self.fes:
            f.stop()
        self.pg.stop()

    def procs(self):
        """(name, Popen, log) of every process that must keep running."""
        return [(f.fqdn, f.apache.proc, f.apache.error_log) for f in self.fes] + \
            [("haproxy", self.haproxy.proc, self.haproxy.log_file)]


def bind_source(session, source):
    """Every connection of a requests session leaves from source (a 127.0.0.x address)."""
    from requests.adapters import HTTPAdapter

    class SourceAdapter(HTTPAdapter):
        def init_poolmanager(self, *a, **kw):
            kw["source_address"] = (source, 0)
            super().init_poolmanager(*a, **kw)
    for scheme in ("https://", "http://"):
        # the session's retry policy (ucwa_client.new_http's) is kept
        retries = session.get_adapter(scheme + "x").max_retries
        session.mount(scheme, SourceAdapter(max_retries=retries))
    return session


def source_session(ca, source):
    """A requests session trusting the demo CA whose connections leave from source."""
    import requests
    s = requests.Session()
    s.trust_env = False
    s.verify = str(ca)
    return bind_source(s, source)


def pool_topology(offset, n):
    """The pool's view (VIP 127.0.0.1, names as the demo's) and Front End i's: its own
    address, the same ports."""
    return mobility.Topology(offset=offset, extra_ips=tuple(FE_ADDR.format(i)
                                                            for i in range(1, n + 1)))


def free_pool_offset(n, start=40000):
    return mobility.free_offset(("127.0.0.1", "127.0.0.2",
                                 *(FE_ADDR.format(i) for i in range(1, n + 1))), start=start)


def start_pool(root: Path, n=2, extra="", fe_extra=None, lease=None, offset=None,
               servers=2, threads=25, users=0, state=None, start=True):
    """A private PostgreSQL, n Front Ends of pool01 on it and HAProxy in front, under
    root (state: root/state unless given). extra: config for every Front End (after the
    topology and directory); fe_extra: {i: config for Front End i only}. Each Front End
    gets `UcwaPoolFrontEnd fe<i>` (and `UcwaPoolLease lease`) when the built mod_ucwa
    knows the directive, so the harness works before pool mode is built. users: that
    many generated users (mobility.GENERATED_USER) in the directory. start=False
    returns the pool with nothing started (Pool.start() starts it; Pool.haproxy.check()
    works without). Without an offset, a free one; when another process takes one of
    its ports between the check and the start (other test runs on the machine), the
    next free one, up to three times."""
    if offset is not None or not start:
        return _make_pool(root, n, extra, fe_extra, lease,
                          offset if offset is not None else free_pool_offset(n),
                          servers, threads, users, state, start)
    at = 40000
    for attempt in range(3):
        offset = free_pool_offset(n, start=at)
        try:
            return _make_pool(root, n, extra, fe_extra, lease, offset, servers, threads,
                              users, state, start)
        except RuntimeError as e:
            if attempt == 2 or not re.search(r"already in use|could not bind", str(e)):
                raise
        at = offset + 500


def _make_pool(root, n, extra, fe_extra, lease, offset, servers, threads, users, state,
               start):
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    topo = pool_topology(offset, n)
    state = mobility.make_state(Path(state) if state else root / "state", topo)
    if users:
        mobility.add_generated_users(state, users)
    pg = Postgres(root / "pgsql")
    fes = []
    for i in range(1, n + 1):
        t = mobility.Topology(offset=offset, fe_addr=FE_ADDR.format(i))
        lines = [f'Include "{root / "directory-pgsql.conf"}"',
                 f"AutodiscoverServerFqdn {FE_FQDN.format(i)}",
                 mobility.sites_body("fe-behind-haproxy.conf")]
        if pool_directive_known():
            lines.append(f"UcwaPoolFrontEnd fe{i}")
            if lease:
                lines.append(f"UcwaPoolLease {lease}")
        lines += [extra, (fe_extra or {}).get(i, "")]
        apache = mobility.front_end(root / f"fe{i}", state, t, directory=None,
                                    extra="\n".join(lines), servers=servers, threads=threads)
        # the pool's URLs (what discovery and the user resource give) are the VIP's
        apache.defines.update(POOL_INTERNAL_URL=topo.internal_base,
                              POOL_EXTERNAL_URL=topo.external_base,
                              # without a PROXY header: direct clients (pool_fe, /ucwa-status)
                              HLB_PROXY_EXCEPTIONS="127.0.0.1")
        apache.name = FE_FQDN.format(i)     # its own host name: UCWA's X-MS-Server-Fqdn
        apache.topo = t
        fes.append(FrontEnd(i, apache, t))
    env = hlb_env(topo, state, n)
    pool = Pool(root, state, topo, pg, HAProxy(root / "haproxy", env, servers=n), fes)
    return pool.start() if start else pool


def hlb_env(topo, state, n):
    """The variables conf.d/sites/haproxy-pool.cfg reads from its environment."""
    env = {"HLB_SOURCE_ADDR": HLB_SOURCE, "HLB_ADDR": topo.fe_addr,
           "HLB_EXT_ADDR": topo.fe_addr, "POOL_FQDN": topo.pool,
           "WEBEXT_FQDN": topo.webext, "SIP_DOMAIN": topo.sip_domain,
           "FE_HTTPS_PORT": str(topo.fe_https), "FE_EXT_HTTPS_PORT": str(topo.fe_ext_https),
           "FE_HTTP_PORT": str(topo.fe_http), "FE_EXT_HTTP_PORT": str(topo.fe_ext_http),
           "HLB_CA_FILE": str(Path(state) / "pki" / "ca.crt"),
           # two descriptors per connection: within what this process may open
           "HLB_MAXCONN": str(min(20000, (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100)
                                  // 2))}
    for i in range(1, n + 1):
        env[f"FE{i}_ADDR"] = FE_ADDR.format(i)
    return env
