"""Quick replies where a channel has no buttons (e-mail, the terminal): listed, and picked by what is typed.

Options are numbered and a number picks one, except on a scale (options labelled with numbers,
such as NPS 0-10): there "7" means the score 7, not the seventh option, so the labels are listed
as they are and a reply picks the option whose label it is.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_OPTION_REPLY_CHARS = 40  # a reply that picks an option is a number or a short label, never a paragraph


def is_scale(labels: Sequence[str]) -> bool:
    """Options labelled with numbers: answered by the label, so they are not numbered too."""
    return any(label.isascii() and label.isdigit() for label in labels)


def pick_option(options: Sequence[tuple[str, str]], text: str) -> str | None:
    """The value of the (value, label) option a reply picks: by its number, or by its label on a scale."""
    stripped = text.strip().rstrip(".)!").strip()
    if not stripped or len(stripped) > MAX_OPTION_REPLY_CHARS:
        return None
    if is_scale([label for _, label in options]):
        wanted = stripped.casefold()
        return next((value for value, label in options if label.casefold() == wanted), None)
    if stripped.isascii() and stripped.isdigit() and 1 <= int(stripped) <= len(options):
        return options[int(stripped) - 1][0]
    return None


def listed(labels: Sequence[str]) -> list[str]:
    """The options as plain-text lines: numbered, or a scale on one line."""
    if is_scale(labels):
        return [" · ".join(labels)]
    return [f"{number}) {label}" for number, label in enumerate(labels, start=1)]
