"""One warm engine (shapes, with shapes_mobile for transfer) for every web test, a test client and a live server."""

import pytest

from keras_advinterp.web import BackgroundServer, Engine, create_app


@pytest.fixture(scope="session")
def engine():
    return Engine("shapes")


@pytest.fixture(scope="session")
def app(engine):
    return create_app(engine)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app):
    """The app on a real Werkzeug threaded server at 127.0.0.1 (a free port)."""
    with BackgroundServer(app) as server:
        yield server
