"""Tests of client/bench/plot_latency.py, camserve-bench's chart: run as a
program on a known report, the PNG is read back with Pillow.

    python3 plot_latency_test.py --script PATH/plot_latency.py [unittest args]

ctest runs it on the copy next to camserve-bench (tests/client/bench/CMakeLists.txt).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

from PIL import Image

SCRIPT = None  # set from --script

# Three levels in run order; the second has no OK answer (null statistics).
REPORT = [
    {"load": "concurrency", "concurrency": 1, "rate_rps": None, "duration_s": 10.0, "ok": 190, "errors": 0,
     "throughput_rps": 19.0, "p50_ms": 52.1, "p90_ms": 55.2, "p99_ms": 60.0},
    {"load": "concurrency", "concurrency": 2, "rate_rps": None, "duration_s": 10.0, "ok": 0, "errors": 7,
     "throughput_rps": 0.0, "p50_ms": None, "p90_ms": None, "p99_ms": None},
    {"load": "concurrency", "concurrency": 8, "rate_rps": None, "duration_s": 10.0, "ok": 366, "errors": 3,
     "throughput_rps": 36.6, "p50_ms": 210.4, "p90_ms": 230.2, "p99_ms": 260.7},
]
P50_RGB = (0x1F, 0x77, 0xB4)
P99_RGB = (0xD6, 0x27, 0x28)


def load_script_module():
    spec = importlib.util.spec_from_file_location("plot_latency", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*arguments, python_prelude=None):
    """(exit code, stderr) of the script run with `arguments`; `python_prelude`
    is Python code run in the interpreter before it."""
    if python_prelude is None:
        command = [sys.executable, SCRIPT, *arguments]
    else:
        runner = (f"{python_prelude}\nimport runpy, sys\nsys.argv = {[SCRIPT, *arguments]!r}\n"
                  f"runpy.run_path({SCRIPT!r}, run_name='__main__')")
        command = [sys.executable, "-c", runner]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stderr


def rows_with_color(image, rgb):
    """The y coordinates of the pixels of exactly `rgb`."""
    width, height = image.size
    pixels = image.load()
    return [y for y in range(height) for x in range(width) if pixels[x, y][:3] == rgb]


class PlotLatencyTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.report = os.path.join(self.folder.name, "report.json")
        with open(self.report, "w") as file:
            json.dump(REPORT, file)
        self.chart = os.path.join(self.folder.name, "chart.png")

    def tearDown(self):
        self.folder.cleanup()

    def test_the_chart_is_a_png_of_the_default_size_with_both_lines(self):
        self.assertEqual(run_script(self.report, self.chart), (0, ""))
        with Image.open(self.chart) as image:
            self.assertEqual(image.format, "PNG")
            self.assertEqual(image.size, (800, 500))
            image = image.convert("RGB")
            p50_rows = rows_with_color(image, P50_RGB)
            p99_rows = rows_with_color(image, P99_RGB)
        self.assertGreater(len(p50_rows), 100)
        self.assertGreater(len(p99_rows), 100)
        # Screen y grows downwards: the p50 line ends lower than p99's (the
        # legend's samples are at the top).
        self.assertGreater(max(p50_rows), max(p99_rows))

    def test_the_size_can_be_chosen(self):
        self.assertEqual(run_script(self.report, self.chart, "--width-px", "640", "--height-px", "400"), (0, ""))
        with Image.open(self.chart) as image:
            self.assertEqual(image.size, (640, 400))

    def test_levels_without_an_ok_answer_are_left_out(self):
        module = load_script_module()
        self.assertEqual([level["concurrency"] for level in module.answered_levels(REPORT)], [1, 8])

    def test_each_level_is_labelled_by_its_load(self):
        module = load_script_module()
        self.assertEqual(module.level_label(REPORT[2]), "c=8")
        self.assertEqual(module.level_label({"load": "rate", "rate_rps": 12.5, "concurrency": None}), "12.5 req/s")
        self.assertEqual(module.level_label({"load": "rate", "rate_rps": 10.0, "concurrency": None}), "10 req/s")

    def test_a_report_without_answers_still_draws_the_axes(self):
        with open(self.report, "w") as file:
            json.dump([REPORT[1]], file)
        self.assertEqual(run_script(self.report, self.chart), (0, ""))
        with Image.open(self.chart) as image:
            self.assertEqual(image.size, (800, 500))

    def test_a_missing_report_fails_with_its_path(self):
        missing = os.path.join(self.folder.name, "missing.json")
        exit_code, message = run_script(missing, self.chart)
        self.assertEqual(exit_code, 1)
        self.assertIn(f"plot_latency.py: cannot read {missing}: [Errno 2] No such file or directory", message)
        self.assertFalse(os.path.exists(self.chart))

    def test_invalid_json_fails_with_the_parser_message(self):
        with open(self.report, "w") as file:
            file.write("{not json")
        exit_code, message = run_script(self.report, self.chart)
        self.assertEqual(exit_code, 1)
        self.assertIn(f"plot_latency.py: cannot read {self.report}: Expecting property name", message)

    def test_json_that_is_not_a_report_fails(self):
        for content, expected in (({"load": "rate"}, "is not a camserve-bench JSON report"),
                                  ([{"load": "rate", "p50_ms": 1}], "level 1 lacks throughput_rps, p99_ms")):
            with open(self.report, "w") as file:
                json.dump(content, file)
            exit_code, message = run_script(self.report, self.chart)
            self.assertEqual(exit_code, 1)
            self.assertIn(expected, message)

    def test_missing_matplotlib_says_what_to_install(self):
        exit_code, message = run_script(self.report, self.chart, python_prelude="import sys\n"
                                        "sys.modules['matplotlib'] = None")
        self.assertEqual(exit_code, 3)
        self.assertIn("matplotlib is missing: on Debian apt-get install python3-matplotlib", message)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    arguments, unittest_arguments = parser.parse_known_args()
    SCRIPT = os.path.abspath(arguments.script)
    unittest.main(argv=[sys.argv[0], *unittest_arguments])
