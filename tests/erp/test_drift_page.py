"""The staff drift page: reconciliation runs, the differences with both values, their fixes, the CSV, the
nightly schedule and the drift alert. Runs and drifts are made directly; the engine's functions
(apps/erp/reconcile.py) are replaced where a view calls them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from apps.core.services import next_local_time, schedules_ensure
from apps.core.staff import StaffRole
from apps.erp import alerts, reconcile, registry, services, tasks
from apps.erp.exceptions import InvalidDriftAction
from apps.erp.models import Drift, ErpConnection, Incident, ReconcileRun
from apps.erp.registry import ReconcileSpec
from tests.accounts.factories import UserFactory


def _spec(entity: str, label: str, **extra: Any) -> ReconcileSpec:
    return ReconcileSpec(
        entity=entity,
        label=label,
        model=ErpConnection,
        read=lambda connector, after, limit: None,  # type: ignore[arg-type,return-value]
        lookup=lambda records: {},
        linked=lambda: ErpConnection.objects.none(),
        **extra,
    )


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> list[ReconcileSpec]:
    registered = [
        _spec("products", "Products and list prices", stream="products"),
        _spec("customers", "Customers"),
        _spec("orders", "Sale orders", imported=False),
    ]
    monkeypatch.setattr(registry, "_reconciliations", {spec.entity: spec for spec in registered})
    return registered


@pytest.fixture
def connection(db: None) -> ErpConnection:
    return services.connection_get_default()


@pytest.fixture
def admin_client(staff_factory: Callable[..., AbstractUser]) -> Client:
    client = Client()
    client.force_login(staff_factory(StaffRole.ADMIN, email="ops@wholesale.example"))
    return client


@pytest.fixture
def fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's fixes_for: what a drift of each kind allows while it is open."""

    def fixes_for(drift: Drift) -> list[str]:
        if drift.status not in (Drift.Status.OPEN, Drift.Status.FIXING):
            return []
        return ["repull", "accept"] if drift.entity == "products" else ["repush", "accept"]

    monkeypatch.setattr(reconcile, "fixes_for", fixes_for)


def _run(connection: ErpConnection, entity: str, **fields: Any) -> ReconcileRun:
    fields.setdefault("started_at", timezone.now())
    return ReconcileRun.objects.create(connection=connection, entity=entity, **fields)


def _drift(connection: ErpConnection, run: ReconcileRun | None = None, **fields: Any) -> Drift:
    fields.setdefault("entity", "products")
    fields.setdefault("kind", Drift.Kind.FIELD_DIFFERS)
    return Drift.objects.create(connection=connection, first_seen_run=run, last_seen_run=run, **fields)


# --- The page ---------------------------------------------------------------------------------------------


