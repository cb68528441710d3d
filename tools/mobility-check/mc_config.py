"""Reads the running Apache configuration the way httpd does: `apache2 -t` tells the
Defines in force, the loaded modules and the virtual hosts (address, port, file:line);
the files are then read from the main one through its Includes, ${VAR}s resolved,
<IfModule>/<IfDefine> decided, so our directives are seen as the server sees them."""
import glob
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

APACHE = os.environ.get("MOBILITY_CHECK_APACHE", "/usr/sbin/apache2")
ENVVARS = "/etc/apache2/envvars"


class ConfigError(Exception):
    pass


@dataclass
class Directive:
    name: str
    args: list
    file: str
    line: int
    children: list = None          # a section (<VirtualHost>, <Proxy>, ...) when not None

    @property
    def where(self):
        return f"{self.file}:{self.line}"


@dataclass
class VHost:
    addr: str
    port: int
    file: str
    line: int
    directives: list = field(default_factory=list)

    def all(self, name):
        name = name.lower()
        return [d for d in walk(self.directives) if d.name.lower() == name]

    def first(self, name, default=None):
        found = self.all(name)
        return found[-1].args if found else default

    def value(self, name, default=None):
        a = self.first(name)
        return a[0] if a else default

    def on(self, name):
        return (self.value(name, "off") or "off").lower() in ("on", "true", "1", "yes")

    @property
    def names(self):
        out = []
        if self.value("ServerName"):
            out.append(self.value("ServerName").split(":")[0].lower())
        for d in self.all("ServerAlias"):
            out += [a.lower() for a in d.args]
        return out

    @property
    def ssl(self):
        return self.on("SSLEngine")

    @property
    def where(self):
        return f"{self.file}:{self.line}"


def walk(directives):
    for d in directives:
        yield d
        if d.children is not None and d.name.lower() not in ("virtualhost",):
            yield from walk(d.children)


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(\S+)')


def split_args(text):
    out = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(re.sub(r'\\(["\\])', r"\1", m.group(1)))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(m.group(3))
    return out


class Reader:
    def __init__(self, server_root, defines, modules):
        self.server_root = server_root
        self.defines = dict(defines)
        self.modules = modules

    def subst(self, text):
        def rep(m):
            return self.defines.get(m.group(1), m.group(0))
        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", rep, text)

    def module_loaded(self, arg):
        neg = arg.startswith("!")
        name = arg.lstrip("!")
        if name.endswith(".c"):
            ident = name[:-2]
            ident = (ident[4:] if ident.startswith("mod_") else ident) + "_module"
        else:
            ident = name
        return (ident in self.modules) != neg

    def lines(self, path):
        """(line number, text) of logical lines (continuations joined)."""
        buf, start = "", 0
        for n, raw in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
            s = raw.strip()
            if not buf and (not s or s.startswith("#")):
                continue
            if not buf:
                start = n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            yield start, buf + s
            buf = ""
        if buf:
            yield start, buf

    def read(self, path):
        stack = [[]]
        names = []
        for n, text in self.lines(path):
            if text.startswith("</"):
                if len(stack) > 1:
                    sec = names.pop()
                    body = stack.pop()
                    sec.children = body
                    self.close(sec, stack[-1])
                continue
            if text.startswith("<"):
                inner = text[1:].rstrip(">").strip()
                parts = inner.split(None, 1)
                d = Directive(parts[0], split_args(self.subst(parts[1] if len(parts) > 1 else "")),
                              str(path), n)
                names.append(d)
                stack.append([])
                continue
            parts = text.split(None, 1)
            name = parts[0]
            rest = self.subst(parts[1]) if len(parts) > 1 else ""
            args = split_args(rest)
            if name.lower() == "define" and args:
                self.defines[args[0]] = args[1] if len(args) > 1 else ""
            if name.lower() in ("include", "includeoptional") and args:
                pattern = args[0]
                if not os.path.isabs(pattern):
                    pattern = os.path.join(self.server_root, pattern)
                files = sorted(glob.glob(pattern))
                for f in files:
                    if os.path.isdir(f):
                        continue
                    stack[-1].extend(self.read(f))
                continue
            stack[-1].append(Directive(name, args, str(path), n))
        return stack[0]

    def close(self, sec, into):
        low = sec.name.lower()
        arg = sec.args[0] if sec.args else ""
        if low == "ifmodule":
            if self.module_loaded(arg):
                into.extend(sec.children)
        elif low == "ifdefine":
            neg = arg.startswith("!")
            if (arg.lstrip("!") in self.defines) != neg:
                into.extend(sec.children)
        else:
            into.append(sec)


