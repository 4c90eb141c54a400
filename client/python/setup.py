"""Builds the camserve package with its gRPC stubs generated from the API.

The stubs are never committed: every build runs the system protoc with
grpc_python_plugin on ../../proto/camserve/v1/explainer.proto (this folder
sits at client/python in the camserve repository) and writes

    camserve/v1/__init__.py
    camserve/v1/explainer_pb2.py       messages
    camserve/v1/explainer_pb2.pyi      their types
    camserve/v1/explainer_pb2_grpc.py  ExplainerStub

into the built package (an editable install: into the source folder, which
.gitignore keeps out of git). The proto package camserve.v1 is then a
subpackage of camserve, so the generated `from camserve.v1 import
explainer_pb2` works as it is.

protoc and the plugin are looked up on PATH, or taken from the environment
variables PROTOC and GRPC_PYTHON_PLUGIN. Not grpc_tools: Debian's
python3-grpc-tools bundles protoc 3.5, which rejects the API's proto3
`optional` fields. Without them the build fails naming the Debian packages.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import ExecError, FileError

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO_ROOT = PACKAGE_DIR.parent.parent / "proto"
PROTO_FILE = "camserve/v1/explainer.proto"
DEBIAN_PACKAGES = "protobuf-compiler and protobuf-compiler-grpc"


def find_tool(name: str, environment_variable: str) -> str:
    """The path of a code generator: $ENVIRONMENT_VARIABLE if set, else NAME on PATH."""
    wanted = os.environ.get(environment_variable) or name
    path = shutil.which(wanted)
    if not path:
        where = f"{environment_variable}={wanted} is not an executable" if wanted != name else f"{name} is not on PATH"
        raise ExecError(
            f"camserve: generating the gRPC stubs needs {name}, and {where}: install Debian's {DEBIAN_PACKAGES} "
            f"(apt-get install protobuf-compiler protobuf-compiler-grpc), or set {environment_variable} to its path")
    return path


def generate_stubs(output_root: Path) -> list[Path]:
    """Writes the camserve.v1 subpackage under OUTPUT_ROOT; returns its files."""
    if not (PROTO_ROOT / PROTO_FILE).is_file():
        raise FileError(
            f"camserve: {PROTO_ROOT / PROTO_FILE} not found; build the package from a checkout of the "
            "camserve repository (pip install client/python), where the API's proto sits at ../../proto")
    protoc = find_tool("protoc", "PROTOC")
    plugin = find_tool("grpc_python_plugin", "GRPC_PYTHON_PLUGIN")
    output_root.mkdir(parents=True, exist_ok=True)
    command = [protoc, f"--plugin=protoc-gen-grpc_python={plugin}", f"-I{PROTO_ROOT}",
               f"--python_out={output_root}", f"--pyi_out={output_root}", f"--grpc_python_out={output_root}",
               str(PROTO_ROOT / PROTO_FILE)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExecError(f"camserve: {' '.join(command)} failed (exit {result.returncode}): {result.stderr.strip()} "
                        "(needs protoc 3.15 or newer, for proto3 optional fields, and its grpc_python_plugin: "
                        f"Debian's {DEBIAN_PACKAGES})")
    subpackage = output_root / "camserve" / "v1"
    init = subpackage / "__init__.py"
    init.write_text('"""camserve\'s gRPC API (proto package camserve.v1): stubs generated at build time."""\n')
    return [init] + [subpackage / name for name in ("explainer_pb2.py", "explainer_pb2.pyi", "explainer_pb2_grpc.py")]


class BuildPyWithStubs(build_py):
    """build_py that also generates camserve.v1 from the API's proto."""

    def run(self) -> None:
        if not self.editable_mode:
            # Built afresh: a module removed from the source must not linger in build/lib and the wheel.
            shutil.rmtree(Path(self.build_lib) / "camserve", ignore_errors=True)
        super().run()
        output_root = PACKAGE_DIR if self.editable_mode else Path(self.build_lib)
        self.generated_files = [str(path) for path in generate_stubs(output_root)]

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return super().get_outputs(include_bytecode) + getattr(self, "generated_files", [])


setup(cmdclass={"build_py": BuildPyWithStubs})
