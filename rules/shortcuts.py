"""Analyses made without the model, for messages a rule reads as well as the
model would: a bare greeting, thanks or goodbye (rules.smalltalk) and a message
that only hands over contact data (rules.contacts.bare_contact).

Each skips the analysis call — seconds on the GPU — and is behind its own feature
flag. Anything a rule is unsure of goes to the model: both recognisers refuse
any word they do not know.
"""

from __future__ import annotations

from core.settings import FeatureFlags
from core.taxonomy import TERMINAL_PHASES, Phase
from rules.analysis import Analysis, default_analysis
from rules.contacts import CustomerText, bare_contact
from rules.smalltalk import social_intent


def analysis_without_model(
    customer: CustomerText, phase: Phase, flags: FeatureFlags
) -> Analysis | None:
    """The analysis of `customer` when a rule knows it, else None.

    A greeting, thanks or goodbye leaves the phase where it is. A customer who
    hands over a contact wants to be contacted: closing, whose goal is to collect
    what the manager still needs, or the outcome they already asked for (code
    decides that: rules.phases).
    """
    if customer.media_source:
        return None  # a transcript or an image description is the model's to read
    if flags.smalltalk_without_llm and (social := social_intent(customer.text)):
        return default_analysis("", phase, social)
    if flags.contacts_without_llm and (contact := bare_contact(customer.text)):
        # Phones, IINs and e-mails come from the regexes in any case (nodes.intent).
        return default_analysis(
            "",
            phase if phase in TERMINAL_PHASES else "closing",
            "share_contacts",
            profile={"contact_name": contact.name},
        )
    return None
