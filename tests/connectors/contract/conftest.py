"""The runner's asserts explain themselves (pytest rewrites only test modules unasked)."""

import pytest

pytest.register_assert_rewrite("tests.connectors.contract.runner")
