"""Lazy re-exports of a subpackage's public names (PEP 562), so light imports stay light.

``euv2mag.model`` must not import torch, nor ``euv2mag.data`` sunpy or torch, nor
``euv2mag.report`` matplotlib, until a name that needs them is used.
"""
from __future__ import annotations

import importlib
from typing import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, sources: Mapping[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``, importing ``package.<sources[name]>`` on first access.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    sources : mapping of str to str
        Public name -> submodule (relative name) that defines it.
    namespace : dict
        The package's ``globals()``; a resolved name is cached there.

    Examples
    --------
    >>> ns = {}
    >>> getattr_, dir_ = lazy_exports("euv2mag.audit", {"solar_cycle": "hale"}, ns)
    >>> getattr_("solar_cycle").__module__, "solar_cycle" in ns
    ('euv2mag.audit.hale', True)
    """
    def __getattr__(name: str):
        try:
            module = sources[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(sources))

    return __getattr__, __dir__
