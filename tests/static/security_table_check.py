#!/usr/bin/env python3
"""docs/security.md's security test table names tests that exist.

Every row of the table under "## Security test table" names, in its third column, the ctest
test that tries the attack (first name in backticks). This fails if a row names a test the
build does not register (renamed, deleted, or never written), or if the table has fewer than
25 rows. Usage: security_table_check.py BUILD_DIR SOURCE_DIR
"""
import os
import re
import subprocess
import sys


def main() -> int:
    build, source = sys.argv[1], sys.argv[2]
    doc = os.path.join(source, "docs", "security.md")
    text = open(doc, encoding="utf-8").read()
    if "## Security test table" not in text:
        print(f"{doc}: no '## Security test table' section")
        return 1
    table = text.split("## Security test table", 1)[1].split("\n## ", 1)[0]
    rows = []
    for number, line in enumerate(table.splitlines()):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].isdigit():
            continue
        names = re.findall(r"`([^`]+)`", cells[2])
        if not names:
            print(f"{doc}: row {cells[0]} names no test in backticks: {line}")
            return 1
        rows.append((cells[0], names[0]))
    listing = subprocess.run(["ctest", "-N"], cwd=build, capture_output=True, text=True,
                             check=True).stdout
    registered = set(re.findall(r"Test +#\d+: (\S+)", listing))
    missing = [(row, name) for row, name in rows if name not in registered]
    for row, name in missing:
        print(f"{doc}: row {row} names {name}, which is not a test of this build")
    if len(rows) < 25:
        print(f"{doc}: {len(rows)} rows; the table must have at least 25")
        return 1
    if missing:
        return 1
    print(f"{len(rows)} rows, each naming a registered test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
