#!/usr/bin/env python3
"""Fails when a test file's CHECK is glog's instead of Catch's.

Preprocesses every test translation unit of compile_commands.json (in the
build directory given) and looks, in the lines that come from the tests/
tree, for glog's CHECK expansion (google::LogMessageFatal). Debian's LibTorch
includes glog, whose CHECK replaces Catch's when c10's logging header comes
after catch2/catch.hpp; tests/catch_with_libtorch.h explains the fix.

Usage: check_catch_assertions.py BUILD_DIR SOURCE_DIR
"""
import concurrent.futures
import functools
import json
import os
import re
import shlex
import subprocess
import sys

LINE_MARKER = re.compile(r'# \d+ "([^"]+)"')
real_path = functools.lru_cache(maxsize=None)(os.path.realpath)


def preprocess_command(entry):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    kept, skip_next = [], False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg == "-o":
            skip_next = True
        elif arg != "-c":
            kept.append(arg)
    return kept + ["-E", "-w"]


def glog_checks_in(entry, tests_dir):
    """Returns (file, number of glog CHECK expansions in tests/ lines) or an error string."""
    result = subprocess.run(preprocess_command(entry), cwd=entry["directory"], capture_output=True, text=True)
    if result.returncode != 0:
        return entry["file"], f"preprocessing failed: {result.stderr[:500]}"
    current, count = None, 0
    for line in result.stdout.splitlines():
        if line.startswith("# "):
            marker = LINE_MARKER.match(line)
            if marker:
                current = real_path(marker.group(1)) if not marker.group(1).startswith("<") else None
            continue
        if current and current.startswith(tests_dir) and "LogMessageFatal" in line:
            count += line.count("LogMessageFatal")
    return entry["file"], count


def main():
    build_dir, source_dir = sys.argv[1], os.path.realpath(sys.argv[2])
    tests_dir = os.path.join(source_dir, "tests") + os.sep
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = [e for e in json.load(f) if os.path.realpath(e["file"]).startswith(tests_dir)]
    unique = {os.path.realpath(e["file"]): e for e in entries}
    if not unique:
        print(f"no test sources under {tests_dir} in {build_dir}/compile_commands.json")
        return 1
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, outcome in pool.map(lambda e: glog_checks_in(e, tests_dir), unique.values()):
            if isinstance(outcome, str):
                failures.append(f"{path}: {outcome}")
            elif outcome:
                failures.append(f"{path}: {outcome} CHECKs expand to glog's (google::LogMessageFatal); "
                                "include tests/catch_with_libtorch.h before anything that includes LibTorch")
    print(f"{len(unique)} test translation units checked")
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
