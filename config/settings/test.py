"""Test settings: fast hashing, mail kept in memory, background tasks run inline."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-not-secret-b7c1e2d3a4f5")
os.environ["DEBUG"] = "false"

from .base import *

ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
Q_CLUSTER.pop("redis", None)
Q_CLUSTER["orm"] = "default"
DATABASES["default"]["CONN_MAX_AGE"] = 0
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]
# Tests drive the sync engine explicitly (against a real Tryton they start); nothing reaches for the
# ERP of the environment on its own.
ERP_SYNC_ENABLED = False
