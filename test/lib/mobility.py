"""Private Apache instances for the demo deployment, the tests and the benchmarks.

One module so the three see the same topology: a Front End (pool01) with its internal and
external sites, a reverse proxy publishing the external site, a second pool (pool02) that
only exists in the topology, a SQLite directory and self-signed certificates. Nothing here
touches the system Apache: every instance has its own ServerRoot, PidFile and logs.
"""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYS_MODULES = Path("/usr/lib/apache2/modules")
APACHE = "/usr/sbin/apache2"
DEMO_PASSWORD = "Demo-Passw0rd"


@dataclass
class Topology:
    """Names, addresses and ports of the demo deployment. offset moves every port up."""
    offset: int = 0
    sip_domain: str = "contoso.test"
    pool: str = "pool01.contoso.test"
    pool2: str = "pool02.contoso.test"
    webext: str = "webext.contoso.test"
    webext2: str = "webext2.contoso.test"
    sip_external: str = "sip.contoso.test"
    fe_addr: str = "127.0.0.1"
    rp_addr: str = "127.0.0.2"
    mcx: str = "on"
    extra_ips: tuple = ()     # more addresses in the server certificate (a pool's Front Ends)
    users: dict = field(default_factory=lambda: {
        "alice@contoso.test": ("pool01.contoso.test", "Alice Anderson"),
        "bob@contoso.test": ("pool01.contoso.test", "Bob Brown"),
        "carol@contoso.test": ("pool02.contoso.test", "Carol Clark"),
    })

    def port(self, base):
        return base + self.offset

    @property
    def fe_http(self): return self.port(80)
    @property
    def fe_https(self): return self.port(443)
    @property
    def fe_ext_http(self): return self.port(8080)
    @property
    def fe_ext_https(self): return self.port(4443)
    @property
    def rp_http(self): return self.port(80)
    @property
    def rp_https(self): return self.port(443)

    def suffix(self, port, default):
        return "" if port == default else f":{port}"

    @property
    def lyncdiscover(self): return f"lyncdiscover.{self.sip_domain}"
    @property
    def lyncdiscoverinternal(self): return f"lyncdiscoverinternal.{self.sip_domain}"

    @property
    def internal_base(self):
        return f"https://{self.pool}{self.suffix(self.fe_https, 443)}"

    @property
    def external_base(self):
        return f"https://{self.webext}{self.suffix(self.rp_https, 443)}"

    def hosts(self):
        """Name -> address, as the demo's hosts-file lines say."""
        return {
            self.pool: self.fe_addr,
            self.lyncdiscoverinternal: self.fe_addr,
            self.webext: self.rp_addr,
            self.lyncdiscover: self.rp_addr,
        }

    def hosts_outside(self):
        """What the public DNS zone holds: the reverse proxy's names only."""
        return {self.webext: self.rp_addr, self.lyncdiscover: self.rp_addr}

    def write_hosts(self, state):
        """hosts.inside and hosts.outside in state: the two views of split-brain DNS, as
        hosts tables for mobility-check (--inside hosts:FILE, --outside hosts:FILE)."""
        for view, table in (("inside", self.hosts()), ("outside", self.hosts_outside())):
            (Path(state) / f"hosts.{view}").write_text(
                "".join(f"{addr} {name}\n" for name, addr in table.items()))

    def defines(self, state, local_pool=None):
        return {
            "SIP_DOMAIN": self.sip_domain,
            "POOL_FQDN": self.pool,
            "POOL2_FQDN": self.pool2,
            "WEBEXT_FQDN": self.webext,
            "WEBEXT2_FQDN": self.webext2,
            "SIP_EXTERNAL_FQDN": self.sip_external,
            "SITE_NAME": "Site1",
            "LOCAL_POOL": local_pool or self.pool,
            "POOL_INTERNAL_URL": self.internal_base,
            "POOL_EXTERNAL_URL": self.external_base,
            "POOL2_INTERNAL_URL": f"https://{self.pool2}{self.suffix(self.fe_https, 443)}",
            "POOL2_EXTERNAL_URL": f"https://{self.webext2}{self.suffix(self.rp_https, 443)}",
            "MCX": self.mcx,
            "FE_ADDR": self.fe_addr,
            "RP_ADDR": self.rp_addr,
            "FE_EXTERNAL_BACKEND": self.fe_addr,
            "FE_HTTP_PORT": str(self.fe_http),
            "FE_HTTPS_PORT": str(self.fe_https),
            "FE_EXT_HTTP_PORT": str(self.fe_ext_http),
            "FE_EXT_HTTPS_PORT": str(self.fe_ext_https),
            "RP_HTTP_PORT": str(self.rp_http),
            "RP_HTTPS_PORT": str(self.rp_https),
            "MOBILITY_STATE": str(state),
            "MOBILITY_HTDOCS": str(REPO / "htdocs"),
        }


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def make_pki(state: Path, topo: Topology):
    """A demo CA and one server certificate with every SAN the deployment needs."""
    pki = state / "pki"
    if (pki / "server.crt").exists():
        return pki
    pki.mkdir(parents=True, exist_ok=True)
    names = [topo.pool, topo.webext, topo.lyncdiscover, topo.lyncdiscoverinternal,
             topo.pool2, topo.webext2, topo.sip_external]
    ips = [topo.fe_addr, topo.rp_addr, *topo.extra_ips]
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{a}" for a in ips])
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "3650", "-subj", "/CN=Mobility Demo CA",
         "-keyout", pki / "ca.key", "-out", pki / "ca.crt",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", f"/CN={topo.pool}", "-keyout", pki / "server.key", "-out", pki / "server.csr"])
    ext = pki / "server.ext"
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                   "basicConstraints=CA:FALSE\n")
    run(["openssl", "x509", "-req", "-in", pki / "server.csr", "-CA", pki / "ca.crt",
         "-CAkey", pki / "ca.key", "-CAcreateserial", "-days", "825", "-extfile", ext,
         "-out", pki / "server.crt"])
    for f in pki.iterdir():
        f.chmod(0o600 if f.suffix == ".key" else 0o644)
    return pki


