#!/usr/bin/env python3
"""Counts test cases of a `meson test` run from Meson's JUnit report.

Meson folds each GoogleTest executable's own report (protocol 'gtest') into
meson-logs/testlog.junit.xml, one <testcase> per TEST(); any other registered test (a script,
a bounded fuzzer run, an interop check) appears there as one case. Prints the failing cases,
then "N passed, N failed[, N skipped]" as the last line; exits 1 on any failure.

Usage: count-results.py BUILD_DIR:MESON_EXIT_CODE [BUILD_DIR:MESON_EXIT_CODE ...]
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def count(build, meson_rc):
    passed = failed = skipped = 0
    failures = []
    report = os.path.join(build, "meson-logs", "testlog.junit.xml")
    try:
        root = ET.parse(report).getroot()
        cases = list(root.iter("testcase"))
    except OSError:
        cases = []  # no test selected in this build: nothing to count (a failing meson run still counts below)
    except ET.ParseError as e:
        cases = []
        failures.append(f"unreadable JUnit report in {build} ({e})")
        failed += 1
    for case in cases:
        full = f"{case.get('classname')}.{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failures.append(full)
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    # A test executable that crashed or timed out without a report still fails the run.
    try:
        with open(os.path.join(build, "meson-logs", "testlog.json")) as f:
            for line in f:
                if not line.strip():
                    continue
                e = json.loads(line)
                if e.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS") and not any(
                    e.get("name", "") in x for x in failures
                ):
                    failed += 1
                    failures.append(f"{e.get('name')}: {e.get('result')}")
    except OSError:
        pass
    if meson_rc != 0 and failed == 0:
        failed += 1
        failures.append(f"meson test exited with {meson_rc}")
    return passed, failed, skipped, failures


def main():
    passed = failed = skipped = 0
    failures = []
    for arg in sys.argv[1:]:
        build, _, rc = arg.rpartition(":")
        p, f, s, fl = count(build, int(rc))
        passed, failed, skipped = passed + p, failed + f, skipped + s
        failures += fl
    for f in failures:
        print(f"FAILED: {f}")
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
