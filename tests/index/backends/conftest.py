import pytest

from .milvus_server import start_server


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """One Milvus server for the whole session (it takes ~10 s to start); each test makes its own collection."""
    try:
        server = start_server(tmp_path_factory.mktemp("milvus-server"))
    except RuntimeError as error:
        pytest.skip(str(error))
    yield server
    server.stop()
