"""`python -m faq.e5kernel`: build the sentence encoder's kernel ahead (scripts/setup runs it)."""

import sys

from faq.e5kernel import main

sys.exit(main())
