"""Messages that are nothing but a social formula: "Здравствуйте!", "Спасибо",
"Рахмет", "До свидания".

They are a large share of real WhatsApp traffic and carry no facts, doubts or
questions, so the analysis call (seconds on the GPU) would only restate what a
word list already knows. `social_intent` recognises them conservatively: every
word of the message must belong to the formulas below (Russian and Kazakh, with
common misspellings), otherwise the message goes to the model. "ок", "да",
"хорошо" are deliberately absent: they answer the bot's last question, and what
they mean depends on it.
"""

from __future__ import annotations

import re
from typing import Literal

from core.text.morph import word_set

SocialIntent = Literal["greeting", "gratitude", "farewell"]


_GREETING_WORDS = word_set(
    """
    здравствуйте здравствуй здрасте здрасьте здраствуйте здрастуйте драсте
    привет приветик приветствую приветствуем
    добрый доброе доброго день утро вечер времени суток
    салем сәлем салам сәлеметсіз салеметсиз сәлеметсіздер бе ассалаумағалейкум
    ассалаумагалейкум ассаламу алейкум
    hello hi
    """
)
_GRATITUDE_WORDS = word_set(
    """
    спасибо спасиб пасиб пасибо спс благодарю благодарим благодарствую
    рахмет рақмет рахмед
    thanks thank you
    """
)
_FAREWELL_WORDS = word_set(
    """
    свидания свиданья пока всего хорошего удачи досвидания дня
    сау болыңыз болыныз
    bye
    """
)
# Words that only decorate a formula: "спасибо большое", "вам тоже", "и вам".
_FILLER_WORDS = word_set("до большое огромное вам и тоже всем вас көп")

_VOCABULARY = _GREETING_WORDS | _GRATITUDE_WORDS | _FAREWELL_WORDS | _FILLER_WORDS
# The formulas' own words: pymorphy3 knows "Рахмет" as a first name, so other
# recognisers (rules.contacts) need to tell them from names.
SOCIAL_WORDS = _GREETING_WORDS | _GRATITUDE_WORDS | _FAREWELL_WORDS
_WORD = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")


def social_intent(text: str) -> SocialIntent | None:
    """The formula's intent when `text` is only greetings, thanks or goodbyes
    (punctuation and emoji aside); None for anything that says more."""
    if _DIGIT.search(text):
        return None  # a phone, an IIN, a count: facts for the analysis
    words = _WORD.findall(text.lower().replace("ё", "е"))
    if not words:
        return None
    if any(w not in _VOCABULARY for w in words):
        return None
    present = set(words)
    # "Спасибо, до свидания" ends the conversation; "Здравствуйте, спасибо" thanks.
    if present & _FAREWELL_WORDS:
        return "farewell"
    if present & _GRATITUDE_WORDS:
        return "gratitude"
    if present & _GREETING_WORDS:
        return "greeting"
    return None
