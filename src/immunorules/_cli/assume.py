"""``--assume FIELD=VALUE`` (repeatable) and ``--assume v2``: a policy for the fields a profile
leaves not stated, for the commands that evaluate (``evaluate``, ``cohort``).

It reads the option into the ``assume=`` value evaluation takes (a mapping of field ids to
values of the knowledge base's vocabulary, or ``"v2"``: the v2 reading, every safety fact "no")
and checks that this installation's evaluation takes one; a value that is not one of the
field's, or an evaluation that cannot assume, is a :class:`~.context.CliError`. It never decides
what an assumed value changes: evaluation does, and says so in the result.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .context import CliError

if TYPE_CHECKING:
    from .knowledge import KnowledgeBase

__all__ = ["Policy", "add_assume", "policy", "supports"]

#: What ``assume=`` takes: field values, ``"v2"``, or nothing.
Policy = Mapping[str, Any] | Literal["v2"] | None

_HELP = (
    "a value to assume for FIELD when the profile leaves it not stated (repeatable), e.g. "
    "--assume pregnant=false --assume prior_lines_of_therapy=0 (set fields: members separated "
    "by '|', or [] for none); or --assume v2 for the v2 reading (every fact not stated read as "
    "'no'). The answer lists what it assumed."
)


def add_assume(parser: argparse.ArgumentParser) -> None:
    """``--assume FIELD=VALUE`` (repeatable) or ``--assume v2``."""
    parser.add_argument(
        "--assume", action="append", default=None, metavar="FIELD=VALUE|v2", help=_HELP
    )


def supports(function: Callable[..., Any]) -> bool:
    """Whether ``function`` takes ``assume=``."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # pragma: no cover - every evaluation has a signature
        return False
    return "assume" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def policy(
    given: list[str] | None, kb: KnowledgeBase, evaluation: Callable[..., Any] | None = None
) -> Policy:
    """The ``assume=`` value of ``--assume`` options (None when there are none), checked
    against ``kb``'s vocabulary; when ``evaluation`` is given, a :class:`CliError` unless it
    takes ``assume=``."""
    if not given:
        return None
    if evaluation is not None and not supports(evaluation):
        raise CliError(
            "--assume is not supported by this installation: its evaluation takes no assume= "
            "policy. Leave --assume out (fields not stated stay not stated, and the answer "
            "says what it depends on)."
        )
    if "v2" in given:
        if len(given) > 1:
            raise CliError("--assume v2 cannot be combined with --assume FIELD=VALUE.")
        return "v2"
    found: dict[str, Any] = {}
    for item in given:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CliError(f"--assume {item!r}: give FIELD=VALUE (e.g. pregnant=false) or v2.")
        if name in found:
            raise CliError(f"--assume gives {name!r} twice.")
        found[name] = _value(kb, name, text.strip())
    return found


def _value(kb: KnowledgeBase, name: str, text: str) -> Any:
    from .._model.profile import did_you_mean

    schema = kb.schema
    definition = schema.fields.get(name)
    if definition is None:
        hint = did_you_mean(name, list(schema.fields))
        raise CliError(f"--assume {name}=...: {name!r} is not a profile field{hint}.")
    if text.lower() in ("null", "none", "") and definition.type != "enum":
        raise CliError(
            f"--assume {name}={text}: assume a stated value; a field the profile leaves out is "
            "not stated without --assume."
        )
    if definition.type == "set":
        members = schema.set_fields[name]
        chosen = [] if text in ("[]", "") else [m.strip() for m in text.split("|") if m.strip()]
        wrong = [m for m in chosen if m not in members]
        if wrong:
            raise CliError(
                f"--assume {name}={text}: {', '.join(map(repr, wrong))} "
                f"{'is' if len(wrong) == 1 else 'are'} not among its members "
                f"({', '.join(members)})."
            )
        return tuple(m for m in members if m in chosen)
    value: Any = text
    if definition.type == "boolean":
        value = {"true": True, "false": False}.get(text.lower(), text)
    elif definition.type == "integer":
        try:
            value = int(text)
        except ValueError:
            value = text
    allowed = [v for v in schema.domains[name] if v is not None]
    if value is None or value not in allowed or type(value) is not type(allowed[0]):
        shown = ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in allowed)
        if definition.type == "integer" and len(allowed) > 6:
            shown = f"{allowed[0]}..{allowed[-1]}"
        raise CliError(f"--assume {name}={text}: not one of its values ({shown}).")
    return value
