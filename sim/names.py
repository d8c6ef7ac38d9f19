"""Names that become folder names (scenario and experiment names, batch labels): one safe path component.

Kept apart (no imports) so the config layer and the store share one rule.
"""

from __future__ import annotations

import re

MAX_LENGTH = 150
NAME_RULE = (
    f"one folder name of letters, digits and _ . = + - (not starting with . or -), at most {MAX_LENGTH} "
    "characters"
)
_NAME = re.compile(rf"\w[\w.=+-]{{0,{MAX_LENGTH - 1}}}")


def is_folder_name(text: object) -> bool:
    """Whether ``text`` is safe as one folder name (no separator, no ``..``, not hidden, not empty)."""
    return isinstance(text, str) and _NAME.fullmatch(text) is not None
