"""Who sees and changes which list: private, shared read-only, shared editable, per role, departed owners."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.models import Company, Membership, Role
from apps.order_lists import selectors, services
from apps.order_lists.exceptions import OrderListError, OrderListReadOnly
from apps.order_lists.models import OrderList, OrderListLine
from apps.purchase_orders.lines import ParsedLine
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db

Visibility = OrderList.Visibility


@pytest.fixture
def people(company: Company, member_factory: Callable[..., Membership]) -> dict[str, Membership]:
    return {
        "owner": member_factory(company, Role.BUYER),
        "buyer": member_factory(company, Role.BUYER),
        "admin": member_factory(company, Role.ADMIN),
        "approver": member_factory(company, Role.APPROVER),
        "viewer": member_factory(company, Role.VIEWER),
    }


def _list(owner: Membership, visibility: str, editable: bool = False) -> OrderList:
    return services.order_list_create(
        membership=owner, name=f"{visibility}-{editable}", visibility=visibility, colleagues_can_edit=editable
    )


def _rights(order_list: OrderList, member: Membership) -> tuple[bool, bool, bool, bool]:
    """(sees, edits lines, sends to draft, manages) for this member."""
    visible = selectors.order_list_visible(membership=member).filter(pk=order_list.pk).first()
    if visible is None:
        return (False, False, False, False)
    return (
        True,
        selectors.order_list_can_edit(order_list=visible, membership=member),
        selectors.order_list_can_send(order_list=visible, membership=member),
        selectors.order_list_can_manage(order_list=visible, membership=member),
    )


# (visibility, colleagues may edit) -> who: (sees, edits, sends, manages)
EXPECTED = {
    (Visibility.PRIVATE, False): {
        "owner": (True, True, True, True),
        "buyer": (False, False, False, False),
        "admin": (False, False, False, False),
        "approver": (False, False, False, False),
        "viewer": (False, False, False, False),
    },
    (Visibility.COMPANY, False): {
        "owner": (True, True, True, True),
        "buyer": (True, False, True, False),
        "admin": (True, False, True, False),
        "approver": (True, False, False, False),
        "viewer": (True, False, False, False),
    },
    (Visibility.COMPANY, True): {
        "owner": (True, True, True, True),
        "buyer": (True, True, True, False),
        "admin": (True, True, True, False),
        "approver": (True, False, False, False),
        "viewer": (True, False, False, False),
    },
}


@pytest.mark.parametrize(("visibility", "editable"), list(EXPECTED))
def test_sharing_rules_per_role(people: dict[str, Membership], visibility: str, editable: bool) -> None:
    order_list = _list(people["owner"], visibility, editable)

    rights = {who: _rights(order_list, member) for who, member in people.items()}

    assert rights == EXPECTED[(visibility, editable)]


def test_another_company_never_sees_a_shared_list(
    people: dict[str, Membership], other_company: Company, member_factory: Callable[..., Membership]
) -> None:
    order_list = _list(people["owner"], Visibility.COMPANY, editable=True)
    stranger = member_factory(other_company, Role.ADMIN)

    assert _rights(order_list, stranger) == (False, False, False, False)
    with pytest.raises(OrderList.DoesNotExist):
        selectors.order_list_get(membership=stranger, list_id=order_list.pk)


def test_colleagues_edit_only_when_allowed_and_a_refusal_changes_nothing(
    people: dict[str, Membership],
) -> None:
    product = ProductFactory(sku="BOLT-1")
    order_list = _list(people["owner"], Visibility.COMPANY)
    services.order_list_lines_add(
        order_list=order_list, membership=people["owner"], lines=[ParsedLine(1, "BOLT-1", Decimal(2), "")]
    )
    line = order_list.lines.get()

    with pytest.raises(OrderListReadOnly):
        services.order_list_lines_add(
            order_list=order_list, membership=people["buyer"], lines=[ParsedLine(1, "BOLT-1", Decimal(5), "")]
        )
    with pytest.raises(OrderListReadOnly):
        services.order_list_line_update(
            order_list=order_list, membership=people["buyer"], line_id=line.pk, quantity=Decimal(9)
        )
    with pytest.raises(OrderListReadOnly):
        services.order_list_line_remove(order_list=order_list, membership=people["buyer"], line_id=line.pk)
    line.refresh_from_db()
    assert line.default_quantity == 2

    services.order_list_settings_update(
        order_list=order_list,
        membership=people["owner"],
        name=order_list.name,
        visibility=Visibility.COMPANY,
        colleagues_can_edit=True,
    )
    services.order_list_line_update(
        order_list=order_list,
        membership=people["buyer"],
        line_id=line.pk,
        quantity=Decimal(9),
        note="top shelf",
    )
    line.refresh_from_db()
    assert (line.default_quantity, line.note, product.pk) == (9, "top shelf", line.product_id)


def test_only_the_owner_renames_shares_or_deletes(people: dict[str, Membership]) -> None:
    order_list = _list(people["owner"], Visibility.COMPANY, editable=True)

    with pytest.raises(OrderListReadOnly):
        services.order_list_settings_update(
            order_list=order_list,
            membership=people["admin"],
            name="Taken over",
            visibility=Visibility.PRIVATE,
            colleagues_can_edit=False,
        )
    with pytest.raises(OrderListReadOnly):
        services.order_list_delete(order_list=order_list, membership=people["buyer"])

    order_list.refresh_from_db()
    assert (order_list.name, order_list.visibility) == ("company-True", Visibility.COMPANY)


def test_a_list_made_private_is_gone_for_a_colleague_mid_edit(people: dict[str, Membership]) -> None:
    order_list = _list(people["owner"], Visibility.COMPANY, editable=True)
    ProductFactory(sku="NUT-1")
    seen_by_colleague = selectors.order_list_get(membership=people["buyer"], list_id=order_list.pk)
    services.order_list_settings_update(
        order_list=order_list,
        membership=people["owner"],
        name=order_list.name,
        visibility=Visibility.PRIVATE,
        colleagues_can_edit=True,
    )

    with pytest.raises(OrderListError, match="no longer shared"):
        services.order_list_lines_add(
            order_list=seen_by_colleague,
            membership=people["buyer"],
            lines=[ParsedLine(1, "NUT-1", Decimal(1), "")],
        )
    assert not OrderListLine.objects.exists()
    order_list.refresh_from_db()
    assert order_list.colleagues_can_edit is False  # a private list has no colleagues


def test_a_departed_owners_shared_list_stays_readable_and_sendable_but_read_only(
    people: dict[str, Membership],
) -> None:
    shared = _list(people["owner"], Visibility.COMPANY, editable=True)
    private = _list(people["owner"], Visibility.PRIVATE)
    owner = people["owner"]
    owner.is_active, owner.deactivated_at = False, timezone.now()
    owner.save()

    assert _rights(shared, people["buyer"]) == (True, False, True, False)
    assert _rights(shared, people["admin"]) == (True, False, True, False)
    assert _rights(private, people["admin"]) == (False, False, False, False)


def test_approvers_and_viewers_keep_no_lists(people: dict[str, Membership]) -> None:
    for who in ("approver", "viewer"):
        with pytest.raises(OrderListError):
            services.order_list_create(membership=people[who], name="Mine")
    assert not OrderList.objects.exists()


def test_one_name_per_owner(people: dict[str, Membership]) -> None:
    services.order_list_create(membership=people["owner"], name="Weekly")
    services.order_list_create(membership=people["buyer"], name="Weekly")

    with pytest.raises(OrderListError, match="already have a list called Weekly"):
        services.order_list_create(membership=people["owner"], name="  Weekly ")
    assert OrderList.objects.count() == 2
