"""Random dicts and strings thrown at the parser: only ValueError may escape."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rlnoise import NoiseSpec, as_noise_spec
from rlnoise.core.kinds import KINDS
from rlnoise.core.schedules import SCHEDULES

FIELDS = [
    "kind",
    "scale",
    "mode",
    "relative_to",
    "schedule",
    "clip",
    "phases",
    "resample",
    "where",
    "adaptive",
]
PARAMS = sorted({name for info in KINDS.values() for name in info.params})
WORDS = [
    *KINDS,
    *SCHEDULES,
    "additive",
    "multiplicative",
    "replace",
    "range",
    "std",
    "space",
    "rollout",
    "train",
    "eval",
    "episode",
    "step",
    "type",
    "target",
    "points",
    "eta",
    "steps",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from([*FIELDS, *PARAMS, *WORDS]), st.text(max_size=4)),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
spec_dicts = st.dictionaries(
    st.one_of(st.sampled_from([*FIELDS, *PARAMS]), st.text(max_size=6), st.integers()),
    values,
    max_size=6,
).map(lambda d: {**d, "kind": d["kind"]} if "kind" in d else d)
kinded_dicts = st.builds(
    lambda kind, rest: {**rest, "kind": kind}, st.sampled_from(sorted(KINDS)), spec_dicts
)
spec_strings = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda kind, scale, options: f"{kind}:{scale}" + "".join(f",{k}={v}" for k, v in options),
        st.sampled_from(sorted(KINDS)),
        st.one_of(st.floats(allow_nan=True), st.text(max_size=5)),
        st.lists(
            st.tuples(
                st.sampled_from([*FIELDS, *PARAMS, "x"]),
                st.sampled_from([*WORDS, "1", "-1", "0.5", "a+b", "1+2", ""]),
            ),
            max_size=4,
        ),
    ),
)


def _only_value_error(data) -> None:
    try:
        spec = as_noise_spec(data)
    except ValueError:
        return
    # Whatever parses must round-trip exactly and be JSON-safe.
    assert NoiseSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    hash(spec)
    text = str(spec)  # never raises: the compact form, or the label
    if text != spec.label:
        assert NoiseSpec.parse(text) == spec


@given(kinded_dicts)
def test_random_dicts_with_a_kind(data) -> None:
    _only_value_error(data)


@given(spec_dicts)
def test_random_dicts(data) -> None:
    _only_value_error(data)


@given(spec_strings)
def test_random_strings(text) -> None:
    _only_value_error(text)


@given(values)
def test_random_values(value) -> None:
    _only_value_error(value)
