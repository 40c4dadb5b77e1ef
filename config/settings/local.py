"""Developer laptop and the embedded demo: DEBUG on, a throwaway secret, mail printed to the console."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "local-dev-only-not-secret-5d1c7a0e9f4b4d4a8c5b")
os.environ.setdefault("DEBUG", "true")

from .base import *

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "0.0.0.0", "[::1]", "testserver"]  # noqa: S104
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
