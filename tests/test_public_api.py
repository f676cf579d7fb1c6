"""The public API: every subpackage exports its names (``__all__``), and light imports stay light."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["euv2mag.data", "euv2mag.audit", "euv2mag.model", "euv2mag.report"])
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_audit_and_data_import_without_torch():
    code = ("import sys, euv2mag.audit, euv2mag.data, euv2mag.report; "
            "print('torch' in sys.modules, euv2mag.audit.audit_stores.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "euv2mag.audit.pipeline"]


def test_user_error_is_a_value_error_naming_the_parameter():
    from euv2mag.audit import audit_stores
    from euv2mag.errors import UserError

    with pytest.raises(ValueError) as err:
        audit_stores("no-such-truth.zarr", [], n_boot=-1)
    assert isinstance(err.value, UserError) and str(err.value).startswith("n_boot: ")
