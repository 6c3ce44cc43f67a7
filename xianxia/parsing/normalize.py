"""Text normalisation shared by the rules parser's vocabulary and its input."""

from __future__ import annotations

import unicodedata

#: Upstream already limits text; this keeps the parser cheap on anything it is handed.
MAX_UTTERANCE_CHARS = 500

#: Unicode categories kept as text: letters, numbers and combining marks. Everything else separates words.
_KEPT_CATEGORIES = ("L", "N", "M")


def is_word_char(char: str) -> bool:
    """An ASCII letter or digit: the characters an English word boundary cares about."""
    return char.isascii() and char.isalnum()


def compact(text: str) -> str:
    """NFKC, case-folded, without whitespace or control characters (for punctuation-only phrases like "?")."""
    folded = unicodedata.normalize("NFKC", text[:MAX_UTTERANCE_CHARS]).casefold()
    return "".join(char for char in folded if not char.isspace() and unicodedata.category(char)[0] != "C")


def normalize(text: str) -> str:
    """Fold width and case, turn punctuation, symbols and controls into spaces, keep spaces only inside English."""
    folded = unicodedata.normalize("NFKC", text[:MAX_UTTERANCE_CHARS]).casefold()[:MAX_UTTERANCE_CHARS]
    cleaned = "".join(char if unicodedata.category(char)[0] in _KEPT_CATEGORIES else " " for char in folded)
    words = cleaned.split()
    if not words:
        return ""
    # Chinese has no spaces: "去 坊市" means "去坊市". A space survives only between two English words.
    joined = [words[0]]
    for word in words[1:]:
        if is_word_char(joined[-1][-1]) and is_word_char(word[0]):
            joined.append(" ")
        joined.append(word)
    return "".join(joined)
