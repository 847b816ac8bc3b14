"""Demo replies: a rule-based stand-in for the model, so that someone without a
GPU sees the bot's real flow — phases moving, the KB searched and quoted, the
profile filling up — instead of one canned sentence.

The analysis reads the customer's message with keyword rules (intent, objection
type, city, business, number of shops, name) and proposes the next phase; it
searches the KB with the message itself. The answer is made of the prompt the
service sends: the first facts of the first KB section, the objection
strategy's words when there is one, and a question about the first field the
phase still needs. It is a demonstration, not a model: it understands only the
words listed here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.taxonomy import PROPOSED_PHASES
from core.text.cities import cities_in
from rules.prompts import (
    GREETING_FIRST,
    NO_FACTS,
    PROFILE_BLOCK,
    PROFILE_EMPTY,
)

# --- the analysis ------------------------------------------------------------------

# First match wins: a refusal or a request for a person outranks a price question.
_INTENTS: tuple[tuple[str, str], ...] = (
    ("human_request", r"живо\w* (менеджер|человек|оператор)|позовите|соедините с"),
    ("complaint", r"жалоб|безобраз|ужасн|обман"),
    ("refusal", r"не интересно|не надо|не нужно больше|откажусь|отказываюсь"),
    (
        "objection",
        r"дорого|подума|не сейчас|нет времени|некогда|сложно|уже есть|"
        r"пользуемся|не доверяю|предоплат|не нужн",
    ),
    ("video_call_request", r"созвон|видеозвон|звонок|позвоните"),
    ("demo_request", r"демо|демонстрац|показать программу|посмотреть программу"),
    ("ready_to_buy", r"готов\w* (купить|оплатить|подключ)|беру|оформ|выставьте сч|хочу купить"),
    ("installment_question", r"рассрочк|кредит"),
    ("delivery_question", r"доставк|привез|отправ\w+ в"),
    ("integration_question", r"интеграц|1с|каспи|kaspi|маркетплейс"),
    ("legal_fiscal_question", r"офд|налог|ккм|фискал|маркировк|снр|упрощ"),
    ("support_question", r"поддержк|не работает|ошибк|слома|завис"),
    ("equipment_question", r"сканер|принтер|моноблок|весы|терминал|оборудован|касс[аыу]"),
    ("tariff_question", r"тариф|lite|standard|pro\b|лайт|стандарт"),
    ("price_question", r"цен|стоим|стоит|сколько|прайс|оплат"),
    ("agreement", r"^(да|давайте|хорошо|согласен|согласна|ок|окей)\b"),
    ("business_info", r"у (меня|нас)|магазин|кафе|аптек|бутик|салон|ресторан"),
)
_OBJECTIONS: tuple[tuple[str, str], ...] = (
    ("price", r"дорого|бюджет"),
    ("competitor", r"уже есть|пользуемся|другая программа|конкурент"),
    ("no_time", r"нет времени|некогда"),
    ("timing", r"не сейчас|позже|потом"),
    ("trust", r"не доверяю|предоплат|обман"),
    ("complexity", r"сложно|не разберусь"),
    ("no_need", r"не нужн"),
    ("think", r"подума"),
)
_BUSINESSES: tuple[tuple[str, str], ...] = (
    (r"продукт|продуктов", "продуктовый магазин"),
    (r"аптек", "аптека"),
    (r"кафе|кофейн", "кафе"),
    (r"ресторан", "ресторан"),
    (r"одежд|бутик", "магазин одежды"),
    (r"строй", "магазин стройматериалов"),
    (r"салон", "салон"),
    (r"автозапчаст|запчаст", "автозапчасти"),
    (r"магазин", "магазин"),
)
_STORES = re.compile(r"(\d{1,4})\s*(магазин|точ|филиал|отдел)", re.IGNORECASE)
_NAME = re.compile(r"(?i:меня зовут|зовут меня|\bя)\s*[—-]?\s*([А-ЯЁ][а-яё]{2,})")
_NEXT_PHASE = {
    "business_info": "qualification",
    "price_question": "presentation",
    "tariff_question": "presentation",
    "equipment_question": "presentation",
    "installment_question": "negotiation",
    "objection": "objection_handling",
    "refusal": "soft_close",
    "agreement": "closing",
    "ready_to_buy": "payment_ready",
    "demo_request": "video_call_scheduled",
    "video_call_request": "video_call_scheduled",
}
_PHASE_LINE = re.compile(r"^Текущий этап: (\w+)", re.MULTILINE)


def _first(rules: tuple[tuple[str, str], ...], text: str) -> str | None:
    return next((name for name, pattern in rules if re.search(pattern, text)), None)


def _message(prompt: str) -> str:
    """The customer's message: what follows the analysis prompt's last header."""
    _, _, message = prompt.rpartition("Новое сообщение клиента")
    return message.split(":\n", 1)[-1].strip()


def analyse(prompt: str) -> dict[str, Any]:
    """The analysis of the message in `prompt` (the service's analysis context)."""
    message = _message(prompt)
    lowered = message.lower().replace("ё", "е")
    intent = _first(_INTENTS, lowered) or ("product_question" if "?" in message else "unclear")
    profile: dict[str, Any] = {}
    if cities := sorted(cities_in(message)):
        profile["city"] = cities[0]
    if business := next((label for p, label in _BUSINESSES if re.search(p, lowered)), None):
        profile["business_type"] = business
    if stores := _STORES.search(message):
        profile["stores_count"] = int(stores.group(1))
    if name := _NAME.search(message):
        profile["contact_name"] = name.group(1)
    current = _PHASE_LINE.search(prompt)
    phase = current.group(1) if current else "discovery"
    proposed = _NEXT_PHASE.get(intent)
    if proposed is None:
        # Once the business is known, discovery has done its job.
        proposed = "qualification" if phase == "discovery" and "business_type" in profile else phase
    return {
        "intent": intent,
        "objection_type": _first(_OBJECTIONS, lowered) if intent == "objection" else None,
        "profile": profile,
        "search_query": message,
        "next_phase": proposed if proposed in PROPOSED_PHASES else "discovery",
        "frustrated": intent == "complaint",
    }


# --- the answer ---------------------------------------------------------------------

_FACTS_START = "Факты из базы знаний:\n"
_PROFILE_STARTS = (PROFILE_BLOCK.split("{", 1)[0], PROFILE_EMPTY)
_TOPIC = re.compile(r"^\[[^\]\n]+\]$", re.MULTILINE)
_ASK_FOR = re.compile(r"^Если уместно, узнай: (.+?)\.$", re.MULTILINE)
_PHASE = re.compile(r"^Этап: (\w+)\.", re.MULTILINE)
_ACKNOWLEDGE = re.compile(r"Признай его \(«(.+?)»\)")
_STRATEGY_QUESTION = re.compile(r"задай вопрос: «(.+?)»")
_QUESTIONS = {
    "вид бизнеса": "Чем занимается ваш бизнес?",
    "город": "В каком городе вы работаете?",
    "число точек": "Сколько у вас точек продаж?",
    "чем пользуется сейчас": "Чем вы сейчас ведёте учёт?",
    "имя": "Как к вам обращаться?",
    "телефон": "Подскажите номер телефона для менеджера?",
}
_CLOSINGS = {
    "payment_ready": "Спасибо! Менеджер свяжется с вами, чтобы оформить подключение и оплату.",
    "video_call_scheduled": "Отлично! Менеджер свяжется с вами, чтобы назначить время видеозвонка.",
    "soft_close": "Спасибо за ваше время! Если появятся вопросы — пишите, будем рады помочь.",
}
_FACT_CHARS = 320
_WILL_CHECK = "Точную информацию по этому вопросу уточню у коллег и вернусь с ответом."


def _facts(system: str) -> list[str]:
    """The content lines of the first KB section in the prompt (none: no facts)."""
    if NO_FACTS in system or _FACTS_START not in system:
        return []
    block = system.split(_FACTS_START, 1)[1]
    ends = [block.find("\n\n" + start) for start in _PROFILE_STARTS]
    block = block[: min((e for e in ends if e >= 0), default=len(block))]
    sections = [s.strip() for s in _TOPIC.split(block) if s.strip()]
    if not sections:
        return []
    lines = [line.strip(" \t•-–—*").strip() for line in sections[0].splitlines()]
    return [line for line in lines if len(line) > 3 and not line.endswith(":")]


def _sentence(line: str) -> str:
    line = line.replace("?", ".").rstrip(" .;,")
    return line[0].upper() + line[1:] + "."


def compose(system: str, message: str) -> str:
    """An answer to `message` made only of what the answer prompt `system` gives."""
    phase = _PHASE.search(system)
    if phase and phase.group(1) in _CLOSINGS:
        return _CLOSINGS[phase.group(1)]
    parts: list[str] = []
    if GREETING_FIRST in system:
        parts.append("Здравствуйте!")
    if acknowledge := _ACKNOWLEDGE.search(system):
        parts.append(acknowledge.group(1))
    facts = _facts(system)
    text = ""
    for line in facts:
        candidate = f"{text} {_sentence(line)}".strip()
        if text and len(candidate) > _FACT_CHARS:
            break
        text = candidate
    if text:
        parts.append(text[: _FACT_CHARS + 80])
    elif "?" in message:
        parts.append(_WILL_CHECK)  # a question the KB has no facts for
    elif not parts:
        parts.append("Спасибо!")
    question = _STRATEGY_QUESTION.search(system)
    ask = _ASK_FOR.search(system)
    if question:
        parts.append(question.group(1))
    elif ask:
        label = ask.group(1).split(",")[0].strip()
        if label in _QUESTIONS:
            parts.append(_QUESTIONS[label])
    return " ".join(parts)


def demo_reply(request: dict[str, Any]) -> str:
    """The stub's fallback in demo mode: an analysis for a structured call, an
    answer composed from the prompt for a plain one."""
    messages = request.get("messages") or [{}]
    if isinstance(request.get("format"), dict):
        return json.dumps(analyse(str(messages[-1].get("content", ""))), ensure_ascii=False)
    # The customer's message: the last user one (a regeneration's note follows it).
    customer = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
    return compose(str(messages[0].get("content", "")), str(customer.get("content", "")))
