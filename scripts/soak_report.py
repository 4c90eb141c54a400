#!/usr/bin/env python3
"""The verdict on a soak run of scripts/soak.sh (which calls this); run it by
hand to re-read a run: scripts/soak_report.py OUT WARMUP_S [ALIVE EXIT TRAFFIC].

OUT holds soak.csv (seconds, rss_kib, fds, threads every SAMPLE_S) and
outcomes.json (from soak_traffic.py). The samples after WARMUP_S are split
in thirds and the first third is compared with the last:
  resident memory: the largest sample may grow by less than 5%;
  descriptors and threads: the smallest sample (the floor) must not grow.
    RocksDB opens table files for a compaction before it closes the old
    ones, and gRPC starts threads for bursts, so single samples go up and
    down by a few; a leak raises the floor.
Fails also when the server died, did not exit 0 on SIGTERM, or a call ended
with an outcome its kind does not allow.
"""
import csv
import json
import os
import statistics
import sys


def main():
    out, warmup = sys.argv[1], float(sys.argv[2])
    alive, exit_status, traffic_status = (int(v) for v in (sys.argv[3:] + ["1", "0", "0"])[:3])
    rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(f"{out}/soak.csv"))]
    after = [r for r in rows if r["seconds"] >= warmup]
    failures = []
    outcomes_path = f"{out}/outcomes.json"
    outcomes = json.load(open(outcomes_path)) if os.path.exists(outcomes_path) else None
    if outcomes is None:
        failures.append(f"the traffic generator wrote no outcomes (exit {traffic_status})")
    else:
        print(f"samples: {len(rows)} over {rows[-1]['seconds']:.0f} s; {sum(outcomes['counts'].values())} calls:")
        for key, count in outcomes["counts"].items():
            print(f"  {key}: {count}")
        if outcomes["unexpected_total"]:
            failures.append(f"{outcomes['unexpected_total']} unexpected outcomes, e.g. {outcomes['unexpected'][:3]}")
    if len(after) < 3:
        failures.append("fewer than 3 samples after warm-up")
    else:
        third = len(after) // 3
        early, late = after[:third], after[-third:]
        print(f"after warm-up ({after[0]['seconds']:.0f} s), first third vs last third (min / median / max):")
        for name, unit, scale, measure, limit in (("rss_kib", " MiB", 1024, max, 0.05), ("fds", "", 1, min, 0),
                                                  ("threads", "", 1, min, 0)):
            def summary(part):
                values = [r[name] / scale for r in part]
                return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}{unit}"

            before, now = measure(r[name] for r in early), measure(r[name] for r in late)
            growth = now / before - 1
            what = "largest" if measure is max else "smallest"
            print(f"  {name}: {summary(early)} -> {summary(late)}; {what} {100 * growth:+.2f}% "
                  f"(limit {100 * limit:.0f}%); at start {rows[0][name] / scale:.0f}{unit}, "
                  f"last {after[-1][name] / scale:.0f}{unit}")
            if growth > limit:
                failures.append(f"{name}: the {what} sample grew {100 * growth:.2f}% after warm-up")
    if not alive:
        failures.append("the server died during the soak")
    if exit_status != 0:
        failures.append(f"the server exited {exit_status} on SIGTERM")
    print("soak: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
