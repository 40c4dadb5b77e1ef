from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.filter
def dictget(mapping: Mapping[Any, Any], key: Any) -> Any:
    """``{{ states|dictget:company.pk }}``: look a key up, trying it as given and as a string."""
    if key in mapping:
        return mapping[key]
    return mapping.get(str(key))
