"""Customer and agent text made safe to store and show: no control characters, bounded length."""

from __future__ import annotations

import unicodedata

# Format characters (Cf: joiners in emoji, direction marks) are kept; controls and junk go.
_DROPPED_CATEGORIES = {"Cc", "Cs", "Co", "Cn"}


def clean_text(text: str, limit: int) -> tuple[str, bool]:
    """Drop control characters and surrounding blanks; cut at `limit`. Returns (text, was_cut)."""
    cleaned = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    cleaned = cleaned.strip()
    if len(cleaned) > limit:
        return cleaned[:limit].rstrip() + "…", True
    return cleaned, False