# What the directory says of the demo users beyond users(): title, department, office,
# company, e-mail, phones, a photo (shade of the generated picture, None: no photo) and
# whether the address book hides them. Read by mod_ucwa's people resources through the
# DBDPrepareSQL statements of conf.d/sites/directory-sqlite.conf.
DIRECTORY_DETAILS = {
    "alice@contoso.test": dict(title="Product Manager", department="Sales & Marketing",
                               office="20/2107", company="Contoso",
                               email="alice.anderson@contoso.test",
                               work_phone="tel:+14255550101", mobile_phone="tel:+14255550111",
                               photo=(205, 90)),
    "bob@contoso.test": dict(title="Software Engineer", department="Engineering",
                             office="31/1120", company="Contoso", email="bob.brown@contoso.test",
                             work_phone="tel:+14255550102", photo=(170, 60)),
    "carol@contoso.test": dict(title="Engineering Manager", department="Engineering",
                               office="40/3105", company="Contoso",
                               email="carol.clark@contoso.test", work_phone="tel:+14255550103"),
}
DETAIL_COLUMNS = ("title", "department", "office", "company", "email", "work_phone",
                  "mobile_phone", "home_phone")


def photo_jpeg(background, figure, size=48):
    """A head-and-shoulders silhouette as a baseline greyscale JPEG (our own small encoder:
    8x8 DCT, a flat-ish quantisation table, fixed-length Huffman codes)."""
    import math
    zz = []
    for d in range(15):
        cells = [(i, d - i) for i in range(8) if 0 <= d - i < 8]
        zz += cells if d % 2 else [(b, a) for a, b in cells]
    quant = [[min(255, 6 + 3 * (u + v)) for v in range(8)] for u in range(8)]
    cos = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
    c = size / 2
    pix = [[figure if ((x + .5 - c) ** 2 + (y + .5 - size * .38) ** 2 <= (size * .19) ** 2
                       or ((x + .5 - c) / (size * .36)) ** 2
                       + ((y + .5 - size * 1.02) / (size * .42)) ** 2 <= 1) else background
            for x in range(size)] for y in range(size)]

    def bits_of(v):
        n = abs(v).bit_length()
        return n, (v if v >= 0 else v + (1 << n) - 1)
    symbols, prev = [], 0          # (table, symbol, extra bits value, extra bits length)
    for by in range(0, size, 8):
        for bx in range(0, size, 8):
            blk = [[pix[by + y][bx + x] - 128 for x in range(8)] for y in range(8)]
            coef = []
            for u, v in zz:
                s = sum(blk[y][x] * cos[u][y] * cos[v][x] for y in range(8) for x in range(8))
                s *= 0.25 * (math.sqrt(.5) if u == 0 else 1) * (math.sqrt(.5) if v == 0 else 1)
                coef.append(int(round(s / quant[u][v])))
            n, extra = bits_of(coef[0] - prev)
            prev = coef[0]
            symbols.append((0, n, extra, n))
            last = max([i for i in range(1, 64) if coef[i]] or [0])
            run = 0
            for i in range(1, last + 1):
                if not coef[i]:
                    run += 1
                    continue
                while run > 15:
                    symbols.append((1, 0xF0, 0, 0))
                    run -= 16
                n, extra = bits_of(coef[i])
                symbols.append((1, (run << 4) | n, extra, n))
                run = 0
            if last < 63:
                symbols.append((1, 0, 0, 0))
    tables = []
    for t in (0, 1):
        used = sorted({s for tt, s, _, _ in symbols if tt == t})
        length = max(1, len(used).bit_length())       # 2**length > len(used): no all-ones code
        tables.append((used, length, {s: i for i, s in enumerate(used)}))
    data, acc, nacc = bytearray(), 0, 0

    def put(v, n):
        nonlocal acc, nacc
        for k in range(n - 1, -1, -1):
            acc, nacc = (acc << 1) | ((v >> k) & 1), nacc + 1
            if nacc == 8:
                data.append(acc)
                if acc == 0xFF:
                    data.append(0)
                acc, nacc = 0, 0
    for t, sym, extra, n in symbols:
        put(tables[t][2][sym], tables[t][1])
        put(extra, n)
    if nacc:
        put((1 << (8 - nacc)) - 1, 8 - nacc)

    def seg(marker, payload):
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
    out = bytearray(b"\xff\xd8")
    out += seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += seg(0xDB, bytes([0]) + bytes(quant[u][v] for u, v in zz))
    out += seg(0xC0, bytes([8]) + size.to_bytes(2, "big") * 2 + bytes([1, 1, 0x11, 0]))
    for t, cls in ((0, 0x00), (1, 0x10)):
        used, length, _ = tables[t]
        counts = [0] * 16
        counts[length - 1] = len(used)
        out += seg(0xC4, bytes([cls]) + bytes(counts) + bytes(used))
    out += seg(0xDA, bytes([1, 1, 0, 0, 63, 0])) + data + b"\xff\xd9"
    return bytes(out)


