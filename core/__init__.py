"""What the sales bot and SalesControl share, importing nothing of ours: settings,
the LLM client, database opening, the HTTP error model and middleware, JSON logs,
metrics, and Russian/Kazakh text utilities."""
