from __future__ import annotations

from apps.purchase_orders.models import LineImport
from apps.purchase_orders.services import line_import_run as run


def line_import_run(job_id: int) -> None:
    job = (
        LineImport.objects.select_related("purchase_order")
        .filter(pk=job_id)
        .exclude(status=LineImport.Status.DONE)
        .first()
    )
    if job is not None:
        run(job=job)
