"""Stored face vectors rank by inner product exactly as the descriptors rank by Euclidean distance."""
import numpy as np
import pytest

from mmret.media.face_vectors import (
    FACE_DIM,
    descriptors_of,
    distance,
    query_vector,
    stored_vectors,
)


@pytest.fixture
def descriptors():
    rng = np.random.default_rng(7)
    return rng.normal(0, 0.12, (500, 128)) * rng.uniform(0.6, 1.6, (500, 1))  # norms about 0.8 to 2.2


def test_stored_and_query_vectors_are_unit_length(descriptors):
    stored = stored_vectors(descriptors)
    assert stored.shape == (500, FACE_DIM)
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(query_vector(descriptors[0])), 1, atol=1e-6)


def test_inner_product_order_is_euclidean_order_and_gives_the_distance_back(descriptors):
    stored = stored_vectors(descriptors)
    for query in descriptors[:20] + 0.01:
        euclidean = np.linalg.norm(descriptors - query, axis=1)
        scores = stored @ query_vector(query)
        assert np.array_equal(np.argsort(-scores, kind="stable")[:50], np.argsort(euclidean, kind="stable")[:50])
        recovered = [distance(query, score) for score in scores]
        np.testing.assert_allclose(recovered, euclidean, atol=2e-3)


def test_the_descriptor_comes_back_from_its_stored_vector(descriptors):
    np.testing.assert_allclose(descriptors_of(stored_vectors(descriptors)), descriptors, atol=1e-5)
