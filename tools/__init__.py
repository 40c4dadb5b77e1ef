"""Developer tooling for the B2B portal (not part of the Django apps)."""
