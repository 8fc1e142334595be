"""Saved replies for `/helpline reply NAME`: one YAML file per reply, one text per language.

```yaml
# config/replies/greeting.yaml
en: "Hello $customer_name, ..."
el: "Γεια σας $customer_name, ..."
```
`$customer_name`, `$agent_name` and `$case` are filled in; the first language is the fallback.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping
from pathlib import Path

import yaml

from faq.bounded_yaml import YamlLimitError, YamlLimits, load_yaml_file

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
REPLY_LIMITS = YamlLimits(max_bytes=256 * 1024, max_depth=8)  # one short text per language


def load_saved_replies(folder: Path) -> dict[str, dict[str, str]]:
    """Every `*.yaml` in `folder` as {name: {language: text}}; a broken file is logged and left out."""
    replies: dict[str, dict[str, str]] = {}
    if not folder.is_dir():
        log.info("no saved replies: %s is not a folder", folder)
        return replies
    for path in sorted(folder.glob("*.yaml")):
        name = path.stem.lower()
        try:
            data = load_yaml_file(path, REPLY_LIMITS)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, YamlLimitError) as error:
            log.warning("saved reply %s left out: %s", path, error)
            continue
        if not _NAME.match(name) or not isinstance(data, dict):
            log.warning("saved reply %s left out: expected a mapping of language to text", path)
            continue
        texts = {str(lang): text for lang, text in data.items() if isinstance(text, str) and text.strip()}
        if not texts:
            log.warning("saved reply %s left out: no texts", path)
            continue
        replies[name] = texts
    return replies


def render_saved_reply(texts: Mapping[str, str], language: str, **values: object) -> str:
    """The reply in `language` (else the file's first language) with the placeholders filled in."""
    template = texts.get(language) or next(iter(texts.values()))
    return string.Template(template).safe_substitute({key: str(value) for key, value in values.items()})
