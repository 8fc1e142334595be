"""`scipy.sparse` for the matcher, imported without the numpy submodules it never uses.

Importing scipy.sparse imports scipy's array-API layer, which copies every public name of numpy into a
namespace of its own with `from numpy import *`. numpy lists its lazily loaded submodules among those
names (f2py, testing, ma, polynomial, ...), so that copy imports them all, with unittest behind them:
half of scipy.sparse's import time, ~0.3-0.5 s of CPU at every worker start. Here they are hidden from
numpy's `__all__` and `dir()` for the time of that import, and the copy finds them in numpy when asked
(its `__getattr__`), so nothing scipy could look up is missing.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

# numpy's submodules that numpy itself loads only on first use, and the matcher never uses.
_LAZY = ("f2py", "testing", "ma", "polynomial", "ctypeslib", "rec", "char", "strings", "emath")
_NAMESPACE = "scipy._lib.array_api_compat.numpy"  # the copy


def _import_sparse() -> None:
    if "scipy.sparse" in sys.modules:
        return
    hidden = {name for name in _LAZY if f"numpy.{name}" not in sys.modules}
    saved_all, saved_dir = np.__all__, np.__dict__.get("__dir__")
    np.__all__ = [name for name in saved_all if name not in hidden]
    if saved_dir is not None:
        setattr(np, "__dir__", lambda: [name for name in saved_dir() if name not in hidden])  # noqa: B010
    try:
        importlib.import_module("scipy.sparse")
    finally:
        np.__all__ = saved_all
        if saved_dir is not None:
            setattr(np, "__dir__", saved_dir)  # noqa: B010
    copy = sys.modules.get(_NAMESPACE)
    if copy is not None and "__getattr__" not in vars(copy):

        def from_numpy(name: str) -> Any:
            if name in hidden:
                return getattr(np, name)
            raise AttributeError(f"module {_NAMESPACE!r} has no attribute {name!r}")

        setattr(copy, "__getattr__", from_numpy)  # noqa: B010 - PEP 562: looked up in the module's dict


_import_sparse()

import scipy.sparse as sp  # noqa: E402 - imported above, found in sys.modules here

__all__ = ["sp"]
