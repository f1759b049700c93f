"""The pytest plugin turns any exception while loading the rule folder into one failing item,
never a pytest INTERNALERROR."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

# Makes the plugin's load_rules raise, for the session of the inner pytest only.
_CONFTEST = """
import immunorules.testing._pytest_plugin as plugin

def _broken(*args, **kwargs):
    raise {error}

def pytest_configure(config):
    config._immunorules_saved_load = plugin.load_rules
    plugin.load_rules = _broken

def pytest_unconfigure(config):
    plugin.load_rules = config._immunorules_saved_load
"""


def _plugin_args() -> list[str]:
    installed = any(ep.name == "immunorules" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "immunorules.testing._pytest_plugin"]


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ('RecursionError("maximum recursion depth exceeded")', "RecursionError: maximum recursion"),
        ('ValueError("Exceeds the limit (4300 digits)")', "ValueError: Exceeds the limit"),
    ],
)
def test_any_exception_while_loading_is_a_failing_item(
    pytester: pytest.Pytester, error: str, shown: str
) -> None:
    pytester.mkdir("my_rules")
    pytester.makeconftest(_CONFTEST.format(error=error))
    result = pytester.runpytest(*_plugin_args(), "--immunorules-rules", "my_rules")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not INTERNAL_ERROR
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*the rule files could not be loaded: {shown}*", "*a bug*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_engine_error_names_the_plugin_option(pytester: pytest.Pytester) -> None:
    pytester.mkdir("my_rules")
    error = (
        "__import__('immunorules').EngineError(\"durable_rules is missing; use engine='native'\")"
    )
    pytester.makeconftest(_CONFTEST.format(error=error))
    result = pytester.runpytest(*_plugin_args(), "--immunorules-rules", "my_rules")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot be evaluated: *use --immunorules-engine native*"])