@dataclass
class Config:
    path: str
    server_root: str
    defines: dict
    modules: set
    directives: list
    vhosts: list

    def all(self, name):
        """Directives outside <VirtualHost> (and outside <Location>-like sections)."""
        name = name.lower()
        return [d for d in walk(self.directives) if d.name.lower() == name]

    def value(self, name, default=None):
        found = self.all(name)
        return found[-1].args[0] if found and found[-1].args else default

    def sections(self, name):
        return [d for d in walk(self.directives) if d.name.lower() == name.lower()
                and d.children is not None]

    def vhost_for(self, name, port=None, ssl=None):
        for v in self.vhosts:
            if name.lower() in v.names and (port is None or v.port == port) \
                    and (ssl is None or v.ssl == ssl):
                return v
        return None


def apache_dump(conf, server_root=None):
    cmd = [APACHE, "-f", str(conf), "-t", "-D", "DUMP_VHOSTS", "-D", "DUMP_RUN_CFG",
           "-D", "DUMP_MODULES"]
    if server_root:
        cmd[1:1] = ["-d", str(server_root)]
    env = dict(os.environ)
    if os.path.exists(ENVVARS) and "${APACHE_" in Path(conf).read_text(errors="replace"):
        # Debian's apache2.conf reads its variables from envvars, as apachectl does
        out = subprocess.run(["sh", "-c", f". {ENVVARS} && env -0"], capture_output=True)
        for item in out.stdout.split(b"\0"):
            if b"=" in item:
                k, v = item.decode(errors="replace").split("=", 1)
                env[k] = v
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise ConfigError(f"{' '.join(cmd)} failed:\n{(p.stderr or p.stdout).strip()}")
    return p.stdout + p.stderr, env


def load(conf, server_root=None):
    conf = os.path.abspath(conf)
    if not os.path.exists(conf):
        raise ConfigError(f"{conf}: no such file")
    out, env = apache_dump(conf, server_root)
    defines, modules, vhosts = {}, set(), []
    root = server_root
    vh = re.compile(r"^\s*(?:port\s+)?(\S+?):(\d+)\s+(?:is a NameVirtualHost|\S+)\s*\((.+):(\d+)\)")
    vh2 = re.compile(r"^\s*(?:default server|port \d+ namevhost)\s+\S+\s+\((.+):(\d+)\)")
    addr_of_block = {}
    current = None
    for line in out.splitlines():
        m = re.match(r"Define: ([^=]+)(?:=(.*))?$", line)
        if m:
            defines[m.group(1)] = m.group(2) or ""
            continue
        m = re.match(r'ServerRoot: "(.*)"', line)
        if m:
            root = m.group(1)
            continue
        m = re.match(r"\s+(\S+_module) \((static|shared)\)", line)
        if m:
            modules.add(m.group(1))
            continue
        m = re.match(r"^(\S+):(\d+)\s+is a NameVirtualHost", line)
        if m:
            current = (m.group(1), int(m.group(2)))
            continue
        m = vh2.match(line)
        if m and current:
            addr_of_block[(m.group(1), int(m.group(2)))] = current
            continue
        m = vh.match(line)
        if m:
            addr_of_block[(m.group(3), int(m.group(4)))] = (m.group(1), int(m.group(2)))
            current = None
    root = root or "/etc/apache2"
    env_defines = {k: v for k, v in env.items() if k.startswith("APACHE_")}
    reader = Reader(root, {**env_defines, **defines}, modules)
    directives = reader.read(conf)
    for d in walk_all(directives):
        if d.name.lower() == "virtualhost" and d.children is not None:
            key = (d.file, d.line)
            if key in addr_of_block:
                addr, port = addr_of_block[key]
            else:
                a = d.args[0] if d.args else "*:80"
                addr, _, p = a.rpartition(":")
                addr, port = addr or a, int(p) if p.isdigit() else 80
            vhosts.append(VHost(addr, port, d.file, d.line, d.children))
    top = [d for d in directives if d.name.lower() != "virtualhost"]
    return Config(conf, root, reader.defines, modules, top, vhosts)


def walk_all(directives):
    for d in directives:
        yield d
        if d.children is not None:
            yield from walk_all(d.children)
