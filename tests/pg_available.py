"""Exit 0 if a PostgreSQL server answers at the URL given, else 1 (used by `make test`)."""

import sys

from sqlalchemy import make_url


def main(url: str) -> int:
    try:
        import psycopg

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception as err:  # any failure means: not available here
        print(f"PostgreSQL not available: {type(err).__name__}: {err}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
