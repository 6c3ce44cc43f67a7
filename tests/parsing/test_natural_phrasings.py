"""The rules parser on natural phrasings kept out of the labelled corpus: scored apart, never tuned against.

`tests/data/natural_phrasings.json` (70 phrasings) was written after the parser's rules, as players type, and
the parser was not changed to fit it: it scored 0.829 on the rules before the last vocabulary change and 0.900
after, neither run looked at while the change was made. The sets held out before it were tuned against and now
belong to the labelled corpus. Its score is the honest figure for phrasings nobody listed; the floor only guards
against a change that makes things worse.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import report_corpus_score
from tests.parsing.corpus import load_corpus, score
from xianxia.parsing.rules import RulesParser
from xianxia.world import load_world

HELD_OUT = Path(__file__).parent.parent / "data" / "natural_phrasings.json"
#: Measured 0.900 (70 phrasings); see docs/WORLD.md.
FLOOR = 0.85


def test_natural_phrasings_score_above_the_floor() -> None:
    corpus = load_corpus(HELD_OUT)
    parser = RulesParser(load_world())
    accuracy, misses = score(parser.interpret, corpus)
    report_corpus_score("rules parser, held-out natural phrasings", accuracy, len(corpus))
    assert len(corpus) >= 70
    assert accuracy >= FLOOR, "\n".join(str(m) for m in misses)
