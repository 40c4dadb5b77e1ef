"""Run the sync engine by hand: pull every stream and/or dispatch the outbox, printing what moved."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.erp import inbound, services
from apps.erp.connectors import connector_for


class Command(BaseCommand):
    help = "Pull customers, products and stock from the ERP and push pending outbox jobs, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pull", action="store_true", help="only pull")
        parser.add_argument("--dispatch", action="store_true", help="only push the outbox")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = services.connection_get_default()
        connector = connector_for(connection)
        health = connector.health()
        if not health.reachable:
            raise CommandError(f"The ERP at {connection.url} is not reachable: {health.detail}")
        self.stdout.write(f"ERP: {health.detail}")
        try:
            if options["pull"] or not options["dispatch"]:
                inbound.pull_round(connection=connection, connector=connector, on_report=self._pulled)
            if options["dispatch"] or not options["pull"]:
                result = services.dispatch(connection=connection, connector=connector)
                self.stdout.write(
                    f"  pushed: {result.succeeded} succeeded, {result.failed} failed, "
                    f"{result.retrying} retrying"
                )
        finally:
            connector.close()

    def _pulled(self, report: inbound.PullReport, seconds: float) -> None:
        outcome = f"error: {report.error}" if report.error else f"{report.changed} changed"
        self.stdout.write(f"  pulled {report.stream:<10} {report.seen:>6} read, {outcome} ({seconds:.1f} s)")
