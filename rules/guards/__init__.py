"""Guards: code, not prompts, that checks every answer draft before it reaches a
customer (money and percentages against this turn's facts, per city and period;
greetings, questions, known fields, language, invented actions, length,
repetition) and repairs what a regeneration did not fix."""

from rules.guards.figures import AllowedFigures, allowed_figures
from rules.guards.guard import Guard, GuardInput
from rules.guards.money import percents, priced_amounts
from rules.guards.text import sentences

__all__ = [
    "AllowedFigures",
    "Guard",
    "GuardInput",
    "allowed_figures",
    "percents",
    "priced_amounts",
    "sentences",
]
