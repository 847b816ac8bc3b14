"""Capability statements ("касса может показывать рекламу", "программа умеет
…", "есть функция …") checked against what this turn's facts and the
conversation say: a statement whose content words are mostly in neither is an
invented capability.

A capability statement is a declarative sentence with a marker of ability
(можно, может, умеет, позволяет, поддерживает, функция, возможность) said of
the product, not the customer's or our offers ("вы можете оставить номер",
"можем показать на видеозвонке"). Its content words are compared by lemma,
and by stem for derived words ("печать" / "печатать"); `min_grounded` is the
share of them that must come from the sources (tuned on the replay suite's
good answers: bench/guards.py prints the false-positive rate)."""

from __future__ import annotations

from dataclasses import dataclass

from core.text.morph import word_set
from rules.guards.lemmas import Sources, Word, is_content, words

MARKERS = word_set("можно мочь уметь позволять позволить поддерживать функция возможность")
# Words of every capability statement that say nothing about which capability.
GENERIC = word_set("""
    можно мочь уметь позволять позволить поддерживать функция возможность
    есть быть программа система сервис приложение wipon также тоже сразу
    весь свой наш ваш это который очень просто легко удобно
""")
_OFFER_PERSONS = ("1per", "2per")
THINGS = frozenset({"NOUN", "LATN"})
# "может быть", "может показаться": a supposition, not an ability.
_EPISTEMIC = word_set("быть казаться показаться оказаться стоить")


@dataclass(frozen=True, slots=True)
class Grounding:
    """How much of a capability statement its sources give."""

    content: tuple[str, ...]
    missing: tuple[str, ...]
    missing_things: tuple[str, ...] = ()
    """Missing nouns and names: what the capability would work on or with."""

    @property
    def share(self) -> float:
        return 1.0 - len(self.missing) / len(self.content) if self.content else 1.0


def _is_offer(ws: list[Word]) -> bool:
    """Whether a marker is in the first or second person ("можете", "можем"):
    what the customer or we may do is an offer, not the product's ability."""
    return any(w.lemma in MARKERS and any(p in w.tag for p in _OFFER_PERSONS) for w in ws)


def _abilities(ws: list[Word]) -> list[Word]:
    """The markers of ability in `ws`, suppositions ("может быть") and negated
    ones ("не поддерживает": a denial, rules.guards.denial) left out."""
    out = []
    for i, w in enumerate(ws):
        if w.lemma not in MARKERS or (i > 0 and ws[i - 1].lemma == "не"):
            continue
        following = ws[i + 1] if i + 1 < len(ws) else None
        if w.lemma == "мочь" and following is not None and following.lemma in _EPISTEMIC:
            continue
        out.append(w)
    return out


def capability_grounding(sentence: str, sources: Sources) -> Grounding | None:
    """The grounding of `sentence` if it states a capability of the product, else None."""
    if sentence.rstrip().endswith("?"):
        return None
    ws = words(sentence)
    if not _abilities(ws) or _is_offer(ws):
        return None
    kept = [w for w in ws if is_content(w) and w.lemma not in GENERIC]
    content = tuple(dict.fromkeys(w.lemma for w in kept))
    missing = tuple(x for x in content if not sources.has(x))
    things = {w.lemma for w in kept if w.pos in THINGS}
    return Grounding(content, missing, tuple(x for x in missing if x in things))


def invented_capability(sentence: str, sources: Sources, min_grounded: float) -> bool:
    """Whether `sentence` states a capability its sources do not give: an object
    or a name they never mention ("рекламу партнёров", "Telegram"), or too small
    a share of its words. The verbs around a grounded object vary with the
    wording ("взять в рассрочку", "покажет"); the objects do not."""
    grounding = capability_grounding(sentence, sources)
    if grounding is None:
        return False
    return bool(grounding.missing_things) or grounding.share < min_grounded
