"""The health check."""


def test_healthz_reports_the_database(client):
    """/healthz answers 200 with the database reachable, without login."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


def test_healthz_reports_an_unreachable_database(tmp_path):
    """With the database down, /healthz answers 503 (not 500) so a balancer takes the node out."""
    from survey import create_app

    app = create_app(
        {"TESTING": True, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "SECRET_KEY": "x"}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
