"""HTTP API for n8n, the profiles store, and the `salesbot` command line."""
