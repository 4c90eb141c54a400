#!/usr/bin/env python3
"""The explorer page in a real browser: headless Chromium driven by Selenium.

Starts the real camserve binary with the HTTP API on a free loopback port,
opens GET / in Chromium, picks a digit PNG through the page's file input,
explains it and checks what the page shows against a gRPC Explain of the
same image (the top-1 class, the heatmap's size, the top-k table), then a
request the server refuses (class 99 of a 10-class model: the page shows
INVALID_ARGUMENT). The browser's console must stay free of errors (a script
or Content-Security-Policy failure shows there). A screenshot of the answer
is written to --screenshot (docs/images/explorer.png is one).

Environment (set by ctest): CAMSERVE_SERVER_BINARY, CAMSERVE_MODEL_DIR,
CAMSERVE_SOURCE_DIR. Needs Debian's chromium, chromium-driver,
python3-selenium, python3-grpcio and protobuf-compiler-grpc.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

STARTUP_TIMEOUT_S = 120
WAIT_S = 60


class Server:
    """camserve with the HTTP API, on free loopback ports; stopped by stop()."""

    def __init__(self, binary, model):
        self.process = subprocess.Popen(
            [binary, "--model", model, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0", "--cache-enabled", "false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.grpc_port = None
        self.http_port = None
        started = threading.Event()

        def read_log():
            for line in self.process.stderr:
                self.lines.append(line.rstrip())
                match = re.search(r"HTTP/JSON API at http://[^ ]+:(\d+)/v1/", line)
                if match:
                    self.http_port = int(match.group(1))
                match = re.search(r"camserve listening on [^ ]+:(\d+)", line)
                if match:
                    self.grpc_port = int(match.group(1))
                    started.set()
            started.set()

        threading.Thread(target=read_log, daemon=True).start()
        if not started.wait(STARTUP_TIMEOUT_S) or self.grpc_port is None or self.http_port is None:
            self.stop()
            sys.exit("camserve did not start:\n" + "\n".join(self.lines[-20:]))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def grpc_target_class(source_dir, port, image_bytes, work_dir):
    """The top-1 class of a gRPC Explain of the image (stubs made here)."""
    subprocess.run(["protoc", "-I", os.path.join(source_dir, "proto"), "--python_out", work_dir,
                    "--grpc_out", work_dir, "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    "camserve/v1/explainer.proto"], check=True)
    sys.path.insert(0, work_dir)
    from camserve.v1 import explainer_pb2, explainer_pb2_grpc  # noqa: E402 (generated above)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = explainer_pb2_grpc.ExplainerStub(channel)
        response = stub.Explain(explainer_pb2.ExplainRequest(image=image_bytes, top_k=5), timeout=60)
    return response.target_class, response.heatmap.width, response.heatmap.height


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)
    print("ok:", message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshot", required=True, help="where the PNG of the answered page goes")
    args = parser.parse_args()
    model_dir = os.environ["CAMSERVE_MODEL_DIR"]
    image = os.path.join(model_dir, "digits_sample.png")
    with open(image, "rb") as f:
        image_bytes = f.read()
    work_dir = tempfile.mkdtemp(prefix="camserve-explorer-")
    server = Server(os.environ["CAMSERVE_SERVER_BINARY"], os.path.join(model_dir, "digits_cnn.pt"))
    driver = None
    try:
        expected_class, width, height = grpc_target_class(os.environ["CAMSERVE_SOURCE_DIR"], server.grpc_port,
                                                          image_bytes, work_dir)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,900", f"--user-data-dir={work_dir}/profile"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                  options=options)
        wait = WebDriverWait(driver, WAIT_S)
        driver.get(f"http://127.0.0.1:{server.http_port}/")
        check(driver.title == "camserve explorer", "GET / serves the explorer page")

        # The choices come from the API: the model, its methods and layers.
        wait.until(lambda d: len(Select(d.find_element(By.ID, "model-select")).options) > 0)
        model = Select(driver.find_element(By.ID, "model-select"))
        check([o.text for o in model.options] == ["digits_cnn"], "the model list is the server's")
        methods = [o.text for o in Select(driver.find_element(By.ID, "method-select")).options]
        check("gradcam" in methods and "reciprocam" in methods and len(methods) == 9, "the 9 methods are offered")
        layer = Select(driver.find_element(By.ID, "layer-select"))
        check(layer.first_selected_option.text != "", "the default layer is chosen")

        driver.find_element(By.ID, "image-input").send_keys(image)
        wait.until(expected_conditions.element_to_be_clickable((By.ID, "explain-button"))).click()
        target = wait.until(expected_conditions.visibility_of_element_located((By.ID, "target-class")))
        check(int(target.text) == expected_class, f"the page's top-1 class {target.text} is gRPC's {expected_class}")
        rows = driver.find_elements(By.CSS_SELECTOR, "#classes-table tbody tr")
        check(len(rows) == 5, "five top classes are listed")
        check(rows[0].find_elements(By.TAG_NAME, "td")[0].text == str(expected_class), "the first row is the top-1")
        canvas_size = driver.execute_script(
            "const c = document.getElementById('overlay-canvas'); return [c.width, c.height];")
        check(canvas_size == [width, height], f"the overlay has the heatmap's size {width}x{height}")
        coloured = driver.execute_script(
            "const c = document.getElementById('heatmap-canvas');"
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let blue = 0, red = 0; for (let i = 0; i < d.length; i += 4) {"
            "  if (d[i + 2] > 200 && d[i] < 60) ++blue; if (d[i] > 200 && d[i + 2] < 60) ++red; }"
            "return [blue, red];")
        check(coloured[0] > 0 and coloured[1] > 0, f"the heatmap spans the colormap (blue {coloured[0]}, "
                                                   f"red {coloured[1]} pixels)")
        timings = driver.find_elements(By.CSS_SELECTOR, "#timings-table tbody tr")
        check(any(r.text.startswith("total") for r in timings), "the server's stage timings are shown")
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        driver.save_screenshot(args.screenshot)
        print("screenshot:", args.screenshot)

        # A refused request: class 99 of a 10-class model.
        driver.execute_script("document.getElementById('class-input').removeAttribute('max');")
        driver.find_element(By.ID, "class-input").send_keys("99")
        driver.find_element(By.ID, "explain-button").click()
        error = wait.until(expected_conditions.visibility_of_element_located((By.ID, "error")))
        check(error.text.startswith("INVALID_ARGUMENT:"), f"a refusal shows its code: {error.text!r}")

        severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
                  and "/v1/explain" not in entry["message"]]  # the refused request's 400 is expected
        check(not severe, f"no browser console errors: {severe}")
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    print("explorer browser test passed")


if __name__ == "__main__":
    main()
