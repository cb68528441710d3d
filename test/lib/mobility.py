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
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{topo.fe_addr}", f"IP:{topo.rp_addr}"])
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


def make_directory(state: Path, topo: Topology):
    """The SQLite directory: demo users, bcrypt password hashes (htpasswd), home pools."""
    db = state / "directory.db"
    if db.exists():
        return db
    tmp = state / "directory.db.new"
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
    db.chmod(0o644)
    return db


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


FE_MODULES = ["authz_core", "authz_host", "authn_core", "authn_dbd", "dbd", "ssl", "socache_shmcb",
              "mime", "alias", "dir", "remoteip", "headers", "status"]
RP_MODULES = ["authz_core", "proxy", "proxy_http", "ssl", "socache_shmcb", "mime", "headers"]
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
                  "KeepAliveTimeout 5",
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

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""


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