def test_page_shows_runs_counts_and_both_values_side_by_side(
    admin_client: Client, connection: ErpConnection, specs: list[ReconcileSpec], fixes: None
) -> None:
    earlier = _run(connection, "products", status=ReconcileRun.Status.DONE, erp_rows=10)
    run = _run(connection, "products", status=ReconcileRun.Status.DONE, erp_rows=1200, portal_rows=1198)
    ReconcileRun.objects.filter(pk=earlier.pk).update(started_at=timezone.now() - timedelta(days=1))
    _run(connection, "customers", erp_rows=300, position="4711")  # running
    _drift(
        connection,
        run,
        key="product:17",
        label="SKU-17",
        details={"name": ["Widget", "Widget XL"], "list_price": ["9.50", "9.90"]},
    )
    _drift(
        connection,
        run,
        entity="customers",
        kind=Drift.Kind.DUPLICATED,
        key="WEB-0042",
        label="Acme",
        details={"erp_keys": ["party:5", "party:9"]},
    )
    _drift(connection, run, kind=Drift.Kind.MISSING_IN_PORTAL, key="product:99", label="SKU-99")
    _drift(connection, run, kind=Drift.Kind.MISSING_IN_ERP, key="p:3", status=Drift.Status.RESOLVED)

    response = admin_client.get(reverse("sync-drift"))

    assert response.status_code == 200
    html = response.content.decode()
    # Both values of each field, in one row: field, portal value, ERP value.
    assert (
        '<tr data-field="name"><th scope="row">name</th><td class="portal">Widget</td>'
        '<td class="erp">Widget XL</td></tr>'
    ) in html
    assert '<td class="portal">9.50</td><td class="erp">9.90</td>' in html
    assert "<code>party:5</code>, <code>party:9</code>" in html
    assert "Products and list prices" in html
    assert "Sale orders" in html
    entities = {row.entity: row for row in response.context["overview"].entities}
    assert entities["products"].last_run == run  # the latest run, not the one a day before
    assert entities["products"].open_by_kind == {"field_differs": 1, "missing_in_portal": 1}
    assert entities["customers"].open_by_kind == {"duplicated": 1}
    assert entities["orders"].last_run is None
    assert '300 <small class="muted">ERP records compared so far</small>' in html  # the running run
    assert 'hx-trigger="every 2s"' in html  # a run is running: the panel polls
    assert [row.drift.key for row in response.context["rows"]] == ["WEB-0042", "product:17", "product:99"]
    assert "Re-pull" in html
    assert "Re-push" in html
    assert "Accept as is" in html


def test_runs_panel_stops_polling_when_no_run_is_on(
    admin_client: Client, connection: ErpConnection, specs: list[ReconcileSpec]
) -> None:
    run = _run(connection, "products", erp_rows=50)
    running = admin_client.get(reverse("sync-drift-runs"))
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "<h1>" not in running.content.decode()  # the panel alone

    ReconcileRun.objects.filter(pk=run.pk).update(status=ReconcileRun.Status.DONE, finished_at=timezone.now())
    done = admin_client.get(reverse("sync-drift-runs"))
    assert "hx-trigger" not in done.content.decode()
    assert 'data-polling="no"' in done.content.decode()


