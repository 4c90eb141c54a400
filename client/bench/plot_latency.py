"""Draws camserve-bench's latency-throughput chart from its JSON report.

    plot_latency.py RESULTS.json CHART.png [--width-px 800] [--height-px 500]

RESULTS.json is what `camserve-bench --json` writes: an array with one object
per load level, in the order the levels ran (fields: client/bench/bench_report.h).
The chart shows p50 and p99 client latency in ms (y) against throughput in
req/s (x), one point per level joined in run order, each point of the p99 line
labelled with its level ("c=8", "10 req/s"); both axes start at 0. Levels
without an OK answer (null latency) are left out. camserve-bench --plot runs
this script (client/bench/latency_chart.h); docs/bench.md shows how to read the
chart.

Exit codes: 0 when the PNG was written; 1 when RESULTS.json cannot be read or
is not a report; 2 for bad arguments; 3 when matplotlib is missing.
"""

import argparse
import json
import sys

P50_COLOR = "#1f77b4"  # matplotlib's tab:blue
P99_COLOR = "#d62728"  # matplotlib's tab:red
DPI = 100


def fail(message, exit_code):
    print(f"plot_latency.py: {message}", file=sys.stderr)
    sys.exit(exit_code)


def read_levels(path):
    """The report's level objects; exits 1 when it is not a report."""
    try:
        with open(path) as file:
            levels = json.load(file)
    except (OSError, ValueError) as error:
        fail(f"cannot read {path}: {error}", 1)
    if not isinstance(levels, list) or not all(isinstance(level, dict) for level in levels):
        fail(f"{path} is not a camserve-bench JSON report (an array of level objects)", 1)
    for index, level in enumerate(levels):
        missing = [key for key in ("load", "throughput_rps", "p50_ms", "p99_ms") if key not in level]
        if missing:
            fail(f"{path}: level {index + 1} lacks {', '.join(missing)}", 1)
    return levels


def level_label(level):
    """'c=8' for a concurrency level, '10 req/s' for a rate level."""
    if level["load"] == "rate":
        return f"{level['rate_rps']:g} req/s"
    return f"c={level['concurrency']}"


def answered_levels(levels):
    """The levels with latency statistics, i.e. at least one OK answer."""
    return [level for level in levels if level["p50_ms"] is not None and level["p99_ms"] is not None]


def draw(levels, png_path, width_px, height_px):
    try:
        import matplotlib
    except ImportError:
        fail("matplotlib is missing: on Debian apt-get install python3-matplotlib, elsewhere pip install matplotlib",
             3)
    matplotlib.use("Agg")
    from matplotlib import pyplot

    points = answered_levels(levels)
    throughput = [level["throughput_rps"] for level in points]
    figure, axes = pyplot.subplots(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    axes.plot(throughput, [level["p50_ms"] for level in points], "o-", color=P50_COLOR, linewidth=2, label="p50")
    axes.plot(throughput, [level["p99_ms"] for level in points], "o-", color=P99_COLOR, linewidth=2, label="p99")
    for level in points:
        axes.annotate(level_label(level), (level["throughput_rps"], level["p99_ms"]), textcoords="offset points",
                      xytext=(4, 6), fontsize=9)
    if not points:
        axes.text(0.5, 0.5, "no level had an OK answer", transform=axes.transAxes, ha="center")
    # From 0, with headroom for the labels of the rightmost and highest points.
    axes.set_xlim(0, max(throughput, default=1) * 1.12 or 1)
    axes.set_ylim(0, max((level["p99_ms"] for level in points), default=1) * 1.12 or 1)
    axes.set_xlabel("throughput (req/s)")
    axes.set_ylabel("client latency (ms)")
    axes.set_title("camserve-bench: latency against throughput")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    try:
        figure.savefig(png_path, dpi=DPI)
    except OSError as error:
        fail(f"cannot write {png_path}: {error}", 1)


def main():
    parser = argparse.ArgumentParser(description="Draws camserve-bench's latency-throughput chart.")
    parser.add_argument("results", help="camserve-bench --json output")
    parser.add_argument("chart", help="PNG file to write")
    parser.add_argument("--width-px", type=int, default=800, help="chart width, pixels (default: %(default)s)")
    parser.add_argument("--height-px", type=int, default=500, help="chart height, pixels (default: %(default)s)")
    arguments = parser.parse_args()
    if arguments.width_px < 100 or arguments.height_px < 100:
        parser.error("--width-px and --height-px must be >= 100")
    draw(read_levels(arguments.results), arguments.chart, arguments.width_px, arguments.height_px)


if __name__ == "__main__":
    main()
