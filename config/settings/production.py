"""Production: exactly ``base`` plus environment variables (see the README's table).

Kept as its own module so a deployment names it explicitly: DJANGO_SETTINGS_MODULE=config.settings.production.
Nothing production-only lives in code.
"""

from __future__ import annotations

from .base import *
