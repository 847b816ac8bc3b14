"""The ingest API: devices upload audio chunks; admins manage points, devices, users."""
