import faiss
import pytest


@pytest.fixture(autouse=True, scope="session")
def one_faiss_thread():
    """The test machine's cores are shared: OpenMP threads spinning against each other make FAISS training
    ten times slower than one thread."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)
