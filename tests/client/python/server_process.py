"""The real camserve server for the package's tests, and what they feed it.

ServerProcess starts $CAMSERVE_SERVER_BINARY with the digits model
($CAMSERVE_MODEL_DIR/digits_cnn.pt) on a kernel-chosen loopback port, without
a cache, reads the port from its log line "camserve listening on
127.0.0.1:PORT" and stops it by its pid (SIGTERM, then SIGKILL). The server
dies with the test process even when that is killed (setpriv --pdeathsig).
digits_server() is one such server shared by every test module, stopped at
exit. make_test_pki() is tests/test_pki.h's throwaway PKI, made with the
openssl command line.
"""
from __future__ import annotations

import atexit
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
USER_TOKEN = "user-token-0123456789abcdef"
_LISTENING = re.compile(r"camserve listening on (127\.0\.0\.1:[0-9]+)")


def environment(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"the environment variable {name} is not set (ctest sets it)")
    return value


def model_dir() -> Path:
    return Path(environment("CAMSERVE_MODEL_DIR"))


def held_out_digits(count: int) -> list[Path]:
    """The first `count` held-out digit PNGs (32x32), sorted by name."""
    digits = sorted((model_dir() / "digits_holdout").glob("*.png"))
    if len(digits) < count:
        raise RuntimeError(f"{model_dir() / 'digits_holdout'} holds {len(digits)} PNGs; {count} needed")
    return digits[:count]


class ServerProcess:
    """One running camserve; `address` is "127.0.0.1:PORT"."""

    def __init__(self, *extra_flags: str) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="camserve-server-", suffix=".log")
        command = ["setpriv", "--pdeathsig", "KILL", environment("CAMSERVE_SERVER_BINARY"),
                   "--model", str(model_dir() / "digits_cnn.pt"), "--listen", "127.0.0.1:0",
                   "--metrics-listen", "127.0.0.1:0", "--cache-enabled", "false", *extra_flags]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.address = self._wait_for_address()

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()

    def _wait_for_address(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            listening = _LISTENING.search(self.log())
            if listening:
                return listening.group(1)
            if self._process.poll() is not None:
                raise RuntimeError(f"camserve exited with {self._process.returncode} before listening:\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"camserve did not log 'listening on' within {STARTUP_TIMEOUT_S} s")


_digits_server: ServerProcess | None = None


def digits_server() -> ServerProcess:
    """The plaintext server every test module shares; started on first use, stopped at exit."""
    global _digits_server
    if _digits_server is None:
        _digits_server = ServerProcess()
        atexit.register(_digits_server.stop)
    return _digits_server


def _openssl(*arguments: str) -> None:
    result = subprocess.run(["openssl", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")


def _make_ca(dir: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", str(dir / f"{name}.key"), "-out", str(dir / f"{name}.crt"))


def _make_signed_cert(dir: Path, name: str, ca: str, extensions: str, serial: int) -> None:
    (dir / f"{name}.ext").write_text(extensions)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={name}",
             "-keyout", str(dir / f"{name}.key"), "-out", str(dir / f"{name}.csr"))
    _openssl("x509", "-req", "-days", "2", "-set_serial", str(serial), "-in", str(dir / f"{name}.csr"),
             "-CA", str(dir / f"{ca}.crt"), "-CAkey", str(dir / f"{ca}.key"), "-extfile", str(dir / f"{name}.ext"),
             "-out", str(dir / f"{name}.crt"))


def make_test_pki(dir: Path) -> None:
    """CA "ca" with a server certificate "server" (127.0.0.1, localhost) and a
    client certificate "client", each NAME.crt + NAME.key; "tokens" with USER_TOKEN."""
    _make_ca(dir, "ca")
    _make_signed_cert(dir, "server", "ca",
                      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", 1)
    _make_signed_cert(dir, "client", "ca", "extendedKeyUsage=clientAuth\n", 2)
    (dir / "tokens").write_text(f"# test tokens\n{USER_TOKEN}\n")
