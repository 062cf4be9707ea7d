#!/usr/bin/env python3
"""Clang's -Wthread-safety analysis over every project source that uses absl::Mutex.

The build itself uses GCC; this runs clang in syntax-only mode with the build's own flags
(compile_commands.json), so ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED are checked in
CI. Usage: thread_safety_check.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import shlex
import subprocess
import sys


def project_text(path: str, source: str, seen: set) -> str:
    """The file's text followed by that of every project header it includes, transitively."""
    seen.add(path)
    text = open(path, encoding="utf-8").read()
    for line in text.splitlines():
        if line.startswith('#include "'):
            header = os.path.join(source, line.split('"')[1])
            if os.path.exists(header) and header not in seen:
                text += project_text(header, source, seen)
    return text


def main() -> int:
    build, source = sys.argv[1], os.path.realpath(sys.argv[2])
    commands = json.load(open(os.path.join(build, "compile_commands.json")))
    checked, failures = 0, []
    for entry in commands:
        path = os.path.realpath(entry["file"])
        if not path.startswith(source + os.sep) or "/gen/" in path:
            continue
        text = project_text(path, source, set())
        if "absl::Mutex" not in text and "ABSL_GUARDED_BY" not in text:
            continue
        args = shlex.split(entry["command"])
        cmd, skip = ["clang++"], False
        for arg in args[1:]:
            if skip:
                skip = False
            elif arg == "-o":
                skip = True
            else:
                cmd.append(arg)
        cmd += ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
                "-Wno-unknown-warning-option"]
        result = subprocess.run(cmd, cwd=entry["directory"], capture_output=True, text=True)
        checked += 1
        rel = os.path.relpath(path, source)
        if result.returncode != 0:
            failures.append(rel)
            print(f"FAIL {rel}\n{result.stderr}")
        else:
            print(f"ok   {rel}")
    print(f"{checked - len(failures)} passed, {len(failures)} failed")
    if checked == 0:
        print("no source uses absl::Mutex: the check found nothing to check")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
