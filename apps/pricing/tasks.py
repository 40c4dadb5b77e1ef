from __future__ import annotations

from apps.pricing.models import PriceUpload
from apps.pricing.uploads import upload_apply as apply_upload


def upload_apply(upload_id: int) -> None:
    upload = PriceUpload.objects.filter(pk=upload_id, status=PriceUpload.Status.PUBLISHING).first()
    if upload is not None:
        apply_upload(upload=upload)
