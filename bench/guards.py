"""The guard's catch rate on injected bad drafts and its false-positive rate on
good ones, over the recorded-dialogue suite.

    .venv/bin/python -m bench.guards

Every dialogue under tests/dialogues is replayed through the service (as the
tests do) and the guard's input of each turn is kept: this turn's KB facts, the
profile, the phase, the customer's messages, the earlier answers. The final
scripted answer of every turn is a good answer (the suite's turns whose final
answer the guard edits on purpose are left out): a guard code on one is a false
positive. Then bad drafts are injected into those same turns, built from the
turn itself (its facts' products and prices, its profile): an invented price,
a price of another product, the other wordings of a price, a completed action,
an invented capability, a denial of something the facts never mention ("у
нас нет сайта"), two questions, a repeated greeting, English, a re-asked field.
A fault counts as caught when the guard finds any violation in the draft and
the repair removes the fault. The last line is
one JSON object with the figures.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.settings import load_settings
from rules.guards import Guard, GuardInput
from rules.guards.money import numbers_in
from tests.support import TESTS
from tests.support.dialogues import load_dialogue, replay
from tests.support.ollama_stub import OllamaStub

SEED = 20


@dataclass
class Turn:
    dialogue: str
    data: GuardInput


async def collect() -> list[Turn]:
    """The guard input of every good final answer of the suite."""
    files = sorted(
        p for p in (TESTS / "dialogues").rglob("*.yaml") if not p.name.endswith(".cassette.yaml")
    )
    seen: list[GuardInput] = []
    original = Guard.check
    depth = 0

    def recording(self: Guard, data: GuardInput) -> list[Any]:
        nonlocal depth
        if depth == 0:
            seen.append(data)
        depth += 1
        try:
            return original(self, data)
        finally:
            depth -= 1

    Guard.check = recording  # type: ignore[method-assign]
    turns: list[Turn] = []
    try:
        with OllamaStub() as stub:
            for path in files:
                loaded = load_dialogue(path)
                if loaded.format_problems() or "known_failures" in path.parts:
                    continue
                seen.clear()
                result = await replay(loaded, stub)
                stub.queue.clear()
                finals = _final_answers(loaded, result.observations)
                for data in seen:
                    if data.answer in finals:
                        turns.append(Turn(str(path.relative_to(TESTS)), data))
                        finals.discard(data.answer)
    finally:
        Guard.check = original  # type: ignore[method-assign]
    return turns


def _final_answers(loaded: Any, observed: list[Any]) -> set[str]:
    """The last scripted answer of each step, unless the step shows the guard
    repairing or editing that very draft (a guard code asserted, and the answer
    delivered is not that draft)."""
    out = set()
    for step, replies, seen in zip(loaded.dialogue.steps, loaded.replies, observed, strict=False):
        answers = [r for r in replies or [] if isinstance(r, str)]
        if not answers:
            continue
        if step.expect.guard_violations and seen.answer.strip() != answers[-1].strip():
            continue
        out.add(answers[-1])
    return out


# --- injected faults -----------------------------------------------------------------

Inject = Callable[[Turn, random.Random], tuple[str, str] | None]
"""A bad draft for a turn and the text of the fault (which the repair must remove)."""


def _free_amount(data: GuardInput, rng: random.Random) -> int:
    taken = numbers_in(data.kb_facts)
    while True:
        value = rng.randrange(11, 480) * 500
        if value not in taken and value != 500_000:
            return value


def _spaced(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _append(good: str, bad: str) -> str:
    """The fault before the closing question, as a model writes it."""
    parts = re.split(r"(?<=[.!?])\s+", good.strip())
    if parts and parts[-1].endswith("?"):
        return " ".join([*parts[:-1], bad, parts[-1]])
    return f"{good.strip()} {bad}"


def _price(template: str) -> Inject:
    def inject(turn: Turn, rng: random.Random) -> tuple[str, str]:
        value = _free_amount(turn.data, rng)
        bad = template.format(spaced=_spaced(value), dotted=f"{value:,}".replace(",", "."))
        return _append(turn.data.answer, bad), bad

    return inject


# Amounts of thousands in words, as a model writes them.
_IN_WORDS = {
    21: "двадцать одну",
    35: "тридцать пять",
    47: "сорок семь",
    63: "шестьдесят три",
    78: "семьдесят восемь",
    99: "девяносто девять",
    125: "сто двадцать пять",
    240: "двести сорок",
    333: "триста тридцать три",
    456: "четыреста пятьдесят шесть",
}


def _price_in_words(turn: Turn, rng: random.Random) -> tuple[str, str]:
    taken = numbers_in(turn.data.kb_facts)
    while True:
        thousands = rng.choice(list(_IN_WORDS))
        if thousands * 1000 not in taken:
            break
    bad = f"Внедрение обойдётся в {_IN_WORDS[thousands]} тысяч тенге."
    return _append(turn.data.answer, bad), bad


def _half_million(turn: Turn, rng: random.Random) -> tuple[str, str] | None:
    if 500_000 in numbers_in(turn.data.kb_facts):
        return None
    bad = "Полный комплект под ключ — полмиллиона тенге."
    return _append(turn.data.answer, bad), bad


def _percent_in_words(turn: Turn, rng: random.Random) -> tuple[str, str]:
    word = rng.choice(["двадцать семь", "тридцать пять", "сорок", "семнадцать"])
    bad = f"Сейчас на всё скидка {word} процентов."
    return _append(turn.data.answer, bad), bad


def _wrong_product(turn: Turn, rng: random.Random) -> tuple[str, str] | None:
    from rules.guards.binding import _statements

    given = [s for fact in turn.data.kb_facts for s in _statements(fact) if s.amount >= 1000]
    pairs = [
        (a, b)
        for a in given
        for b in given
        if a.product.name != b.product.name
        and a.product.kind is not None
        and not any(s.amount == b.amount and s.product.name == a.product.name for s in given)
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    name = a.product.name.upper() if len(a.product.name) <= 3 else a.product.name.title()
    bad = f"{(a.product.kind or '').capitalize()} {name} стоит {_spaced(b.amount)} ₸."
    return _append(turn.data.answer, bad), bad


_CLAIMS = [
    "Тестовый доступ вам уже открыт.",
    "Счёт уже ждёт вас в WhatsApp.",
    "Заявку на подключение мы оформили.",
    "Я отправил вам договор на почту.",
    "Вам подключили тариф, можно начинать.",
    "Личный кабинет для вас создан.",
]
_CAPABILITIES = [
    "Второй экран кассы может показывать рекламу ваших партнёров.",
    "Программа умеет прогнозировать погоду для закупок.",
    "Wipon позволяет принимать оплату криптовалютой.",
    "Есть функция распознавания лиц покупателей на входе.",
    "Касса поддерживает голосовое управление через умную колонку.",
]

# Denials of things the KB never mentions: "we have no X" invented.
_DENIALS = [
    "С Telegram Wipon не работает.",
    "Подарочных сертификатов в программе нет.",
    "Франшизу мы не предлагаем.",
    "Интерфейса на английском языке у программы нет.",
    "Шаблоны документов менять нельзя.",
    "Продажу через Instagram программа не поддерживает.",
]


def _pick(options: list[str]) -> Inject:
    def inject(turn: Turn, rng: random.Random) -> tuple[str, str]:
        bad = rng.choice(options)
        return _append(turn.data.answer, bad), bad

    return inject


def _two_questions(turn: Turn, rng: random.Random) -> tuple[str, str]:
    bad = "Сколько у вас продавцов? И когда вам удобно созвониться?"
    return f"{turn.data.answer.strip()} {bad}", "Сколько у вас продавцов?"


def _greeting(turn: Turn, rng: random.Random) -> tuple[str, str] | None:
    if turn.data.turn <= 1 or turn.data.returning:
        return None
    bad = "Здравствуйте!"
    return f"{bad} {turn.data.answer.strip()}", bad


def _english(turn: Turn, rng: random.Random) -> tuple[str, str]:
    bad = "Sure, our team will send you all the details and pricing shortly."
    return bad, bad


def _reask(turn: Turn, rng: random.Random) -> tuple[str, str] | None:
    if not turn.data.profile.get("city"):
        return None
    bad = "Подскажите, в каком городе вы находитесь?"
    answer = re.sub(r"[^.!?]*\?\s*$", "", turn.data.answer.strip()).strip()
    return f"{answer} {bad}".strip(), bad


FAULTS: dict[str, Inject] = {
    "invented_price": _price("Настройка под ваш магазин — {spaced} ₸."),
    "price_kzt": _price("Годовое обслуживание — {spaced} KZT."),
    "price_sign_before": _price("Выезд специалиста — ₸{spaced}."),
    "price_bare_period": _price("Поддержка — {spaced} в месяц."),
    "price_dotted": _price("Доставка комплекта — {dotted} ₸."),
    "price_in_words": _price_in_words,
    "price_half_million": _half_million,
    "percent_in_words": _percent_in_words,
    "wrong_product_price": _wrong_product,
    "completed_action": _pick(_CLAIMS),
    "invented_capability": _pick(_CAPABILITIES),
    "false_denial": _pick(_DENIALS),
    "two_questions": _two_questions,
    "repeated_greeting": _greeting,
    "english": _english,
    "reasked_field": _reask,
}


def run(turns: list[Turn], per_kind: int) -> dict[str, Any]:
    guard = Guard(load_settings().guards)
    rng = random.Random(SEED)
    flagged: list[tuple[str, str, list[str]]] = []
    for t in turns:
        codes = guard.check(t.data)
        if codes:
            flagged.append((t.dialogue, t.data.answer, list(codes)))
    caught: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    missed: dict[str, list[str]] = defaultdict(list)
    for kind, inject in FAULTS.items():
        order = list(turns)
        rng.shuffle(order)
        for t in order:
            if injected[kind] >= per_kind:
                break
            if guard.check(t.data):
                continue  # a turn the guard already flags says nothing about a fault
            made = inject(t, rng)
            if made is None:
                continue
            draft, fault = made
            injected[kind] += 1
            bad = replace(t.data, answer=draft)
            codes = guard.check(bad)
            repaired = guard.repair(bad, codes) if codes else draft
            if (
                codes
                and fault.lower() not in repaired.lower()
                and not _fragment(fault, repaired, t.data)
            ):
                caught[kind] += 1
            else:
                missed[kind].append(f"{draft!r} -> {codes} -> {repaired!r}")
    total = sum(injected.values())
    return {
        "good_answers": len(turns),
        "false_positives": len(flagged),
        "false_positive_rate": round(len(flagged) / len(turns), 4) if turns else 0.0,
        "injected": total,
        "kinds": len(injected),
        "caught": sum(caught.values()),
        "catch_rate": round(sum(caught.values()) / total, 4) if total else 0.0,
        "by_kind": {k: f"{caught[k]}/{injected[k]}" for k in injected},
        "flagged_good": flagged,
        "missed": dict(missed),
    }


def _fragment(fault: str, repaired: str, data: GuardInput) -> bool:
    """A figure of the fault (or a piece of it, "47." of "47.500 ₸") left in the
    repaired answer where the good answer did not have it."""
    for figure in re.findall(r"\d+(?:[ .]\d+)*", fault):
        head = re.split(r"[ .]", figure)[0]
        if re.search(rf"(?<![\d ]){re.escape(head)}(?![\d])", repaired) and head not in data.answer:
            return True
    return False


def main() -> None:
    per_kind = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    turns = asyncio.run(collect())
    result = run(turns, per_kind)
    flagged = result.pop("flagged_good")
    missed = result.pop("missed")
    print("# guards: injected bad drafts caught, good answers flagged (tests/dialogues)")
    for dialogue, answer, codes in flagged:
        print(f"false positive {codes} in {dialogue}: {answer}")
    for kind, items in missed.items():
        for item in items:
            print(f"missed {kind}: {item}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
