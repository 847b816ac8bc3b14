"""Russian and Kazakh text utilities: the morphological analyzer, cities of
Kazakhstan in any case form, and contact data (phones, IINs, e-mails)."""
