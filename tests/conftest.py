from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AbstractUser

from apps.accounts.models import Company, Membership, Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory

pytest_plugins = ["tests.erp_fixtures"]


@pytest.fixture(autouse=True)
def _no_secure_redirect(settings: pytest.FixtureRequest) -> None:
    settings.SECURE_SSL_REDIRECT = False  # type: ignore[attr-defined]


@pytest.fixture
def company(db: None) -> Company:
    return CompanyFactory(name="Acme Hardware Co.")


@pytest.fixture
def other_company(db: None) -> Company:
    return CompanyFactory(name="Globex Building Supply")


@pytest.fixture
def member_factory(db: None) -> Callable[..., Membership]:
    def make(company: Company, role: Role = Role.BUYER, **user_fields: object) -> Membership:
        return MembershipFactory(company=company, role=role, user=UserFactory(**user_fields))

    return make


@pytest.fixture
def staff_factory(db: None) -> Callable[..., AbstractUser]:
    def make(*roles: StaffRole, **user_fields: object) -> AbstractUser:
        user = UserFactory(**user_fields)
        staff_user_set_roles(user=user, roles=list(roles))
        return user

    return make


@pytest.fixture
def company_admin(company: Company, member_factory: Callable[..., Membership]) -> Membership:
    return member_factory(company, Role.ADMIN, email="admin@acme.example")
