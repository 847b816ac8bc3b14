"""SalesControl's dashboard: server-rendered pages in Russian, served by the same
FastAPI app as the ingest API.

The pages are Jinja templates with htmx (vendored in `static/vendor`) for the parts
that change in place — filters, live refresh of the overview and devices, review
forms — and a few lines of our own JavaScript for the audio player. Charts are SVG
drawn on the server. Nothing is loaded from another site.

Modules: web (mounting), auth (who is looking, CSRF), templating (Jinja and its
filters), periods (a local period of days), charts (SVG), and one module per page
under routes/ with its queries under queries/.
"""
