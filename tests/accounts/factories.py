from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser

from apps.accounts.models import Company, Membership, Role, ShipToAddress

PASSWORD = "correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory[AbstractUser]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n} Inc.")
    erp_customer_code = factory.Sequence(lambda n: f"CUST-{n:04d}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.BUYER


class ShipToAddressFactory(factory.django.DjangoModelFactory[ShipToAddress]):
    class Meta:
        model = ShipToAddress

    company = factory.SubFactory(CompanyFactory)
    label = factory.Sequence(lambda n: f"Warehouse {n}")
    street = factory.Faker("street_address")
    city = factory.Faker("city")
    postal_code = factory.Faker("postcode")
    country = "US"
