"""Findings and the two renderings of the report: text for a person, JSON for a program."""
import json
import textwrap
from dataclasses import asdict, dataclass, field

PROBLEM, NOTICE = "problem", "notice"


@dataclass
class Finding:
    check: str              # stable id, e.g. cert.san-missing
    severity: str           # problem (exit 1) or notice (reported, exit 0)
    subject: str            # what it is about: a name, a pool, a file:line
    what: str
    why: str
    fix: str


@dataclass
class Step:
    """One hop of the client path or the synthetic transaction, with its time."""
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Report:
    config: str
    role: str = ""
    findings: list = field(default_factory=list)
    passed: list = field(default_factory=list)      # (check, subject, what)
    skipped: list = field(default_factory=list)     # (check, why)
    steps: dict = field(default_factory=dict)       # section -> [Step]
    policy: dict = None

    def problem(self, check, subject, what, why, fix):
        self.findings.append(Finding(check, PROBLEM, subject, what, why, fix))

    def notice(self, check, subject, what, why, fix):
        self.findings.append(Finding(check, NOTICE, subject, what, why, fix))

    def ok(self, check, subject, what):
        self.passed.append((check, subject, what))

    def skip(self, check, why):
        self.skipped.append((check, why))

    @property
    def problems(self):
        return [f for f in self.findings if f.severity == PROBLEM]

    def exit_status(self):
        return 1 if self.problems else 0

    def to_json(self):
        return json.dumps({
            "config": self.config, "role": self.role,
            "result": "problems" if self.problems else "ok",
            "findings": [asdict(f) for f in self.findings],
            "passed": [dict(check=c, subject=s, what=w) for c, s, w in self.passed],
            "skipped": [dict(check=c, why=w) for c, w in self.skipped],
            "steps": {k: [dict(asdict(s), seconds=round(s.seconds, 3)) for s in v]
                      for k, v in self.steps.items()},
            "policy": self.policy,
        }, indent=2)

    def to_text(self, verbose=False):
        w = textwrap.TextWrapper(width=96, subsequent_indent=" " * 9, break_on_hyphens=False)
        out = [f"mobility-check: {self.config}" + (f" ({self.role})" if self.role else ""), ""]
        for f in sorted(self.findings, key=lambda f: f.severity != PROBLEM):
            out.append(f"{f.severity.upper():8} {f.check}  {f.subject}")
            for label, text in (("What", f.what), ("Why", f.why), ("Fix", f.fix)):
                out.append(w.fill(f"  {label + ':':6} {text}"))
            out.append("")
        for section, steps in self.steps.items():
            out.append(f"{section}:")
            for s in steps:
                mark = "ok  " if s.ok else "FAIL"
                out.append(f"  {mark} {s.seconds * 1000:7.0f} ms  {s.name}"
                           + (f"  ({s.detail})" if s.detail else ""))
            out.append("")
        if self.policy:
            p = self.policy
            out.append(f"Mobility policy of {p['user']}: {p['policy']} ({p['scope']}: {p['why']})")
            out.append(textwrap.fill(", ".join(f"{k} {v}" for k, v in p["parameters"].items()),
                                     width=96, initial_indent="  ", subsequent_indent="  "))
            out.append("")
        if verbose:
            for c, s, what in self.passed:
                out.append(f"ok       {c}  {s}: {what}")
            out.append("")
        for c, why in self.skipped:
            out.append(f"not checked  {c}: {why}")
        if self.skipped:
            out.append("")
        n, m = len(self.problems), len(self.findings) - len(self.problems)
        out.append(f"Result: {n} problem{'s' if n != 1 else ''}, {m} notice{'s' if m != 1 else ''}, "
                   f"{len(self.passed)} checks passed"
                   + ("" if verbose else " (--verbose lists them)"))
        return "\n".join(out)
