"""Bulk inserts with COPY: the cheapest way to write many rows, for PostgreSQL and for us.

COPY cannot say which ids it gave, so the callers that need them (to write rows pointing at
the new ones in the same transaction) take them from the table's sequence first (:func:`new_ids`).
"""

import json
import time
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection, models


@cache
def row_defaults(model: type[models.Model]) -> dict[str, Any]:
    """The model's plain defaults by attname (JSON and time fields are filled per row)."""
    return {
        f.attname: f.get_default()
        for f in model._meta.concrete_fields
        if not f.primary_key
        and not f.generated
        and not (f.has_default() and callable(f.default))
        and not isinstance(f, models.JSONField)
    }


def copy_in(model: type[models.Model], rows: list[dict[str, Any]], now: datetime) -> None:
    """Insert ``rows`` (attname → value) with COPY: every concrete column is written, missing
    values from the field's default. Violations surface as Django's IntegrityError."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if not f.generated and (not f.primary_key or f.attname in rows[0])
    ]
    defaults = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults.append(now)
        else:
            defaults.append(f.get_default())
    spec = [
        (f.attname, default, isinstance(f, models.JSONField))
        for f, default in zip(fields, defaults, strict=True)
    ]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    started = time.monotonic()
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            copy.write_row([json.dumps(row.get(n, d)) if j else row.get(n, d) for n, d, j in spec])
    if connection.queries_logged:
        # The raw cursor skips Django's query log; keep COPY visible to query counts.
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
        )


def new_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` ids from the table's sequence, for rows about to be copied in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]