def _directory_owner():
    """The user and group the children run as (User/Group in Apache.write_config), or None
    when not root (the children then run as this user)."""
    if os.geteuid() != 0:
        return None
    import grp
    import pwd
    return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid


def make_directory(state: Path, topo: Topology):
    """The SQLite directory: demo users, bcrypt password hashes (htpasswd), home pools,
    and their details (user_details). mod_ucwa keeps contact lists in the same file and
    creates its tables itself, so the child processes (User nobody) write to it: the file
    lives in state/directory/, the one directory they may write to (SQLite puts its
    journal beside the file), and state/directory.db links to it. state/ itself, the
    token key and the private keys stay root's. An older state (directory.db a plain file)
    is moved to this layout and given the details it lacks."""
    import base64
    link = state / "directory.db"
    ddir = state / "directory"
    db = ddir / "directory.db"
    ddir.mkdir(exist_ok=True)
    if link.exists() and not link.is_symlink():
        shutil.move(str(link), str(db))
    if not db.exists():
        tmp = ddir / "directory.db.new"
        tmp.unlink(missing_ok=True)
        con = sqlite3.connect(tmp)
        con.executescript("""
            CREATE TABLE users (
                sip_uri      TEXT PRIMARY KEY,
                password     TEXT NOT NULL,
                home_pool    TEXT NOT NULL,
                display_name TEXT,
                policy_tag   TEXT
            );""")
        for uri, (pool, name) in topo.users.items():
            line = run(["htpasswd", "-nbB", "-C", "5", uri, DEMO_PASSWORD]).stdout.strip()
            con.execute("INSERT INTO users VALUES (?, ?, ?, ?, NULL)",
                        (uri, line.split(":", 1)[1], pool, name))
        con.commit()
        con.close()
        tmp.rename(db)
    con = sqlite3.connect(db)
    if not con.execute("SELECT name FROM sqlite_master WHERE name = 'user_details'").fetchone():
        con.executescript("""
            CREATE TABLE user_details (
                sip_uri      TEXT PRIMARY KEY,
                title        TEXT,
                department   TEXT,
                office       TEXT,
                company      TEXT,
                email        TEXT,
                work_phone   TEXT,
                mobile_phone TEXT,
                home_phone   TEXT,
                photo        TEXT,              -- base64 of a JPEG image
                hidden       INTEGER NOT NULL DEFAULT 0
            );""")
        for uri, d in DIRECTORY_DETAILS.items():
            photo = d.get("photo")
            con.execute(
                f"INSERT INTO user_details (sip_uri, {', '.join(DETAIL_COLUMNS)}, photo) "
                f"VALUES (?{', ?' * len(DETAIL_COLUMNS)}, ?)",
                (uri, *[d.get(c) for c in DETAIL_COLUMNS],
                 base64.b64encode(photo_jpeg(*photo)).decode() if photo else None))
        con.commit()
    con.close()
    if not link.is_symlink():
        link.symlink_to(Path("directory") / "directory.db")
    owner = _directory_owner()
    for f in ddir.iterdir():
        if owner:
            os.chown(f, *owner)
        f.chmod(0o600)
    if owner:
        os.chown(ddir, *owner)
    ddir.chmod(0o700)
    return link


