#!/usr/bin/env bash
# Static checks of deploy/: the Prometheus configuration and alert rules
# (promtool check config/rules), the rules' unit tests (promtool test
# rules), the PromQL syntax of every Grafana dashboard query, and that every
# YAML and JSON file parses. The check that the names they use are metrics
# camserve really exports runs against a live scrape in
# metrics_integration_tests.
#
#   tests/deploy/check_deploy_files.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
source_dir=$1
scratch=$2
rm -rf "$scratch"
mkdir -p "$scratch"
deploy=$source_dir/deploy

promtool check config "$deploy/prometheus/prometheus.yml"
promtool check rules "$deploy/prometheus/alerts.yml"
(cd "$deploy/prometheus" && promtool test rules alerts_test.yml)

# Dashboard queries as recording rules, so promtool parses their PromQL. The
# names check needs a scrape; an exposition that declares every name the
# dashboard uses lets this run stand alone.
/usr/bin/python3 - "$deploy/grafana/dashboards/camserve.json" "$deploy/prometheus/alerts.yml" \
  > "$scratch/declared_names.txt" <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    names.update(re.findall(r"\bcamserve_[A-Za-z0-9_]+", open(path).read()))
for name in sorted(names):
    print(f"# TYPE {name} untyped")
PY
/usr/bin/python3 "$deploy/check_metric_names.py" "$scratch/declared_names.txt" \
  --write-promql-rules "$scratch/dashboard_queries.yml"
promtool check rules "$scratch/dashboard_queries.yml"

# Every YAML document and JSON file under deploy/ parses.
/usr/bin/python3 - "$deploy" <<'PY'
import json, pathlib, sys, yaml
root = pathlib.Path(sys.argv[1])
count = 0
for path in sorted(root.rglob("*")):
    if path.suffix in (".yml", ".yaml"):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path}: no YAML document"
        count += 1
    elif path.suffix == ".json":
        json.loads(path.read_text())
        count += 1
print(f"deploy/: {count} YAML/JSON files parse")
PY
echo "deploy files: all checks passed"
