"""Every log line of our modules carries the module's own tag (AD, UCWA, MCX + a number),
and no number is used twice, so an admin can grep a message to its one source line."""
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CALL = re.compile(r"ap_log_(?:r|c|p|)error\s*\((.*?)\);", re.S)
TAG = re.compile(r"\b(ADLOGNO|UCWALOGNO|MCXLOGNO)\((\d{5})\)")


def calls():
    for src in sorted(REPO.glob("mod_*/*.c")):
        for m in CALL.finditer(src.read_text()):
            yield src, m.group(1)


def test_every_log_call_is_tagged():
    untagged = [f"{src.name}: {args[:80]}" for src, args in calls() if not TAG.search(args)]
    assert not untagged, "log calls without a tag:\n" + "\n".join(untagged)
    assert sum(1 for _ in calls()) > 20


def test_no_tag_is_used_twice():
    tags = Counter(TAG.search(args).groups() for _, args in calls() if TAG.search(args))
    assert [t for t, n in tags.items() if n > 1] == []
