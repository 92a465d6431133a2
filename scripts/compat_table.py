"""Regenerate the compatibility table from the conformance suite.

    python scripts/compat_table.py

Runs ``tests/conformance`` (about ten seconds; real sockets, the simulated provider) and writes
its outcomes, feature by protocol, to ``docs/compatibility.md``, then copies the table into the
README between the ``compat:start`` / ``compat:end`` markers. Exits non-zero, writing nothing,
when the suite failed or did not run completely: the table only ever shows a real run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "compatibility.md"
README = ROOT / "README.md"
MARKERS = re.compile(r"(<!-- compat:start -->\n).*?(<!-- compat:end -->)", re.DOTALL)


def run_suite(target: Path) -> int:
    env = {**os.environ, "POINTSMAN_COMPAT_TABLE": str(target)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/conformance",
        # the check that the published table is current would judge the old table
        "--ignore=tests/conformance/test_table.py",
    ]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def embed(table: str) -> None:
    """Copy the tables (without the page's own title) into the README's marked section."""
    body = table.split("\n", 1)[1].strip()
    body = body.replace("\n## ", "\n#### ")  # nest under the README's own headings
    text = README.read_text(encoding="utf-8")
    if not MARKERS.search(text):
        print("README.md has no compat:start/compat:end markers; left as it is")
        return
    README.write_text(MARKERS.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text), "utf-8")


def main() -> int:
    fresh = TABLE.with_suffix(".md.new")
    fresh.unlink(missing_ok=True)
    status = run_suite(fresh)
    if status != 0 or not fresh.exists():
        fresh.unlink(missing_ok=True)
        print("conformance suite failed or incomplete: docs/compatibility.md not updated")
        return status or 1
    fresh.replace(TABLE)
    embed(TABLE.read_text(encoding="utf-8"))
    print(f"wrote {TABLE.relative_to(ROOT)} and the README's compatibility section")
    return 0


if __name__ == "__main__":
    sys.exit(main())
