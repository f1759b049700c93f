"""The command line's structure: one module per command, each with exactly ``register(sub)`` and
``run(args, ctx)``; every subcommand comes from one of them; one ``CliError`` carries the exit
code."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

from immunorules._cli import commands
from immunorules._cli.context import CliError, Context

# the package's ``main`` attribute is the function: the module is ``cli``
cli = importlib.import_module("immunorules._cli.main")
COMMAND_MODULES = [
    importlib.import_module(f"{commands.__name__}.{info.name}")
    for info in pkgutil.iter_modules(commands.__path__)
]


def _registered(module: ModuleType) -> set[str]:
    sub = argparse.ArgumentParser().add_subparsers()
    module.register(sub)
    return set(sub.choices)


def test_the_command_package_lists_every_command_module() -> None:
    listed = [id(module) for module in commands.COMMANDS]
    assert sorted(listed) == sorted(id(module) for module in COMMAND_MODULES)
    assert len(COMMAND_MODULES) >= 8


@pytest.mark.parametrize("module", COMMAND_MODULES, ids=lambda m: m.__name__.rsplit(".")[-1])
def test_every_command_module_has_the_register_run_shape(module: ModuleType) -> None:
    assert module.__all__ == ["register", "run"]
    # The annotations as written (argparse._SubParsersAction is not subscriptable at run time).
    register = inspect.signature(module.register)
    assert [(p.name, p.annotation) for p in register.parameters.values()] == [
        ("sub", "argparse._SubParsersAction[argparse.ArgumentParser]")
    ]
    assert register.return_annotation == "None"
    run = inspect.signature(module.run)
    assert [(p.name, p.annotation) for p in run.parameters.values()] == [
        ("args", "argparse.Namespace"),
        ("ctx", "Context"),
    ]
    assert run.return_annotation == "int"
    assert module.Context is Context
    assert _registered(module), "a command module registers at least one subcommand"


def test_every_subcommand_comes_from_a_command_module() -> None:
    parser, owners = cli.build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(owners)
    for name, owner in owners.items():
        assert owner in commands.COMMANDS
        assert name in _registered(owner)
    assert set(owners) == {
        "evaluate", "explain", "audit", "coverage", "diff", "validate", "vocabulary", "schema",
        "serve", "cohort", "export",
    }  # fmt: skip
    assert set(owners.values()) == set(commands.COMMANDS)


def test_one_error_class_for_the_whole_command_line() -> None:
    import immunorules._cli as package

    defined = set()
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        defined |= {
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, BaseException)
            and value.__module__.startswith(package.__name__)
        }
    assert defined == {CliError}


def test_a_cli_error_exits_with_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from immunorules._cli.commands import validate

    def refuse(args: argparse.Namespace, ctx: Context) -> int:
        raise CliError("not today", code=3)

    monkeypatch.setattr(validate, "run", refuse)
    assert cli.main(["validate", "."]) == 3
    assert capsys.readouterr().err == "immunorules: error: not today\n"
