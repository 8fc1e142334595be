"""Keeps a knowledge base in service while admins edit its files: reload on change, keep the last good one."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import KnowledgeBaseError, Problem
from .kb import KnowledgeBase, build_default_matcher, load_knowledge_base
from .loader import knowledge_base_files

if TYPE_CHECKING:
    from .matcher import MatcherFactory

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


def folder_signature(path: Path) -> Signature:
    """Names, modification times and sizes of the knowledge base files: changes when any file does."""
    signature = []
    for file in knowledge_base_files(path):
        try:
            stat = file.stat()
        except OSError:  # removed between listing and stat; the next poll sees the new state
            continue
        signature.append((file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


class LiveKnowledgeBase:
    """The knowledge base currently in service. The first load must succeed (raises KnowledgeBaseError);
    later broken edits are logged and the last good knowledge base stays."""

    def __init__(self, path: Path, languages: Sequence[str], matcher_factory: MatcherFactory = build_default_matcher) -> None:
        self.path = Path(path)
        self.languages = tuple(languages)
        self._matcher_factory = matcher_factory
        # Loads and installs one at a time (the watch loop's and a warm-up's): a load that starts later
        # reads newer files, so it is also installed later.
        self._loading = threading.Lock()
        self._signature = self._safe_signature()
        self.current: KnowledgeBase = load_knowledge_base(self.path, self.languages, matcher_factory)
        self.problems: list[Problem] = []
        self._start_warm_up(self.current)

    def reload_now(self) -> bool:
        """Load the folder again; True when a new knowledge base went into service."""
        with self._loading:
            # Taken before loading: an edit made while loading changes the signature again and is seen next poll.
            self._signature = self._safe_signature()
            return self._install(self._load())

    async def watch(self, interval: float) -> None:
        """Poll the folder every `interval` seconds and reload on change, loading off the event loop.

        Nothing but cancellation ends the watch: a check that fails unexpectedly is logged, the last good
        knowledge base stays in service, and the next poll looks again.
        """
        while True:
            await asyncio.sleep(interval)
            try:
                signature = await asyncio.to_thread(self._safe_signature)
                if signature == self._signature:
                    continue
                await asyncio.to_thread(self._reload_changed, signature)
            except Exception as exc:  # noqa: BLE001 - a dead watcher would silently stop every later reload
                log.exception("watching the knowledge base in %s failed; the one in service stays, "
                              "looking again in %ss", self.path, interval)
                self.problems = [Problem(self.path, None, f"unexpected error while reloading: {exc!r}")]

    def _reload_changed(self, signature: Signature) -> None:
        with self._loading:
            self._signature = signature
            self._install(self._load())

    def _safe_signature(self) -> Signature:
        try:
            return folder_signature(self.path)
        except OSError as exc:
            log.warning("cannot list knowledge base folder %s: %s", self.path, exc)
            return ()

    def _load(self) -> KnowledgeBase | list[Problem]:
        try:
            knowledge_base = load_knowledge_base(self.path, self.languages, self._matcher_factory)
            if knowledge_base.matches:  # one that never matches never detects a message's language either
                knowledge_base.language_profile  # noqa: B018 - learnt here, off the event loop, not on the first match
            return knowledge_base
        except KnowledgeBaseError as exc:
            return exc.problems
        except Exception as exc:  # noqa: BLE001 - any failure must leave the last good knowledge base serving
            log.exception("unexpected error while reloading the knowledge base in %s", self.path)
            return [Problem(self.path, None, f"unexpected error while loading: {exc!r}")]

    def _install(self, loaded: KnowledgeBase | list[Problem]) -> bool:
        if isinstance(loaded, KnowledgeBase):
            self.current = loaded
            self.problems = []
            log.info("knowledge base reloaded from %s: %d entries, matching with %s", self.path, len(loaded.entries),
                     loaded.describe())
            self._start_warm_up(loaded)
            return True
        self.problems = loaded
        log.error(
            "knowledge base in %s not reloaded, %d problem(s); the last good one stays in service:\n%s",
            self.path, len(loaded), "\n".join(f"  {p}" for p in loaded),
        )
        return False

    def _start_warm_up(self, knowledge_base: KnowledgeBase) -> None:
        """Embed the questions of a knowledge base that went into service without its sentence model, in a
        thread of their own, then load it again with the model. A newer knowledge base stops the work."""
        warm_up = knowledge_base.warm_up
        if warm_up is None:
            return

        def run() -> None:
            try:
                if warm_up(lambda: self.current is not knowledge_base) and self.current is knowledge_base:
                    self.reload_now()
            except Exception:  # noqa: BLE001 - the knowledge base in service stays as it is
                log.exception("embedding the questions of the knowledge base in %s failed", self.path)

        threading.Thread(target=run, name="faq-embeddings", daemon=True).start()
        log.info("knowledge base in %s: embedding its questions in the background (%s)", self.path, knowledge_base.describe())