# Enterprise Voice in the demo (README "Enterprise Voice"): a global dial plan (Redmond's
# four-digit extensions), voice policy and one route, so that the demo users can forward
# calls. mod_ucwa makes the tables at its first start: run this after it; rows already
# there (the admin's own) are left as they are. SQLite 3.24+ and PostgreSQL alike.
DEMO_VOICE_SQL = r"""
INSERT INTO ucwa_dial_plans (identity, description) VALUES ('Global', 'demo: Redmond')
    ON CONFLICT DO NOTHING;
INSERT INTO ucwa_dial_plan_rules VALUES ('Global', 'Redmond 4 digit', 1, '^(\d{4})$',
    '+1425555$1') ON CONFLICT DO NOTHING;
INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, 'demo') ON CONFLICT DO NOTHING;
INSERT INTO ucwa_voice_routes VALUES ('Redmond', 1, '^\+1425\d{7}$', 'Local',
    'gw1.contoso.test', 'demo: no gateway runs') ON CONFLICT DO NOTHING;
"""


def seed_demo_voice(state: Path):
    """DEMO_VOICE_SQL into the state's SQLite directory (the demo's single Front End):
    False when mod_ucwa has not made its tables yet. Best before the Front End starts (a
    child preparing mod_dbd's statements while another process commits logs AH00632, and
    mod_dbd tries again later): the demo's first run starts its Front End once to make
    the tables, stops it and seeds."""
    con = sqlite3.connect(Path(state) / "directory.db")
    try:
        if not con.execute("SELECT name FROM sqlite_master WHERE name = 'ucwa_voice_routes'") \
                .fetchone():
            return False
        con.executescript(DEMO_VOICE_SQL)
        con.commit()
        return True
    finally:
        con.close()


