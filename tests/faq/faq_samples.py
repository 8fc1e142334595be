"""Small knowledge bases written into tmp_path for the faq tests."""

from __future__ import annotations

from pathlib import Path

import pytest

LANGUAGES = ("en", "el", "lv", "hu")

SHOP_YAML = """\
team: support
entries:
  - id: refund-window
    team: billing
    tags: [returns]
    questions:
      en:
        - How long do I have to return an item?
        - can i still send it back after 3 weeks
      el:
        - Πόσο καιρό έχω για να επιστρέψω ένα προϊόν;
        - Πώς μπορώ να επιστρέψω ένα προϊόν;
      lv:
        - Kā es varu atgriezt preci?
        - Cik ilgā laikā ir iespējama preces atgriešana?
      hu:
        - Hogyan kérhetem vissza a pénzemet?
        - Szeretném kérni a vételár visszatérítését
    answer:
      en: You can return any item within 30 days of delivery.
      el: Μπορείτε να επιστρέψετε οποιοδήποτε προϊόν μέσα σε 30 ημέρες.
  - id: opening-hours
    questions:
      en:
        - What are your opening hours?
        - When is the shop open?
      el:
        - Τι ώρες είναι ανοιχτό το κατάστημα;
      lv:
        - Kāds ir veikala darba laiks?
      hu:
        - Mikor van nyitva az üzlet?
    answer:
      en: We are open 9-17 on weekdays.
      lv: Mēs strādājam darba dienās 9-17.
  - id: password-reset
    questions:
      - I forgot my password
      - How do I reset my password?
    answer: Use the "Forgot password" link on the sign-in page.
  - id: delivery-time
    team: logistics
    questions:
      en:
        - How long does delivery take?
        - When will my parcel arrive?
      el:
        - Πότε θα φτάσει το δέμα μου;
      lv:
        - Kad pienāks mana paka?
      hu:
        - Mikor érkezik meg a csomagom?
    answer:
      hu: A szállítás 2-3 munkanap.
      el: Η παράδοση διαρκεί 2-3 εργάσιμες.
"""


def write(folder: Path, name: str, text: str) -> Path:
    """Write one knowledge base file and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def shop_dir(tmp_path: Path) -> Path:
    """A folder holding a small four-language shop knowledge base."""
    folder = tmp_path / "kb"
    write(folder, "shop.yaml", SHOP_YAML)
    return folder
