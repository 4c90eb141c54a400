"""Reads the result rows that camserve-engine-bench prints, for the bench
scripts' summaries (scripts/bench_server.sh, scripts/bench_server_vs_engine.sh)."""


def read_engine_rows(path):
    """{batch size: (forward median ms per image, forward mean ms per image)}
    from a file holding camserve-engine-bench output (GradCAM rows; header and
    other lines are skipped)."""
    rows = {}
    for line in open(path):
        fields = line.split()
        if len(fields) >= 9 and fields[0].isdigit() and fields[1] == "gradcam":
            rows[int(fields[0])] = (float(fields[2]), float(fields[8]))
    return rows