def test_run_now_queues_the_run_and_polls_until_it_starts(
    admin_client: Client,
    connection: ErpConnection,
    specs: list[ReconcileSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        reconcile, "reconcile_request", lambda *, entity, requested_by: asked.append((entity, requested_by))
    )

    response = admin_client.post(reverse("sync-drift-run"), {"entity": "orders"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert asked[0][0] == "orders"
    assert asked[0][1].email == "ops@wholesale.example"
    html = response.content.decode()
    assert "Reconciliation of Sale orders queued" in html  # the flash message, out of band
    assert 'hx-trigger="every 2s"' in html  # no run yet: it polls for the worker to start one
    assert "since=" in html

    unknown = admin_client.post(reverse("sync-drift-run"), {"entity": "nope"})
    assert unknown.status_code == 302
    assert len(asked) == 1


def test_filters_search_and_pagination(
    admin_client: Client, connection: ErpConnection, specs: list[ReconcileSpec], fixes: None
) -> None:
    for n in range(60):
        _drift(connection, key=f"product:{n}", label=f"SKU-{n:03d}", details={"name": ["a", "b"]})
    _drift(connection, entity="customers", kind=Drift.Kind.MISSING_IN_ERP, key="c:1", label="Acme")
    _drift(connection, key="product:accepted", label="SKU-ACC", status=Drift.Status.ACCEPTED)

    first = admin_client.get(reverse("sync-drift"))
    assert len(first.context["rows"]) == 50
    assert first.context["page"].paginator.count == 61  # open ones only by default
    second = admin_client.get(reverse("sync-drift"), {"page": 2})
    assert len(second.context["rows"]) == 11

    def keys(**params: str) -> list[str]:
        return [row.drift.key for row in admin_client.get(reverse("sync-drift"), params).context["rows"]]

    assert keys(entity="customers") == ["c:1"]
    assert keys(kind="missing_in_erp") == ["c:1"]
    assert keys(status="accepted") == ["product:accepted"]
    assert keys(q="sku-05") == [f"product:{n}" for n in range(50, 60)]
    assert keys(q="c:1") == ["c:1"]  # the key too
    assert len(keys(status="all")) == 50  # first page of 62
    assert len(keys(entity="bogus")) == 50  # an invalid filter is dropped, not an error


def test_page_queries_are_bounded(
    admin_client: Client,
    connection: ErpConnection,
    specs: list[ReconcileSpec],
    fixes: None,
    django_assert_max_num_queries: Any,
) -> None:
    accepter = UserFactory()
    for entity in ("products", "customers", "orders"):
        run = _run(connection, entity, status=ReconcileRun.Status.DONE)
        for n in range(20):
            _drift(
                connection,
                run,
                entity=entity,
                key=f"{entity}:{n}",
                details={"name": ["a", "b"]},
                status=Drift.Status.ACCEPTED if n % 2 else Drift.Status.OPEN,
                accepted_by=accepter if n % 2 else None,
            )
    # Session, user, groups; last runs, counts; the page count and the page's drifts (with their runs, the
    # accepter and the fix job joined): the same few queries for 6 drifts or 60.
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("sync-drift"), {"status": "all"})
    assert len(response.context["rows"]) == 50


# --- Fixes ------------------------------------------------------------------------------------------------


def test_accept_needs_a_reason_and_shows_who_when_why(
    admin_client: Client,
    connection: ErpConnection,
    specs: list[ReconcileSpec],
    fixes: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drift = _drift(connection, key="product:1", label="SKU-1", details={"name": ["a", "b"]})

    def accept(*, drift: Drift, actor: Any, reason: str) -> Drift:
        if not reason.strip():
            raise InvalidDriftAction("Give a reason.")
        Drift.objects.filter(pk=drift.pk).update(
            status=Drift.Status.ACCEPTED,
            accepted_by=actor,
            accepted_at=timezone.now(),
            accepted_reason=reason,
        )
        return drift

    monkeypatch.setattr(reconcile, "drift_accept", accept)
    url = reverse("sync-drift-accept", args=[drift.pk])

    blank = admin_client.post(url, {"reason": "  "}, HTTP_HX_REQUEST="true")
    assert blank.status_code == 200
    assert "Give a reason to accept it as it is" in blank.content.decode()
    drift.refresh_from_db()
    assert drift.status == Drift.Status.OPEN

    response = admin_client.post(url, {"reason": "ERP name is the marketing one"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="drift-{drift.pk}"')  # the row alone, re-rendered
    assert "SKU-1: accepted as it is." in html  # the flash message
    assert "Accepted as is" in html
    assert "ERP name is the marketing one" in html
    drift.refresh_from_db()
    assert drift.accepted_by is not None
    assert f"by {drift.accepted_by.get_full_name()}, <time" in html  # who, when, why
    assert "Accept as is</button>" not in html  # no fix left to offer

    plain = admin_client.post(url, {"reason": "again", "next": "/staff/sync/drift/?kind=field_differs"})
    assert plain.status_code == 302
    assert plain["Location"] == "/staff/sync/drift/?kind=field_differs"
    evil = admin_client.post(url, {"reason": "again", "next": "https://evil.example/"})
    assert evil["Location"] == reverse("sync-drift")


@pytest.mark.parametrize(
    ("name", "engine"), [("sync-drift-repull", "drift_repull"), ("sync-drift-repush", "drift_repush")]
)
def test_repull_and_repush_call_the_engine_and_show_its_refusal(
    admin_client: Client,
    connection: ErpConnection,
    specs: list[ReconcileSpec],
    fixes: None,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    engine: str,
) -> None:
    drift = _drift(connection, key="product:1", label="SKU-1")
    calls: list[Drift] = []

    def fix(*, drift: Drift, actor: Any) -> Drift:
        calls.append(drift)
        Drift.objects.filter(pk=drift.pk).update(status=Drift.Status.FIXING)
        return drift

    monkeypatch.setattr(reconcile, engine, fix)
    response = admin_client.post(reverse(name, args=[drift.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert calls == [drift]
    assert "Fix queued" in response.content.decode()
    assert "queued." in response.content.decode()

    def refuse(*, drift: Drift, actor: Any) -> Drift:
        raise InvalidDriftAction("Products have no job to push them again.")

    monkeypatch.setattr(reconcile, engine, refuse)
    refused = admin_client.post(reverse(name, args=[drift.pk]), HTTP_HX_REQUEST="true")
    assert refused.status_code == 200  # a message, never a 500
    assert "Products have no job to push them again." in refused.content.decode()

    assert admin_client.post(reverse(name, args=[999999])).status_code == 404


def test_a_drift_of_an_unregistered_entity_offers_no_fix(
    admin_client: Client,
    connection: ErpConnection,
    specs: list[ReconcileSpec],
    fixes: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drift = _drift(connection, entity="gone", key="x:1", details={"name": ["a", "b"]})
    response = admin_client.get(reverse("sync-drift"))
    (row,) = response.context["rows"]
    assert row.fixes == []
    assert row.entity_label == "gone"

    def engine(**kwargs: Any) -> Drift:
        raise AssertionError("the engine is not asked to fix what no app registers")

    monkeypatch.setattr(reconcile, "drift_repull", engine)
    refused = admin_client.post(reverse("sync-drift-repull", args=[drift.pk]), HTTP_HX_REQUEST="true")
    assert refused.status_code == 200
    assert "No app registers the reconciliation" in refused.content.decode()


# --- CSV --------------------------------------------------------------------------------------------------


def test_csv_export_of_the_filtered_list_one_row_per_field(
    admin_client: Client, connection: ErpConnection, specs: list[ReconcileSpec]
) -> None:
    _drift(connection, key="product:1", label="=HYPERLINK(1)", details={"name": ["a", "b"], "price": [1, 2]})
    _drift(
        connection,
        entity="customers",
        kind=Drift.Kind.DUPLICATED,
        key="WEB-1",
        details={"erp_keys": ["party:1", "party:2"]},
    )
    _drift(connection, key="product:old", status=Drift.Status.RESOLVED)

    response = admin_client.get(reverse("sync-drift-export"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:8] == ["entity", "kind", "key", "label", "status", "field", "portal_value", "erp_value"]
    body = [row[:9] for row in rows[1:]]
    assert body == [
        ["customers", "duplicated", "WEB-1", "", "open", "", "", "", "party:1 party:2"],
        ["products", "field_differs", "product:1", "'=HYPERLINK(1)", "open", "name", "a", "b", ""],
        ["products", "field_differs", "product:1", "'=HYPERLINK(1)", "open", "price", "1", "2", ""],
    ]
    only = admin_client.get(reverse("sync-drift-export"), {"entity": "customers"})
    assert len(list(csv.reader(io.StringIO(only.content.decode("utf-8-sig"))))) == 2


# --- Access -----------------------------------------------------------------------------------------------

GETS = ["sync-drift", "sync-drift-runs", "sync-drift-export"]
POSTS = ["sync-drift-run", "sync-drift-repull", "sync-drift-repush", "sync-drift-accept"]


def _url(name: str, drift: Drift) -> str:
    return reverse(name, args=[drift.pk]) if name.endswith(("repull", "repush", "accept")) else reverse(name)


@pytest.mark.parametrize("name", GETS + POSTS)
def test_staff_only(
    connection: ErpConnection,
    specs: list[ReconcileSpec],
    staff_factory: Callable[..., AbstractUser],
    company: Any,
    member_factory: Any,
    name: str,
) -> None:
    drift = _drift(connection, key="product:1")
    url = _url(name, drift)
    method = "get" if name in GETS else "post"
    anonymous = getattr(Client(), method)(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    for user in (
        member_factory(company).user,
        staff_factory(StaffRole.ACCOUNT_MANAGER),
        staff_factory(StaffRole.FINANCE),
    ):
        client = Client()
        client.force_login(user)
        assert getattr(client, method)(url, {"reason": "x", "entity": "products"}).status_code == 403
    drift.refresh_from_db()
    assert drift.status == Drift.Status.OPEN


def test_posts_need_the_csrf_token(
    connection: ErpConnection, specs: list[ReconcileSpec], staff_factory: Callable[..., AbstractUser]
) -> None:
    drift = _drift(connection, key="product:1")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_factory(StaffRole.ADMIN))
    for name in POSTS:
        assert client.post(_url(name, drift), {"reason": "x", "entity": "products"}).status_code == 403


def test_monitor_links_to_the_drift_page(admin_client: Client) -> None:
    assert reverse("sync-drift") in admin_client.get(reverse("sync-monitor")).content.decode()


# --- Alert ------------------------------------------------------------------------------------------------


def test_drift_alert_one_email_per_incident(
    connection: ErpConnection, specs: list[ReconcileSpec], staff_factory: Callable[..., AbstractUser]
) -> None:
    staff_factory(StaffRole.ADMIN, email="ops@wholesale.example")
    key = f"drift:{connection.pk}:products"

    assert (
        alerts.drift_alert(connection=connection, entity="products", open_count=0, summary_lines=[]) is False
    )
    assert mail.outbox == []

    lines = [f"SKU-{n}: name differs" for n in range(25)]
    assert alerts.drift_alert(connection=connection, entity="products", open_count=25, summary_lines=lines)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@wholesale.example"]
    assert "25 differences in Products and list prices" in mail.outbox[0].subject
    assert "SKU-0: name differs" in mail.outbox[0].body
    assert "and 5 more" in mail.outbox[0].body
    assert "/staff/sync/drift/" in mail.outbox[0].body

    # Still drifting on the next run: no second email. Another entity is its own incident.
    assert not alerts.drift_alert(connection=connection, entity="products", open_count=3, summary_lines=lines)
    assert len(mail.outbox) == 1
    assert alerts.drift_alert(connection=connection, entity="customers", open_count=1, summary_lines=["x"])
    assert len(mail.outbox) == 2

    alerts.drift_alert(connection=connection, entity="products", open_count=0, summary_lines=[])
    assert Incident.objects.get(key=key).closed_at is not None
    assert len(mail.outbox) == 2

    # The drift came back: a new incident, a new email.
    assert alerts.drift_alert(connection=connection, entity="products", open_count=1, summary_lines=["y"])
    assert len(mail.outbox) == 3
    assert Incident.objects.filter(key=key).count() == 2


# --- Schedule ---------------------------------------------------------------------------------------------


def test_nightly_schedule_runs_every_reconciliation(
    db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ERP_SYNC_ENABLED = True
    schedule = Schedule.objects.get(name="erp.reconcile.nightly")
    assert schedule.func == "apps.erp.tasks.reconcile_nightly"
    assert schedule.schedule_type == Schedule.DAILY
    assert f"{timezone.localtime(schedule.next_run):%H:%M}" == "02:00"
    assert schedule.next_run > timezone.now()

    monkeypatch.setattr(
        "apps.core.services.DAILY_SCHEDULES", {"erp.reconcile.nightly": (schedule.func, "03:30")}
    )
    schedules_ensure()
    schedule.refresh_from_db()
    assert f"{timezone.localtime(schedule.next_run):%H:%M}" == "03:30"  # the setting moved it

    runs = [ReconcileRun(entity="products", status=ReconcileRun.Status.DONE, differences=2)]
    monkeypatch.setattr(reconcile, "reconcile_all", lambda: runs)
    assert tasks.reconcile_nightly() == "products: done, 2 differences"


def test_next_local_time() -> None:
    now = timezone.localtime(timezone.now()).replace(hour=1, minute=0, second=0, microsecond=0)
    assert next_local_time("02:00", now) == now.replace(hour=2)
    later = now.replace(hour=3)
    assert timezone.localtime(next_local_time("02:00", later)) == timezone.localtime(
        later + timedelta(days=1)
    ).replace(hour=2)
