"""Domain vocabulary of Wipon's market: product-name spellings.

The synonym groups (a query word also finding sections that use another word of
its group) are in the KB's own files, `_synonyms.yaml` (see `kb.loader`), where the
people who write the KB can extend them; the spellings here change the index.

Written from knowledge of the domain (Kazakh retail, fiscal law, Wipon's product
line), not from evaluation questions: customers write product names in Latin or
Cyrillic, in full or abbreviated, and ask about the same thing with different words.
All entries are lemmas (pymorphy3 normal forms, lower case, ё → е).
"""

from __future__ import annotations

# Spelling variants → the form the KB mostly uses. Applied to every token of both
# documents and queries, so the variants become the same term.
ALIASES: dict[str, str] = {
    # the brand, as customers spell it by ear
    "вайпон": "wipon",
    "випон": "wipon",
    "уипон": "wipon",
    "виппон": "wipon",
    "вайпн": "wipon",
    "wippon": "wipon",
    "вiпон": "wipon",
    # product line and tariffs
    "kassa": "касса",
    "десктоп": "desktop",
    "лайт": "lite",
    "стандарт": "standard",
    "standart": "standard",
    "стандард": "standard",
    "tis": "тис",
    "мини": "mini",
    "дуо": "duo",
    "трипл": "triple",
    "квадро": "quadro",
    "премиум": "premium",
    "бизнес": "business",
    # marketplaces, banks, messengers, software customers mention
    "каспи": "kaspi",
    "халык": "halyk",
    "халик": "halyk",
    "ватсап": "whatsapp",
    "вотсап": "whatsapp",
    "ватсапп": "whatsapp",
    "вацап": "whatsapp",
    "whatsup": "whatsapp",
    "инстаграм": "instagram",
    "инстаграмм": "instagram",
    "инста": "instagram",
    "телеграм": "telegram",
    "телеграмм": "telegram",
    "эксель": "excel",
    "ексель": "excel",
    "иксель": "excel",
    "1c": "1с",
    "андроид": "android",
    "айфон": "iphone",
    "ios": "iphone",
    "виндовс": "windows",
    "винда": "windows",
    "зебра": "zebra",
    "энидеск": "anydesk",
    "анидеск": "anydesk",
    "датаматрикс": "datamatrix",
    "вайфай": "wifi",
    "вифи": "wifi",
    # Latin spellings of Russian abbreviations
    "ofd": "офд",
    "kkm": "ккм",
    "esf": "эсф",
    "snt": "снт",
    "ukm": "укм",
    # Words whose first dictionary reading is wrong here: "данные" is read as a
    # participle of "дать", while "данных" is read as the noun, so the same data
    # would be two terms.
    "данные": "данные",
    # "стоят" is read as "стоять" (to stand); a customer asking "сколько стоят…"
    # means the price, and the KB's "стоит" is "стоить".
    "стоят": "стоить",
    # informal words
    "инет": "интернет",
    "оффлайн": "офлайн",
    "offline": "офлайн",
    "онлайн-касса": "касса",
    "сканнер": "сканер",
    "прога": "программа",
    "комп": "компьютер",
    "ноут": "ноутбук",
    "штрихкод": "штрих-код",
    "штрихкодовый": "штрих-код",
}

# "Про" is a preposition and a stop word, except right after a product word, where
# it is the Pro tariff or module ("тариф про", "вайпон про").
PRO_CONTEXT: frozenset[str] = frozenset(
    {"тариф", "комплект", "wipon", "версия", "пакет", "модуль", "лицензия", "касса"}
)
