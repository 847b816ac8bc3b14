"""Cities of Kazakhstan, found in text in any case form ("в Шымкенте", "по
Астане", "Алматы").

Two rules need them: a bare "Тараз, 87011234567" is a city and a phone, not a
name (rules.contacts), and a price or discount that the KB gives for one city
may be promised only for that city (rules.guards).
"""

from __future__ import annotations

import re

# Canonical name → the stems that find it (Russian and Kazakh spellings, old
# names); a stem ending in "=" is a whole word ("орал", not "оралман"), one
# starting with "^" counts only when capitalized.
_STEMS: dict[str, tuple[str, ...]] = {
    "Алматы": ("алмат", "алма-ат", "almaty="),
    "Астана": ("астан", "нур-султан", "нурсултан", "нұр-сұлтан", "astana=", "nur-sultan="),
    "Шымкент": ("шымкент", "чимкент", "shymkent="),
    "Караганда": ("караганд", "қарағанд", "karaganda="),
    "Актобе": ("актобе", "ақтөбе", "актюбинск", "aktobe="),
    "Тараз": ("тараз", "taraz="),
    "Павлодар": ("павлодар", "pavlodar="),
    # Whole forms only: a stem "семе" would find "семена" and "семестр".
    "Семей": ("^семей=", "семея=", "семее=", "семею=", "семеем=", "семипалатинск"),
    "Оскемен": ("оскемен", "өскемен", "усть-каменогорск"),
    "Атырау": ("атырау", "atyrau="),
    "Костанай": ("костана", "қостана"),
    "Кызылорда": ("кызылорд", "қызылорд"),
    # Not "уральский", not "оралман".
    "Уральск": (
        "уральск=",
        "уральска=",
        "уральске=",
        "уральску=",
        "^уральском=",
        "^орал=",
        "^орале=",
    ),
    "Петропавловск": ("петропавловск", "петропавл"),
    "Актау": ("актау", "ақтау", "aktau="),
    "Темиртау": ("темиртау",),
    "Туркестан": ("туркестан", "түркістан"),
    "Кокшетау": ("кокшетау", "көкшетау"),
    "Талдыкорган": ("талдыкорган", "талдықорған"),
    "Экибастуз": ("экибастуз",),
    "Жезказган": ("жезказган", "жезқазған"),
    "Рудный": ("^рудный=", "^рудного=", "^рудном="),
    "Жанаозен": ("жанаозен", "жаңаөзен"),
    "Конаев": ("конаев", "қонаев", "капшагай"),
    "Балхаш": ("балхаш",),
}
_LETTER = "а-яёәғқңөұүһі"
_CITY_OF = {stem.strip("^="): city for city, stems in _STEMS.items() for stem in stems}
_ALL_STEMS = [stem for stems in _STEMS.values() for stem in stems]
_EXACT = [stem.strip("^=") for stem in _ALL_STEMS if stem.endswith("=")]
_INFLECTED = [stem.lstrip("^") for stem in _ALL_STEMS if not stem.endswith("=")]
# Forms that are also common words ("семей" of семья, "орал" of орать, the
# adjectives "рудный", "уральском"): a city only when written with a capital.
_CAPITALIZED_ONLY = frozenset(stem.strip("^=") for stem in _ALL_STEMS if stem.startswith("^"))
# A stem plus a case ending of up to three letters, as a whole word ("Астане",
# "Шымкентом", but not "астанинский"); a hyphen separates words ("Алматы-Астана").
# One alternation over all stems, longest first: a regex per city would scan every
# line 25 times.
_PATTERN = re.compile(
    rf"(?<!\w)(?:(?P<exact>{'|'.join(map(re.escape, sorted(_EXACT, key=len, reverse=True)))})"
    rf"|(?P<stem>{'|'.join(map(re.escape, sorted(_INFLECTED, key=len, reverse=True)))})"
    rf"[{_LETTER}]{{0,3}})(?!\w)",
    re.IGNORECASE,
)

# The first three letters of every stem: most text names no city, and a set lookup
# per word rules that out several times faster than the pattern's scan.
_PREFIXES = frozenset(stem[:3] for stem in _CITY_OF)
_WORD = re.compile(r"\w+")
# What may stand between the names of a list of cities: "Алматы, Астана и Шымкент".
_CONNECTORS = frozenset({"и", "или", "а", "также", "г", "город", "городах", "в", "по"})


def cities_in(text: str) -> set[str]:
    """The canonical names of the cities `text` mentions."""
    lowered = text.lower()
    if not any(word[:3] in _PREFIXES for word in _WORD.findall(lowered)):
        return set()
    found = set()
    for match in _PATTERN.finditer(lowered.replace("ё", "е")):
        key = match.group("exact") or match.group("stem")
        if key in _CAPITALIZED_ONLY and not text[match.start()].isupper():
            continue
        found.add(_CITY_OF[key])
    return found


def only_cities(text: str) -> bool:
    """True when `text` names cities and nothing else but connectors and
    punctuation: the "Астана, Шымкент)" that ends "от 140 000 ₸ (Алматы, Астана,
    Шымкент)"."""
    if not cities_in(text):
        return False
    rest = _PATTERN.sub(" ", text.lower().replace("ё", "е"))
    return set(_WORD.findall(rest)) <= _CONNECTORS
