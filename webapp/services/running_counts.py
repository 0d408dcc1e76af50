"""What the running counts (the funnel's cases per stage, the heatmap's cases per element) share:
adding to the counts at some keys, in one statement whatever their number, rows created at
their first case."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def add(session, table: Table, key: tuple[str, ...], rows: list[dict]) -> None:
    """Add each row's `cases` to the count at its key (the columns named in `key`). Give the
    rows in key order: steps in parallel then take the rows' locks in the same order."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    params = {f"{name}_{i}": value for i, row in enumerate(rows) for name, value in row.items()}
    session.execute(_adding(table, key, dialect, len(rows)), params)


@cache
def _adding(table: Table, key: tuple[str, ...], dialect: str, n: int):
    # Built once per table, database and number of rows: building and caching the statement
    # cost more than running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = (*key, "cases")
    statement = insert(table).values(
        [{name: bindparam(f"{name}_{i}") for name in columns} for i in range(n)]
    )
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={"cases": table.c.cases + statement.excluded.cases}
    )
