"""Hypothesis strategies shared by the test suite: valid profiles and junk input."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from immunorules import ConditionProfile

from .bundled import CONDITION_AREA, FIELD_DOMAINS

_AREA_CONDITION = [(area, None) for area in FIELD_DOMAINS["disease_area"]] + [
    (area, condition) for condition, area in CONDITION_AREA.items()
]


@st.composite
def profile_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid profile as a dict, over the whole valid space (omitting defaults at random)."""
    area, condition = draw(st.sampled_from(_AREA_CONDITION))
    data: dict[str, Any] = {"disease_area": area, "condition": condition}
    for name, domain in FIELD_DOMAINS.items():
        if name not in data:
            data[name] = draw(st.sampled_from(domain))
    if condition is not None and draw(st.booleans()):
        del data["disease_area"]
    return data


def profiles() -> st.SearchStrategy[ConditionProfile]:
    """Valid :class:`ConditionProfile` objects over the whole valid space."""
    return profile_dicts().map(ConditionProfile.model_validate)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
junk_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def junk_profiles(draw: st.DrawFn) -> object:
    """Anything: valid profiles with fields broken, unknown keys, non-dicts, odd key types."""
    kind = draw(st.integers(min_value=0, max_value=3))
    if kind == 0:
        return draw(junk_values)
    data: dict[Any, Any] = draw(profile_dicts())
    if kind == 1:
        for name in draw(st.lists(st.sampled_from(sorted(FIELD_DOMAINS)), max_size=4)):
            data[name] = draw(junk_values)
    elif kind == 2:
        data[draw(st.text(max_size=12))] = draw(junk_values)
    else:
        data[draw(st.integers() | st.none() | st.tuples(st.integers()))] = 1
    return data
