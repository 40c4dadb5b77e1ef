"""Who sees and changes which order list; every read of a list goes through here.

- A member sees the lists they own and the lists colleagues share with the company; another person's
  private list, or any list of another company, does not exist for them (a 404).
- Buyers and company admins keep lists: they create them, add to them, send them to their draft.
  Approvers and viewers read shared lists and export them, nothing more (they do not order).
- The owner changes their list (lines, name, sharing) and deletes it; colleagues change the lines of a
  shared list only when its owner lets them (``colleagues_can_edit``) and only while the owner is an
  active member: a departed member's shared list stays readable and sendable, but read-only.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from apps.accounts.models import Membership, Role
from apps.order_lists.models import OrderList, OrderListLine

LIST_KEEPERS = (Role.BUYER, Role.ADMIN)


def order_list_visible(*, membership: Membership) -> QuerySet[OrderList]:
    return (
        OrderList.objects.filter(company_id=membership.company_id)
        .filter(Q(owner_id=membership.user_id) | Q(visibility=OrderList.Visibility.COMPANY))
        .select_related("owner", "owner__membership")
        .annotate(line_count=Count("lines"))
        .order_by("name", "id")
    )


def order_list_get(*, membership: Membership, list_id: int) -> OrderList:
    """A list this member may see; anything else raises DoesNotExist (a 404)."""
    return order_list_visible(membership=membership).get(pk=list_id)


def order_list_editable(*, membership: Membership) -> list[OrderList]:
    """The lists this member may add lines to (the "add to a list" choices on other pages)."""
    if membership.role not in LIST_KEEPERS:
        return []
    return [
        order_list
        for order_list in order_list_visible(membership=membership)
        if order_list_can_edit(order_list=order_list, membership=membership)
    ]


def owner_is_active_member(order_list: OrderList) -> bool:
    owner = order_list.owner
    membership = getattr(owner, "membership", None)
    return bool(
        owner.is_active
        and membership is not None
        and membership.is_active
        and membership.company_id == order_list.company_id
    )


def order_list_can_manage(*, order_list: OrderList, membership: Membership) -> bool:
    """Rename, share, delete: the owner only."""
    return (
        membership.role in LIST_KEEPERS
        and order_list.owner_id == membership.user_id
        and order_list.company_id == membership.company_id
    )


def order_list_can_edit(*, order_list: OrderList, membership: Membership) -> bool:
    """Add, change and remove lines."""
    if membership.role not in LIST_KEEPERS or order_list.company_id != membership.company_id:
        return False
    if order_list.owner_id == membership.user_id:
        return True
    return order_list.is_shared and order_list.colleagues_can_edit and owner_is_active_member(order_list)


def order_list_can_send(*, order_list: OrderList, membership: Membership) -> bool:
    """Send lines to one's own draft: whoever keeps lists and sees this one."""
    return membership.role in LIST_KEEPERS and order_list.company_id == membership.company_id


def order_list_lines(*, order_list: OrderList) -> QuerySet[OrderListLine]:
    return order_list.lines.select_related("product", "product__stock", "added_by").order_by("id")
