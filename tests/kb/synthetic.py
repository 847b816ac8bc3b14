"""Facts for synthetic test KBs: unrelated sections that give the shared words of a
pair a realistic rarity (IDF) when a test builds a KB of a handful of sections."""

from __future__ import annotations

FILLER_FACTS = [
    "Отчёты по выручке строятся за любой период.",
    "Приёмка товара от поставщика по накладной.",
    "Инвентаризация склада с терминала сбора данных.",
    "Скидки и акции настраиваются в карточке товара.",
    "Печать ценников на принтере этикеток.",
    "Учёт рабочего времени кассиров по сменам.",
    "Возврат товара оформляется по чеку продажи.",
    "Маркировка табака и алкоголя по кодам.",
]