def make_state(state: Path, topo: Topology):
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    make_pki(state, topo)
    make_directory(state, topo)
    key = state / "token.key"
    if not key.exists():
        key.write_bytes(os.urandom(32))
        key.chmod(0o600)
    return state


# --- demo sizing for load (DEMO_DEVICES=N ./apxs-build.sh run, bench/bench_devices.py) ---

GENERATED_USER = "user{:05d}@contoso.test"   # user00001@contoso.test ... (demo password)


def add_generated_users(state: Path, n: int):
    """n more users in the demo directory, homed on pool01, with the demo password:
    user00001@contoso.test to GENERATED_USER.format(n). Kept between runs; one bcrypt
    hash (htpasswd, as for the named users) serves them all."""
    db = state / "directory" / "directory.db"
    con = sqlite3.connect(db)
    have = con.execute("SELECT COUNT(*) FROM users WHERE sip_uri LIKE 'user%@contoso.test'"
                       ).fetchone()[0]
    if have < n:
        line = run(["htpasswd", "-nbB", "-C", "5", "user", DEMO_PASSWORD]).stdout.strip()
        pw = line.split(":", 1)[1]
        con.executemany("INSERT OR IGNORE INTO users VALUES (?, ?, 'pool01.contoso.test', ?, NULL)",
                        [(GENERATED_USER.format(i), pw, f"User {i:05d}")
                         for i in range(1, n + 1)])
        con.commit()
    con.close()


@dataclass
class Sizing:
    """Event-MPM and store sizes for a number of devices, by conf.d/mpm-mobility.conf's
    arithmetic: one parked worker per device, about twice the devices as parking capacity
    (children x UcwaMaxParkedPerChild), ThreadsPerChild - 64 parked per child, a
    listening socket per CPU (SO_REUSEPORT) so that new connections are spread over the
    children, UcwaMaxApplications = devices + 25%, UcwaMaxParkedPerUser 4."""
    devices: int
    servers: int
    threads: int
    cap: int
    apps: int

    def extra(self):
        return "\n".join([
            "MaxConnectionsPerChild 0",
            "ListenCoresBucketsRatio 1",
            "<IfModule ucwa_module>",
            f"    UcwaMaxApplications {self.apps}",
            f"    UcwaMaxParkedPerChild {self.cap}",
            "    UcwaMaxParkedPerUser 4",
            "</IfModule>"])


