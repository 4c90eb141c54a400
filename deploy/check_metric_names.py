#!/usr/bin/python3
"""Checks that the dashboard and the alert rules use only metrics camserve exports.

    deploy/check_metric_names.py SCRAPE.txt [--allow-missing PREFIX]... [--dashboard FILE] [--rules FILE]...
    deploy/check_metric_names.py SCRAPE.txt --write-promql-rules OUT.yml && promtool check rules OUT.yml

SCRAPE.txt is a Prometheus text exposition, e.g. `curl -s http://127.0.0.1:9464/metrics`
of a server that has answered a few requests (metrics with labels appear only
once used). Every metric name starting with camserve_ in the dashboard's
queries and in the rules' expressions must be a metric of the scrape, after
dropping the _bucket, _sum and _count suffixes of histogram series on both
sides. Names starting with an --allow-missing PREFIX may be absent (on a CPU
server: --allow-missing camserve_gpu_).

--write-promql-rules also writes every dashboard query, with the dashboard's
variables replaced, as recording rules to OUT.yml, so that promtool can check
their PromQL syntax.

Exit status: 0 all names found; 1 names missing (listed with where they are
used); 2 bad arguments or unreadable files.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
METRIC_NAME = re.compile(r"\bcamserve_[A-Za-z0-9_]+")
SAMPLE_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Values substituted for the dashboard's variables to make plain PromQL.
DASHBOARD_VARIABLES = {"$__rate_interval": "1m", "$model": ".*", "$method": ".*", "$instance": ".*"}


def family_name(name):
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def exported_names(exposition_text):
    names = set()
    for line in exposition_text.splitlines():
        line = line.strip()
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 3:
                names.add(family_name(parts[2]))
        elif line and not line.startswith("#"):
            match = SAMPLE_NAME.match(line)
            if match:
                names.add(family_name(match.group(0)))
    return names


def dashboard_queries(dashboard):
    """Yields (where, query) for every query of every panel and variable."""
    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f'panel "{panel.get("title", panel.get("id"))}" {target.get("refId", "")}', target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            yield f'variable "{variable["name"]}"', query


def rule_expressions(rules):
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            yield f'rule "{name}"', rule["expr"]


def promql_rules(queries):
    """A rules file with one recording rule per dashboard query (not label_values)."""
    rules = []
    for number, (where, query) in enumerate(queries):
        if query.startswith("label_values("):
            continue
        for variable, value in DASHBOARD_VARIABLES.items():
            query = query.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": query, "labels": {"where": where}})
    return {"groups": [{"name": "dashboard-queries", "rules": rules}]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exposition", type=Path, help="Prometheus text exposition (a /metrics scrape)")
    parser.add_argument("--dashboard", type=Path, default=HERE / "grafana/dashboards/camserve.json")
    parser.add_argument("--rules", type=Path, action="append", help="rules file (repeatable); default: deploy/prometheus/alerts.yml")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="PREFIX",
                        help="names starting with PREFIX may be absent from the scrape (repeatable)")
    parser.add_argument("--write-promql-rules", type=Path, metavar="OUT", help="also write the dashboard's queries as a rules file")
    args = parser.parse_args()
    rules_files = args.rules or [HERE / "prometheus/alerts.yml"]

    try:
        exported = exported_names(args.exposition.read_text())
        queries = list(dashboard_queries(json.loads(args.dashboard.read_text())))
        for rules_file in rules_files:
            queries += list(rule_expressions(yaml.safe_load(rules_file.read_text())))
    except (OSError, ValueError, yaml.YAMLError, KeyError) as error:
        print(f"check_metric_names: {error}", file=sys.stderr)
        return 2
    if not any(name.startswith("camserve_") for name in exported):
        print(f"check_metric_names: {args.exposition} holds no camserve_ metric", file=sys.stderr)
        return 2

    used = {}  # family name -> places
    for where, query in queries:
        for name in METRIC_NAME.findall(query):
            used.setdefault(family_name(name), set()).add(where)

    missing = sorted(name for name in used if name not in exported
                     and not any(name.startswith(prefix) for prefix in args.allow_missing))
    if args.write_promql_rules:
        dashboard_only = [(where, query) for where, query in queries if not where.startswith("rule ")]
        args.write_promql_rules.write_text(yaml.safe_dump(promql_rules(dashboard_only), sort_keys=False, width=1000))
    if missing:
        print(f"{len(missing)} of {len(used)} metric names used are not in {args.exposition}:")
        for name in missing:
            print(f"  {name}: {'; '.join(sorted(used[name]))}")
        return 1
    allowed = sorted(name for name in used if name not in exported)
    print(f"all {len(used)} metric names used are exported"
          + (f" (allowed missing: {', '.join(allowed)})" if allowed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
