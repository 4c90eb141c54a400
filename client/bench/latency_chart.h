// DrawLatencyChart: camserve-bench's latency-throughput chart (--plot). The
// chart is drawn by client/bench/plot_latency.py with matplotlib from the
// JSON report (bench_report.h's FormatJson), run with python3; see the
// script's header for what it draws.
//
// Thread-safety: free functions; runs one child process per call and waits
// for it.
// Errors: FAILED_PRECONDITION when the interpreter cannot be started or the
// script is missing, saying what to install or where the script was looked
// for; UNKNOWN when the script fails (its own message, e.g. that matplotlib
// is missing, has gone to stderr); the errors of writing the temporary JSON
// file.
// Cost: a Python start and a matplotlib import, about a second.
#pragma once

#include <string>

#include "core/util/status.h"

namespace camserve {

struct LatencyChartOptions {
  // The interpreter, a path or a name looked up on PATH. Empty: the one
  // CMake's CAMSERVE_PYTHON named at build time (by default /usr/bin/python3,
  // Debian's, which python3-matplotlib serves; a pyenv or venv python3 first
  // on PATH may lack matplotlib). Default: empty.
  std::string python;
  // The script. Empty: $CAMSERVE_PLOT_SCRIPT if set, else plot_latency.py in
  // the folder of the running binary, where CMake copies it next to
  // camserve-bench. Default: empty.
  std::string script_path;
};

// Draws the chart of `json_report` (a JSON array of level objects) into the
// PNG file `png_path`. The JSON goes through a temporary file, removed after.
Status DrawLatencyChart(const std::string& json_report, const std::string& png_path,
                        const LatencyChartOptions& options);

}  // namespace camserve
