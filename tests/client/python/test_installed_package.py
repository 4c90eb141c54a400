"""The package as pip installed it: its files, metadata and the camserve-explain command."""
from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tempfile
import unittest
from importlib import metadata
from pathlib import Path

import numpy

import camserve
from server_process import digits_server, held_out_digits

PACKAGE_DIR = Path(camserve.__file__).parent
CLI = Path(sysconfig.get_path("scripts")) / "camserve-explain"


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *arguments], capture_output=True, text=True, timeout=120)


class InstalledPackageTest(unittest.TestCase):
    def test_the_package_is_the_installed_one_not_the_source_tree(self) -> None:
        self.assertTrue(PACKAGE_DIR.is_relative_to(Path(sys.prefix)), PACKAGE_DIR)
        self.assertIn("site-packages", PACKAGE_DIR.parts)

    def test_it_is_typed_and_holds_the_generated_stubs(self) -> None:
        self.assertTrue((PACKAGE_DIR / "py.typed").is_file())
        for generated in ("__init__.py", "explainer_pb2.py", "explainer_pb2.pyi", "explainer_pb2_grpc.py"):
            self.assertTrue((PACKAGE_DIR / "v1" / generated).is_file(), generated)
        from camserve.v1 import explainer_pb2, explainer_pb2_grpc
        self.assertTrue(hasattr(explainer_pb2_grpc, "ExplainerStub"))
        self.assertIn("target_class", explainer_pb2.ExplainRequest.DESCRIPTOR.fields_by_name)

    def test_the_metadata_names_the_dependencies_and_the_command(self) -> None:
        requirements = {re.split(r"[^\w.-]", requirement, maxsplit=1)[0].lower()
                        for requirement in metadata.requires("camserve") or []}
        self.assertEqual(requirements, {"grpcio", "protobuf", "numpy", "pillow"})
        commands = metadata.entry_points(group="console_scripts", name="camserve-explain")
        self.assertEqual([entry.value for entry in commands], ["camserve.cli:main"])


class ExplainCommandTest(unittest.TestCase):
    address: str
    image: Path
    expected: camserve.Explanation

    @classmethod
    def setUpClass(cls) -> None:
        cls.address = digits_server().address
        cls.image = held_out_digits(1)[0]
        with camserve.Client(cls.address, timeout=60) as client:
            cls.expected = client.explain(cls.image, resolution="original", evaluate=True)

    def test_help_lists_the_flags(self) -> None:
        run = run_cli("--help")
        self.assertEqual(run.returncode, 0, run.stderr)
        for flag in ("--addr", "--image", "--method", "--class", "--resolution", "--tls-ca-file", "--token-file"):
            self.assertIn(flag, run.stdout)

    def test_it_prints_the_report_and_writes_the_heatmap_files(self) -> None:
        with tempfile.TemporaryDirectory() as out:
            run = run_cli("--addr", self.address, "--image", str(self.image), "--out", out, "--evaluate")
            self.assertEqual(run.returncode, 0, run.stderr)
            top = self.expected.top_k[0]
            self.assertIn(f'{self.image}: explained class {top.class_index} "{top.label}" p={top.probability:.4f}',
                          run.stdout)
            self.assertIn("(16 steps)", run.stdout)
            self.assertIn("server timings (ms): decode ", run.stdout)
            stem = Path(out) / self.image.stem
            numpy.testing.assert_allclose(numpy.load(f"{stem}.npy"), self.expected.heatmap, rtol=0, atol=1e-6)
            for picture in (f"{stem}.heatmap.png", f"{stem}.overlay.png"):
                self.assertTrue(Path(picture).is_file(), picture)
            self.assertIn("(heatmap 32x32)", run.stdout)

    def test_a_server_error_exits_1_with_its_code_and_message(self) -> None:
        run = run_cli("--addr", self.address, "--image", str(self.image), "--model", "no-such-model", "--out",
                      tempfile.gettempdir())
        self.assertEqual(run.returncode, 1)
        self.assertIn("camserve-explain: NOT_FOUND: unknown model 'no-such-model'", run.stderr)

    def test_an_unreadable_image_exits_2(self) -> None:
        run = run_cli("--addr", self.address, "--image", "/no/such/image.png")
        self.assertEqual(run.returncode, 2)
        self.assertIn("--image: cannot read /no/such/image.png", run.stderr)


if __name__ == "__main__":
    unittest.main()
