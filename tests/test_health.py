"""GET /health: what a load balancer polls, without a login, JSON whether well or not."""

from sqlalchemy import text

from webapp import create_app
from webapp.extensions import db


def test_health_answers_ok_without_login(app):
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_is_503_when_the_database_does_not_answer(tmp_path):
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    down = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    response = down.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["database"] == "unreachable"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)  # no connection details leak


def test_health_is_503_when_the_schema_is_behind_the_code(app):
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'abc123'"))
        db.session.commit()
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "error",
        "database": "schema not migrated (run flask db upgrade)",
    }


def test_health_is_503_on_a_database_without_tables(tmp_path):
    empty = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}",
        }
    )
    response = empty.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "query failed"}
