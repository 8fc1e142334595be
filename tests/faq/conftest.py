"""Makes `import faq` find the real package, not this test folder.

tests/conftest.py puts tests/ on sys.path, where tests/faq looks like a namespace package named
`faq` that shadows the editable install. A regular package anywhere on sys.path beats a namespace
portion, so the repository root is appended (the proper fix is `pythonpath = ["."]` in pytest's ini).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE.parents[1]), str(_HERE)):  # the repository root, and this folder for faq_samples
    if _path not in sys.path:
        sys.path.append(_path)
_loaded = sys.modules.get("faq")
if _loaded is not None and getattr(_loaded, "__file__", None) is None:
    del sys.modules["faq"]  # a namespace stand-in imported before this ran
