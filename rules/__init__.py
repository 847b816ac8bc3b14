"""The sales rules as plain functions, with no LangGraph in them: the customer
profile, the analysis schema, phases and outcomes, guards, shortcuts that skip
the model, smalltalk, and the prompts' texts."""
