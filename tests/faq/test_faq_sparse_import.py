"""The matcher imports scipy.sparse without the numpy submodules scipy's array-API layer would load for
nothing (faq/sparse.py), and that layer still finds them when asked. Checked in a fresh interpreter by what
`sys.modules` holds, never by timing."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

UNUSED = ("numpy.f2py", "numpy.testing", "numpy.ma", "numpy.polynomial", "unittest")

PROBE = f"""
import json, sys
import faq.matcher
loaded = sorted(name for name in {UNUSED!r} if name in sys.modules)
import numpy
import scipy._lib.array_api_compat.numpy as copy
asked = [copy.ma is numpy.ma, copy.polynomial is numpy.polynomial, copy.ndarray is numpy.ndarray]
try:
    copy.no_such_name
    missing = False
except AttributeError:
    missing = True
print("PROBE " + json.dumps({{"loaded": loaded, "asked": asked, "missing": missing,
                              "all": "ma" in numpy.__all__ and "f2py" in dir(numpy)}}))
"""


def test_the_matcher_loads_no_unused_numpy_submodules_and_scipy_still_finds_them() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    probe = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("PROBE ")).removeprefix("PROBE "))
    assert probe["loaded"] == [], f"importing the matcher loaded {probe['loaded']}"
    assert probe["asked"] == [True, True, True]  # asked for, they are numpy's own
    assert probe["missing"]  # and a name numpy lacks is still an AttributeError
    assert probe["all"]  # numpy's __all__ and dir() are as they were
