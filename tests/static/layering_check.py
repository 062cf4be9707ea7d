#!/usr/bin/env python3
"""The module layering of DESIGN.md, checked on #include lines.

The link graph already keeps a module from calling code it may not depend on; headers are
not covered by it (every library exports the repository root as an include path), so this
test reads each source's project includes. Usage: layering_check.py SOURCE_DIR
"""
import os
import re
import sys

# module -> modules it may include (itself always allowed). Tests of a module may also use
# the fakes of the modules it depends on.
ALLOWED = {
    "common": set(),
    "authz": {"common"},
    "audit": {"common"},
    "connectors": {"common"},
    "gateway": {"common", "authz", "audit", "connectors"},
    "tools": {"common", "authz", "audit", "connectors", "gateway"},
    "tests": {"common", "authz", "audit", "connectors", "gateway", "tools"},
    "bench": {"common", "authz", "audit", "connectors", "gateway", "tools"},
    "fuzz": {"common", "authz", "audit", "connectors", "gateway", "tools"},
}
INCLUDE = re.compile(r'^#include "([a-z_]+)/')


def main() -> int:
    source = sys.argv[1]
    violations, checked = [], 0
    for module, allowed in ALLOWED.items():
        for root, _, files in os.walk(os.path.join(source, module)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(root, name)
                checked += 1
                for number, line in enumerate(open(path, encoding="utf-8"), 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    target = match.group(1)
                    if target in ALLOWED and target != module and target not in allowed:
                        rel = os.path.relpath(path, source)
                        violations.append(f"{rel}:{number}: {module} may not include {target}/")
    for v in violations:
        print(v)
    print(f"{checked - len(violations)} passed, {len(violations)} failed")
    if checked == 0:
        print("no source files found: wrong SOURCE_DIR?")
        return 1
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
