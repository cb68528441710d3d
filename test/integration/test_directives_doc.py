"""Every directive the modules register (their command_rec tables) is documented in
docs/directives.md the way the Apache module docs do it: a heading of its own
(`### Name` or, within a group such as the SIP side's, `#### Name`; `<Name>` for a
section) followed by the table of Description, Syntax,
Default, Context and Module, the module being the one whose table registers it. An admin
reading `apachectl -L` finds each name there. The SIP side's defaults are checked against
the code, as they are the values a deployment guide (docs/sip.md) builds on.
No Apache runs: the sources and the document are read."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "directives.md"
TABLE = re.compile(r"const\s+command_rec\s+\w+\[\]\s*=\s*\{(.*?)\n\};", re.S)
INIT = re.compile(r'AP_INIT_\w+\(\s*"(<?\w+)"')
FIELDS = ("Description", "Syntax", "Default", "Context", "Module")


def registered():
    """{directive name: module} of every command table in mod_*/*.c."""
    found = {}
    for src in sorted(REPO.glob("mod_*/*.c")):
        for table in TABLE.finditer(src.read_text()):
            for name in INIT.findall(table.group(1)):
                found[name.lstrip("<")] = src.parent.name
    return found


def sections():
    """{heading text: its body} of the document's ##, ### and #### sections."""
    out, name, body = {}, None, []
    for line in DOC.read_text().splitlines():
        m = re.match(r"#{2,4} (.*)", line)
        if m:
            if name is not None:
                out[name] = "\n".join(body)
            name, body = m.group(1).strip(), []
        elif name is not None:
            body.append(line)
    if name is not None:
        out[name] = "\n".join(body)
    return out


def fields_of(body):
    """{field: value} of the Apache-docs table at the top of a directive's section."""
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"^\| (\w+): \| (.*?) \|\s*$", body, re.M)}


def test_the_tables_are_read():
    names = registered()
    assert len(names) > 60, names
    assert names["UcwaSip"] == "mod_ucwa" and names["Mcx"] == "mod_mcx"
    assert names["AutodiscoverSipDomain"] == "mod_autodiscover"
    assert names["UcwaMobilityPolicy"] == "mod_ucwa"


def test_every_directive_has_its_apache_docs_section():
    docs = sections()
    problems = []
    for name, module in sorted(registered().items()):
        body = docs.get(name, docs.get(f"<{name}>"))
        if body is None:
            problems.append(f"{name}: no '### {name}' section")
            continue
        f = fields_of(body)
        missing = [k for k in FIELDS if not f.get(k)]
        if missing:
            problems.append(f"{name}: its table lacks {', '.join(missing)}")
        elif f["Module"] != module:
            problems.append(f"{name}: Module is {f['Module']}, registered by {module}")
        elif name not in f["Syntax"]:
            problems.append(f"{name}: its Syntax does not name it: {f['Syntax']}")
    assert not problems, "docs/directives.md:\n" + "\n".join(problems)


def test_sip_defaults_match_the_code():
    """UcwaSipListenAddress, UcwaSipExternalListeningPort, UcwaSipPrimaryListeningPort:
    the documented defaults are the ones ucwa_sip_conf_make() sets."""
    header = (REPO / "mod_ucwa" / "ucwa_sipd.h").read_text()
    ports = dict(re.findall(r"#define UCWA_SIP_PORT_(EXTERNAL|PRIMARY)\s+(\d+)", header))
    make = re.search(r"ucwa_sip_conf_make\(.*?\n\}", (REPO / "mod_ucwa" / "ucwa_sipd.c")
                     .read_text(), re.S).group(0)
    listen = re.search(r'c->listen = "([^"]+)"', make).group(1)
    docs = sections()
    expected = {"UcwaSipListenAddress": listen,
                "UcwaSipExternalListeningPort": ports["EXTERNAL"],
                "UcwaSipPrimaryListeningPort": ports["PRIMARY"],
                "UcwaSip": "Off"}
    for name, value in expected.items():
        default = fields_of(docs[name])["Default"]
        assert f"{name} {value}`" in default, f"{name}: documented {default}, code {value}"
