"""The documentation builds with warnings as errors and carries the API and the measured numbers."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    for module in ("sphinx", "numpydoc", "pydata_sphinx_theme"):
        pytest.importorskip(module)
    out = tmp_path / "html"
    # A separate process: Sphinx's -W turns every docstring or page problem into a failure,
    # and the build's own deprecation warnings stay out of this suite's warning filters.
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, timeout=480,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"

    api = (out / "api.html").read_text(encoding="utf-8")
    assert "euv2mag.audit.audit_stores" in api
    # The subpackages are walked recursively: a module page exists for each audit module.
    for module in ("fulldisk", "bootstrap", "pil"):
        assert (out / "generated" / f"euv2mag.audit.{module}.html").is_file()
    # one canonical description per object, in its defining module; the package page lists it
    pipeline = (out / "generated" / "euv2mag.audit.pipeline.html").read_text(encoding="utf-8")
    assert 'id="euv2mag.audit.pipeline.audit_stores"' in pipeline
    package = (out / "generated" / "euv2mag.audit.html").read_text(encoding="utf-8")
    assert "audit_stores" in package

    # Numbers measured in the README moved to the user guide unchanged.
    demo = (out / "demo.html").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    abs_cc_row = next(line for line in readme.splitlines() if line.startswith("| \\|B\\| pixel CC"))
    cells = re.split(r"(?<!\\)\|", abs_cc_row)  # table cells (an escaped \| is not a separator)
    seed0 = cells[2].split(" / ")[0].strip()  # |B| CC of seed 0, default demo
    assert re.fullmatch(r"0\.\d\d \[0\.\d\d, 0\.\d\d\]", seed0) and seed0 in demo
    run_time = re.search(r"\*\*(\d+ min \d+ s)\*\*\s+wall for the whole", readme).group(1)
    assert run_time in demo
    synth = (out / "synthetic-sun.html").read_text(encoding="utf-8")
    assert "5.74e22 Mx" in synth  # calibration: TUMF of the real 2016-07-07 map
