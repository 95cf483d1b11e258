"""Shared fixtures. Tests marked `torch` compare with PyTorch and are skipped without it."""
import numpy as np
import pytest

try:
    import torch  # noqa: F401  (the reference oracle, never imported by minigrad itself)
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="PyTorch is not installed (pip install torch==2.13.0)")
    for item in items:
        if "torch" in item.keywords and not HAVE_TORCH:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seeded_initialisers():
    """Every test starts from the same initialiser stream, so a statistical check cannot flake."""
    import minigrad
    minigrad.manual_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