def sizing_for(devices: int) -> Sizing:
    """The 1,000-device profile of conf.d/mpm-mobility.conf up to 1,000 devices, the
    6,660 one up to 6,660, and more children of 2,000 threads beyond."""
    threads = 600 if devices <= 1000 else 2000
    cap = threads - 64
    servers = max(4 if devices <= 1000 else 7, -(-2 * devices // cap))
    return Sizing(devices, servers, threads, cap, max(1250, -(-devices * 5 // 4)))


FE_MODULES = ["authz_core", "authz_host", "authn_core", "authn_dbd", "dbd", "ssl", "socache_shmcb",
              "mime", "alias", "dir", "remoteip", "headers", "status", "reqtimeout"]
RP_MODULES = ["authz_core", "proxy", "proxy_http", "ssl", "socache_shmcb", "mime", "headers", "env",
              "reqtimeout"]
# What admins install on every host (a2enconf): the slow-client bounds. Every instance
# (demo, tests, benchmarks) loads it, so they run what admins run.
HARDENING = REPO / "conf.d" / "mobility-hardening.conf"
OUR_MODULES = ["autodiscover", "ucwa", "mcx"]


def module_path(name):
    """Our modules from the apxs build directory, the others from Debian's apache2."""
    if name in OUR_MODULES:
        p = REPO / f"mod_{name}" / ".libs" / f"mod_{name}.so"
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run ./apxs-build.sh build")
        return p
    return SYS_MODULES / f"mod_{name}.so"


class Apache:
    """One private httpd: its own ServerRoot, config, pid file and logs."""

    def __init__(self, root: Path, name: str, modules, listens, body, defines=None,
                 mpm="event", servers=2, threads=25, log_level="info"):
        self.root = Path(root)
        self.name = name
        self.modules = modules
        self.listens = listens
        self.body = body
        self.defines = defines or {}
        self.mpm = mpm
        self.servers = servers
        self.threads = threads
        self.log_level = log_level
        self.proc = None

    @property
    def conf(self): return self.root / "conf" / "httpd.conf"
    @property
    def error_log(self): return self.root / "logs" / "error.log"
    @property
    def pid_file(self): return self.root / "run" / "httpd.pid"

    def write_config(self):
        for d in ("conf", "logs", "run"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        (self.root / "logs").chmod(0o777)
        lines = [f'ServerRoot "{self.root}"', f"ServerName {self.name}",
                 f'PidFile "{self.pid_file}"', f'ErrorLog "{self.error_log}"',
                 f"LogLevel {self.log_level}", f'DefaultRuntimeDir "{self.root / "run"}"',
                 f'Mutex file:{self.root / "run"} default',
                 f"LoadModule mpm_{self.mpm}_module {SYS_MODULES}/mod_mpm_{self.mpm}.so"]
        for m in self.modules:
            lines.append(f"LoadModule {m}_module {module_path(m)}")
        if os.geteuid() == 0:
            lines += ["User nobody", "Group nogroup"]
        lines += ["TypesConfig /etc/mime.types",
                  f"StartServers {self.servers}", f"ServerLimit {self.servers * 4}",
                  f"ThreadsPerChild {self.threads}", f"ThreadLimit {self.threads}",
                  f"MaxRequestWorkers {self.servers * self.threads}",
                  f"MinSpareThreads {self.threads}", f"MaxSpareThreads {self.servers * self.threads}",
                  f'Include "{HARDENING}"',
                  # stop() is a graceful stop: bounded, so a stuck request cannot hang a test
                  "GracefulShutdownTimeout 10",
                  'LogFormat "%a %l %u %t \\"%r\\" %>s %b %D %P" timed',
                  f'CustomLog "{self.root / "logs" / "access.log"}" timed',
                  f'<Directory "{REPO / "htdocs"}">', "    Require all granted", "</Directory>"]
        if "ssl" in self.modules:
            lines.append(f'SSLSessionCache "shmcb:{self.root / "run" / "ssl_scache"}(512000)"')
        for k, v in self.defines.items():
            lines.append(f'Define {k} "{v}"')
        for addr, port, proto in self.listens:
            lines.append(f"Listen {addr}:{port} {proto}")
        lines.append(self.body)
        self.conf.write_text("\n".join(lines) + "\n")

    def cmd(self, *args):
        return [APACHE, "-d", str(self.root), "-f", str(self.conf), *args]

    def configtest(self):
        self.write_config()
        return subprocess.run(self.cmd("-t"), capture_output=True, text=True)

    def start(self, timeout=15):
        self.write_config()
        if self.error_log.exists():
            self.error_log.unlink()
        self.proc = subprocess.Popen(self.cmd("-DFOREGROUND"), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + timeout
        addr, port, _ = self.listens[0]
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read()
                raise RuntimeError(f"{self.name} did not start:\n{out}\n{self.log_text()}")
            # ready once the children run: the parent logs AH00489 after its second
            # configuration pass (the listeners are open already during the first)
            if "AH00489" in self.log_text():
                try:
                    socket.create_connection((addr, port), timeout=0.5).close()
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {addr}:{port}\n{self.log_text()}")

    def graceful(self):
        self.write_config()
        self.proc.send_signal(signal.SIGUSR1)

    def kill(self):
        """SIGKILL of the parent and its children at once, as a host dies (no goodbye to
        anyone); start() runs it again. The number of processes killed."""
        parent = self.proc.pid
        pids = [parent, *child_pids(parent)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc = None
        self.pid_file.unlink(missing_ok=True)
        return len(pids)

    def stop(self):
        """A graceful stop (apachectl graceful-stop): open connections finish, parked
        event requests answer at once. Not SIGTERM: mpm_event's ungraceful stop
        (httpd 2.4.71) now and then kills a child with SIGSEGV in apr_os_sock_get while
        connections are still open (1 to 3 times in 40 start/request/stop cycles here,
        with or without our modules in the request), which the log checks would report."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGWINCH)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None

    def log_text(self):
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""


def child_pids(parent):
    """PIDs of parent's live child processes (zombies are dead)."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == parent and fields[0] != "Z":
                kids.append(int(d.name))
    return kids


def sites_body(*names):
    return "\n".join(f'Include "{REPO / "conf.d" / "sites" / n}"' for n in names)


def front_end(root: Path, state: Path, topo: Topology, sites=("fe-internal.conf", "fe-external.conf"),
              local_pool=None, extra="", directory="directory-sqlite.conf", **kw):
    """The Front End (or, with director.conf, a Director) as an Apache instance. extra is
    config placed after the topology and directory, before the sites."""
    listens = [(topo.fe_addr, topo.fe_https, "https"), (topo.fe_addr, topo.fe_ext_https, "https")]
    if "fe-internal.conf" in sites:
        listens += [(topo.fe_addr, topo.fe_http, "http"), (topo.fe_addr, topo.fe_ext_http, "http")]
    body = "\n".join([sites_body("topology.conf", "mobility-policy.conf",
                                  *([directory] if directory else [])), extra,
                      sites_body(*sites)])
    return Apache(root, topo.pool, FE_MODULES + OUR_MODULES, listens, body,
                  topo.defines(state, local_pool), **kw)


def reverse_proxy(root: Path, state: Path, topo: Topology, **kw):
    listens = [(topo.rp_addr, topo.rp_https, "https"), (topo.rp_addr, topo.rp_http, "http")]
    return Apache(root, "rp." + topo.sip_domain, RP_MODULES, listens,
                  sites_body("reverse-proxy.conf"), topo.defines(state), **kw)


def free_offset(topo_addrs=("127.0.0.1", "127.0.0.2"), start=20000, step=500):
    """A port offset where every port of the deployment is free on both addresses."""
    bases = (80, 443, 8080, 4443)
    for offset in range(start, 60000 - 8080, step):
        ok = True
        for addr in topo_addrs:
            for b in bases:
                s = socket.socket()
                # as Apache binds: ports in TIME_WAIT from earlier tests are free
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((addr, b + offset))
                except OSError:
                    ok = False
                finally:
                    s.close()
        if ok:
            return offset
    raise RuntimeError("no free port range")


def clean(path: Path):
    if path.exists():
        shutil.rmtree(path)


class DemoRun:
    """The demo (test/demo.py run, as ./apxs-build.sh run starts it) in a child process
    with env added to this one's: start() waits for its banner, stop() sends SIGTERM
    (Ctrl-C) and returns its exit status; .text is what it printed."""

    def __init__(self, **env):
        import sys
        import threading
        self.env = dict(os.environ, **{k: str(v) for k, v in env.items()})
        self.argv = [sys.executable, str(REPO / "test" / "demo.py"), "run"]
        self.lines, self.running = [], threading.Event()
        self.proc = self.reader = None

    @property
    def text(self):
        return "".join(self.lines)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if "demo is running" in line:
                self.running.set()

    def start(self, timeout=60):
        import threading
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.running.wait(timeout):
            self.stop()
            raise RuntimeError("the demo did not start:\n" + self.text)
        return self

    def stop(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self.reader.join(10)
        return rc

