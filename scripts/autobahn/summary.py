"""Summarise an Autobahn|Testsuite fuzzingclient report; called by scripts/autobahn.sh.

usage: summary.py OUTDIR AGENT WSTEST_LOG

Reads OUTDIR/index.json (and the per-case JSON files it names for the failed cases),
prints one row per case group (1..N) with the counts of each `behavior` and
`behaviorClose` result, then lists every FAILED case with its description and what was
wrong. Cases the run was told to do (the "Cases = [...]" line wstest logs) but that have
no result are listed as missing.

Exit status: 0 all good; 1 some case FAILED (behavior or behaviorClose) or is missing;
2 no results at all. Runs under Python 3 or 2.7.
"""
from __future__ import print_function

import ast
import json
import os
import re
import sys

BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
CLOSES = ["OK", "INFORMATIONAL", "UNCLEAN", "WRONG CODE", "FAILED BY CLIENT", "FAILED"]
CLOSE_HEAD = ["OK", "INFO", "UNCLEAN", "WRONGCODE", "BYCLIENT", "FAILED"]
BEHAVIOR_HEAD = ["OK", "NONSTRICT", "INFO", "UNIMPL", "FAILED"]


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def expected_cases(log_path):
    """The case ids wstest announced (`Cases = ['1.1.1', ...]`), or None."""
    try:
        with open(log_path) as f:
            for line in f:
                if line.startswith("Cases = ["):
                    return ast.literal_eval(line[len("Cases = "):].strip())
    except (IOError, OSError, ValueError, SyntaxError):
        pass
    return None


def text(value, limit):
    """One line of a report's text: HTML tags gone, whitespace squeezed, cut at limit."""
    s = re.sub(r"<[^>]*>", "", str(value or ""))
    s = " ".join(s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())
    return s if len(s) <= limit else s[:limit - 3] + "..."


def load_json(path):
    with open(path) as f:
        return json.load(f)


def main():
    outdir, agent, log_path = sys.argv[1:4]
    index_path = os.path.join(outdir, "index.json")
    if not os.path.isfile(index_path):
        print("autobahn: no results: %s is missing" % index_path)
        return 2
    index = load_json(index_path)
    results = index.get(agent) or {}
    if not results:
        print("autobahn: no results for agent %r in %s (agents: %s)"
              % (agent, index_path, ", ".join(sorted(index)) or "none"))
        return 2

    groups = {}
    for case_id, r in results.items():
        groups.setdefault(case_key(case_id)[0], []).append((case_id, r))

    head = (["group", "cases"] + BEHAVIOR_HEAD + ["|", "close:"] + CLOSE_HEAD)
    widths = [max(len(h), 5) for h in head]
    widths[head.index("|")] = 1
    widths[head.index("close:")] = 6

    def row(cells):
        return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))

    print(row(head))
    totals_b = dict((b, 0) for b in BEHAVIORS)
    totals_c = dict((c, 0) for c in CLOSES)
    other = {}
    for g in sorted(groups):
        rs = groups[g]
        cb = dict((b, 0) for b in BEHAVIORS)
        cc = dict((c, 0) for c in CLOSES)
        for case_id, r in rs:
            b, c = r.get("behavior"), r.get("behaviorClose")
            if b in cb:
                cb[b] += 1
            else:
                other.setdefault(("behavior", b), []).append(case_id)
            if c in cc:
                cc[c] += 1
            else:
                other.setdefault(("behaviorClose", c), []).append(case_id)
        for b in BEHAVIORS:
            totals_b[b] += cb[b]
        for c in CLOSES:
            totals_c[c] += cc[c]
        print(row([g, len(rs)] + [cb[b] for b in BEHAVIORS] + ["|", ""]
                  + [cc[c] for c in CLOSES]))
    print(row(["all", len(results)] + [totals_b[b] for b in BEHAVIORS] + ["|", ""]
              + [totals_c[c] for c in CLOSES]))
    for (field, value), ids in sorted(other.items(), key=lambda kv: str(kv[0])):
        print("autobahn: %d case(s) with unknown %s %r: %s"
              % (len(ids), field, value, " ".join(sorted(ids, key=case_key))))

    # Results that are not failures but worth a look.
    for b in ["NON-STRICT", "UNIMPLEMENTED", "INFORMATIONAL"]:
        ids = sorted((i for i, r in results.items() if r.get("behavior") == b), key=case_key)
        if ids:
            print("autobahn: behavior %s: %s" % (b, " ".join(ids)))
    for c in ["UNCLEAN", "WRONG CODE", "FAILED BY CLIENT"]:
        ids = sorted((i for i, r in results.items() if r.get("behaviorClose") == c), key=case_key)
        if ids:
            print("autobahn: behaviorClose %s (not counted as failure): %s" % (c, " ".join(ids)))

    status = 0
    failed = sorted((i for i, r in results.items()
                     if r.get("behavior") == "FAILED" or r.get("behaviorClose") == "FAILED"),
                    key=case_key)
    if failed:
        status = 1
        print("\nautobahn: %d FAILED case(s):" % len(failed))
        for case_id in failed:
            r = results[case_id]
            try:
                detail = load_json(os.path.join(outdir, r["reportfile"]))
            except (KeyError, IOError, OSError, ValueError):
                detail = {}
            print("  %-8s behavior=%s close=%s  %s" % (
                case_id, r.get("behavior"), r.get("behaviorClose"),
                text(detail.get("description"), 160)))
            if detail:
                print("           expected: %s" % text(detail.get("expectation"), 200))
                print("           got: %s / %s" % (text(detail.get("result"), 120),
                                                  text(detail.get("resultClose"), 120)))
        print("  (full logs: %s/%s_case_<id>.json, or index.html)" % (outdir, agent))

    expected = expected_cases(log_path)
    if expected is None:
        print("autobahn: warning: could not read the list of cases from %s" % log_path)
    else:
        missing = sorted(set(expected) - set(results), key=case_key)
        if missing:
            status = 1
            shown = " ".join(missing[:30]) + (" ..." if len(missing) > 30 else "")
            print("\nautobahn: %d of %d case(s) have no result: %s"
                  % (len(missing), len(expected), shown))

    print("\nautobahn: %d cases, %d FAILED; report: %s"
          % (len(results), len(failed), os.path.join(outdir, "index.html")))
    return status


if __name__ == "__main__":
    sys.exit(main())
