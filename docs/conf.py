"""Sphinx configuration of the euv2mag documentation.

Build with ``make docs`` (output in ``docs/_build/html``).  The API reference is generated
from the docstrings of the source tree next to this file (``../src``), not of an installed
copy, so the pages always describe the code being built.  No extension needs the network
(intersphinx is deliberately off).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import euv2mag  # noqa: E402  (after the path set-up above)

project = "euv2mag"
author = "the euv2mag developers"
copyright = "the euv2mag developers; BSD-3-Clause licence"
release = euv2mag.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"
language = "en"

# API reference: one generated page per module, found recursively from the subpackages named in
# api.rst, so modules that are added or renamed appear without editing the docs.  Public names
# follow each module's ``__all__`` (a package page lists what the package exports).
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_ignore_module_all = False
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections carry types, shapes and units
autoclass_content = "class"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

html_theme = "pydata_sphinx_theme"
html_title = f"euv2mag {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
}
html_show_sourcelink = False

# Docstrings write absolute values the way physicists do, ``|B|``, ``|B_LOS|``, ``|ΔL0|``; in
# reStructuredText ``|name|`` is a substitution reference.  Define each one used to render as
# written (the escaped bars are literal), so the docstrings stay readable as plain text too.
_ABSOLUTE_VALUES = ("B", "B*", "B_LOS", "B_r", "a - b", "ΔL0", "fake - real", "G(x) - y", "pred - obs",
                    "TUMF_pred - TUMF_obs", "NMF_pred - NMF_obs", "NMF_obs", "grad B")
rst_prolog = "\n".join(f".. |{name}| replace:: \\|{name}\\|" for name in _ABSOLUTE_VALUES) + "\n"
