from __future__ import annotations

from apps.accounts.models import Invitation
from apps.accounts.services import invitation_email_send


def invitation_send(invitation_id: int) -> None:
    invitation = Invitation.objects.select_related("company", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_usable():
        return
    invitation_email_send(invitation=invitation)
