"""Analyses made without the model, for messages a rule reads as well as the
model would: a bare greeting, thanks or goodbye (graph.smalltalk) and a message
that only hands over contact data (graph.contacts.bare_contact).

Each skips the analysis call — seconds on the GPU — and is behind its own feature
flag. Anything a rule is unsure of goes to the model: both recognisers refuse
any word they do not know.
"""

from __future__ import annotations

from graph.analysis import Analysis, default_analysis
from graph.contacts import CustomerText, bare_contact
from graph.settings import TERMINAL_PHASES, FeatureFlags
from graph.smalltalk import social_intent


def analysis_without_model(
    customer: CustomerText, phase: str, flags: FeatureFlags
) -> Analysis | None:
    """The analysis of `customer` when a rule knows it, else None.

    A greeting, thanks or goodbye leaves the phase where it is. A customer who
    hands over a contact wants to be contacted: closing, whose goal is to collect
    what the manager still needs, or the outcome they already asked for (code
    decides that: graph.phases).
    """
    if customer.media_source:
        return None  # a transcript or an image description is the model's to read
    if flags.smalltalk_without_llm and (social := social_intent(customer.text)):
        return default_analysis("", phase, social)
    if flags.contacts_without_llm and (contact := bare_contact(customer.text)):
        analysis = default_analysis(
            "", phase if phase in TERMINAL_PHASES else "closing", "share_contacts"
        )
        # Phones, IINs and e-mails come from the regexes in any case (nodes.intent).
        analysis.profile.contact_name = contact.name
        return analysis
    return None
