"""minigrad/threads.py: the BLAS thread limit holds inside the block and is undone after it."""
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minigrad.threads import TRAINING_THREADS, blas_threads


def blas_thread_counts() -> set:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_numpy_has_a_blas_to_limit():
    assert blas_thread_counts(), f"threadpoolctl found no BLAS in numpy {np.__version__}"


@pytest.mark.parametrize("before", [1, 2])
def test_limit_inside_and_previous_count_after(before):
    with threadpool_limits(limits=before, user_api="blas"):
        assert blas_thread_counts() == {before}
        with blas_threads():
            assert blas_thread_counts() == {TRAINING_THREADS}
            with blas_threads(2):
                assert blas_thread_counts() == {2}
            assert blas_thread_counts() == {TRAINING_THREADS}
        assert blas_thread_counts() == {before}


def test_limit_is_undone_when_the_block_raises():
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(KeyError):
            with blas_threads(1):
                raise KeyError("inside")
        assert blas_thread_counts() == {2}


def test_products_inside_the_block_are_unchanged():
    a = np.random.default_rng(0).standard_normal((300, 300))
    with blas_threads():
        inside = a @ a
    # another thread count may sum in another order: equal to float64 rounding, not bit for bit
    np.testing.assert_allclose(inside, a @ a, rtol=1e-12, atol=1e-12 * np.abs(a).max() ** 2 * a.shape[0])


@pytest.mark.parametrize("count", [0, -1, 1.5, "2", True])
def test_refuses_a_count_that_is_not_a_thread_count(count):
    with pytest.raises(ValueError, match=rf"blas_threads: count must be a whole number of threads ≥ 1, got {count!r}"):
        with blas_threads(count):
            pass


@pytest.mark.parametrize("command", ["train", "translate", "evaluate"])
def test_the_cli_runs_its_commands_on_the_training_threads(monkeypatch, command):
    import attention.__main__ as cli
    seen = []
    monkeypatch.setattr(cli, f"command_{command}", lambda args: seen.append(blas_thread_counts()) or 0)
    argv = {"train": ["train", "--out", "unused"], "translate": ["translate", "--model", "unused", "3 may 1979"],
            "evaluate": ["evaluate", "--model", "unused", "--file", "unused"]}[command]
    with threadpool_limits(limits=2, user_api="blas"):
        assert cli.main(argv) == 0
        assert blas_thread_counts() == {2}
    assert seen == [{TRAINING_THREADS}]
