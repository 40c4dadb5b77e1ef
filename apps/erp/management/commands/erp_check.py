"""Check a connection to a real ERP before the portal syncs with it: sign in, read one page of each
stream and of each reconciliation, and say what the connector can and cannot do. It writes nothing, in
the ERP or in the portal (beyond the connection row the ERP_* settings describe)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.erp import registry, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Capabilities, Connector, Cursor, ErpError, Page
from apps.erp.models import ErpConnection

CAN = {
    "price_lists": "pushes price lists",
    "ship_to_records": "keeps ship-to addresses as records",
    "order_confirm": "confirms orders through the API",
    "credit_limit_enforced": "enforces credit limits",
    "customer_holds": "has a customer credit hold",
    "credit_memo_amount_paid": "reports refunds on credit notes",
    "change_notifications": "calls the portal when records change",
    "quotes": "keeps offered quotes as quotations",
    "invoice_documents": "gives each invoice's own document",
    "invoice_payments": "reads each invoice's payments",
}


class Command(BaseCommand):
    help = (
        "Sign in to the ERP, read one page of each stream and reconciliation, and print what the "
        "connector can and cannot do. Exits 1 when the ERP cannot be reached or a read fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connection", help="a connection's name (default: the ERP_* settings)")
        parser.add_argument("--page-size", type=int, default=5, help="records per read (default 5)")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = self._connection(options["connection"])
        self.stdout.write(f"ERP: {connection.get_kind_display()} at {connection.url} ({connection.database})")
        try:
            connector = connector_for(connection)
        except (ValueError, ErpError) as exc:
            raise CommandError(f"No connector: {exc}") from exc
        try:
            health = connector.health()
            if not health.reachable:
                raise CommandError(f"Cannot sign in: {health.detail}")
            self.stdout.write(self.style.SUCCESS(f"Signed in: {health.detail} (version {health.version})"))
            failures = self._reads(connector, options["page_size"])
            self._capabilities(connector.capabilities)
        finally:
            connector.close()
        if failures:
            raise CommandError(f"{failures} read(s) failed; see above.")

    def _connection(self, name: str | None) -> ErpConnection:
        if not name:
            return services.connection_get_default()
        try:
            return ErpConnection.objects.get(name=name)
        except ErpConnection.DoesNotExist:
            raise CommandError(f"No ERP connection named {name!r}.") from None

    def _reads(self, connector: Connector, size: int) -> int:
        reads: list[tuple[str, Callable[[], Page[Any]]]] = [
            (f"pull {spec.name}", partial(spec.fetch, connector, Cursor(), size))
            for spec in registry.streams()
        ]
        capabilities = connector.capabilities
        reads += [
            (f"reconcile {spec.entity}", partial(spec.read, connector, "", size))
            for spec in registry.reconciliations()
            if spec.applies_to(capabilities)
        ]
        failures = 0
        for label, read in reads:
            started = time.perf_counter()
            try:
                page = read()
            except ErpError as exc:
                failures += 1
                self.stdout.write(self.style.ERROR(f"  {label}: failed: {exc.message}"))
                continue
            more = ", more after" if page.has_more else ""
            self.stdout.write(
                f"  {label}: {len(page.records)} record(s) in {time.perf_counter() - started:.2f} s{more}"
            )
        return failures

    def _capabilities(self, capabilities: Capabilities) -> None:
        can = [said for name, said in CAN.items() if getattr(capabilities, name)]
        if capabilities.cancel == "cancel":
            can.append("cancels orders (the sale stays, cancelled)")
        self.stdout.write("It can: " + "; ".join(can) + ".")
        cannot = capabilities.limits()
        self.stdout.write(
            "It cannot: " + ("; ".join(cannot) if cannot else "nothing the portal uses is missing") + "."
        )
