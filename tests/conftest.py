"""Session-wide test settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _kernel_choice_cache_in_a_temporary_dir(tmp_path_factory):
    """The mine workload and ``sha256d.scan`` cache their measured kernel choice on disk; in tests
    (subprocesses included) that cache is a temporary folder, never the user's home."""
    # The name of kernels.sha256d_choice.CACHE_ENV, not imported: that would import numba
    # before tests that set NUMBA_* variables first (test_kernel_choice checks the two agree).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOULEBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("kernel-choice-cache")))
        yield
