#!/usr/bin/env python3
"""Closing lines of a `swift test` run, from Swift Testing's JSON event stream.

    test-summary.py EVENTS.jsonl

Reads the file `swift test --event-stream-output-path EVENTS.jsonl --event-stream-version 0`
wrote and prints `tests: N passed, N failed, N skipped`, then one line per failed test with its
first issue and one per skipped test with the reason it gave. Exits 1 when a test failed, a test
did not run to its end (the test process died), or no test ran at all.

The event stream, unlike the console output, counts tests that fail before they start (a trait
that throws, such as a dependency missing under CI) and leaves out the output of the test
binary's own child processes (the journald helpers run it again inside a private journal).
"""
import json
import sys


def main(path):
    tests, suites = {}, {}
    started, ended, skipped, issues = set(), set(), {}, {}
    try:
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                payload = record["payload"]
                if record["kind"] == "test":
                    (tests if payload["kind"] == "function" else suites)[payload["id"]] = payload
                    continue
                kind, test = payload["kind"], payload.get("testID")
                if kind == "testStarted":
                    started.add(test)
                elif kind == "testEnded":
                    ended.add(test)
                elif kind == "testSkipped":
                    comments = payload.get("_comments") or [m["text"] for m in payload.get("messages", [])]
                    skipped[test] = " ".join(comments)
                elif kind == "issueRecorded" and not payload.get("issue", {}).get("isKnown", False):
                    issues.setdefault(test, []).append(" ".join(m["text"] for m in payload.get("messages", [])))
    except (OSError, ValueError, KeyError) as error:
        print(f"tests: no usable test events in {path} ({error}): swift test did not run to its end")
        return 1

    def name(test_id):
        test = tests.get(test_id) or suites.get(test_id) or {}
        return test.get("displayName") or test.get("name") or test_id

    def title(test_id):
        # A test's ID is its suite's ID, then its name and source location: "Module.Suite/f()/File.swift:3:2".
        suite = "/".join(test_id.split("/")[:-2]) if test_id in tests else ""
        where = (tests.get(test_id) or suites.get(test_id) or {}).get("sourceLocation", {})
        return (f"{name(suite)} / " if suite in suites else "") + f"{name(test_id)} ({where.get('fileID', '?')}:{where.get('line', '?')})"

    failed = {t: i for t, i in issues.items() if t in tests}
    # An issue of a suite alone (its tests had none) still fails the run.
    failed.update({t: i for t, i in issues.items() if t in suites and not any(f.startswith(t + "/") for f in failed)})
    unfinished = [t for t in started - ended if t in tests and t not in failed]
    # A skipped suite reports each of its tests skipped too: count and list the tests only.
    skipped = {t: reason for t, reason in skipped.items() if t in tests}
    passed = [t for t in ended if t in tests and t not in failed and t not in skipped]

    print(f"tests: {len(passed)} passed, {len(failed) + len(unfinished)} failed, {len(skipped)} skipped")
    for test in sorted(failed, key=title):
        print(f"  failed: {title(test)}: {failed[test][0]}")
    for test in sorted(unfinished, key=title):
        print(f"  failed: {title(test)}: started but never ended (did the test process crash?)")
    for test in sorted(skipped, key=title):
        print(f"  skipped: {title(test)}: {skipped[test]}")
    return 0 if passed and not failed and not unfinished else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
