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


def _valid_spec_dicts() -> st.SearchStrategy[dict]:
    """Valid spec dicts of every kind with random option values that a string can hold."""

    def build(kind: str, draw: st.DrawFn) -> dict:
        info = KINDS[kind]
        data: dict = {"kind": kind, "mode": draw(st.sampled_from(info.modes))}
        high = 1.0 if info.scale_is_probability else 1e6
        data["scale"] = draw(st.floats(0.0, high, allow_nan=False))
        if not info.scale_is_probability and draw(st.booleans()):
            data["relative_to"] = draw(st.sampled_from(["range", "std"]))
        if draw(st.booleans()):
            low = draw(st.floats(-1e6, 1e6))
            data["clip"] = draw(st.sampled_from(["space", [low, low + draw(st.floats(1e-3, 1e6))]]))
        if draw(st.booleans()):
            data["phases"] = draw(
                st.lists(st.sampled_from(["rollout", "train", "eval"]), min_size=1, unique=True)
            )
        if draw(st.booleans()):
            data["resample"] = draw(
                st.one_of(st.sampled_from(["call", "step", "episode"]), st.integers(1, 10**6))
            )
        if draw(st.booleans()):
            data["schedule"] = draw(st.sampled_from(["annealed", "constant", "exponential"]))
        for name, (default, _) in info.params.items():
            if draw(st.booleans()):
                continue
            if name == "values":
                low = draw(st.floats(-1e6, 1e6))
                data[name] = [low, draw(st.floats(-1e6, 1e6))]
            elif isinstance(default, bool):
                data[name] = draw(st.booleans())
            elif isinstance(default, int):
                data[name] = draw(st.integers(2, 10**6))
            elif name == "beta":
                data[name] = draw(st.floats(0.0, 4.0))
            elif name == "dt":
                data[name] = draw(st.floats(1e-6, 10.0))
            elif name in ("theta", "salt_ratio"):
                data[name] = draw(st.floats(0.0, 1.0))
            else:
                data[name] = draw(st.floats(-1e6, 1e6))
        return data

    return st.composite(lambda draw: build(draw(st.sampled_from(sorted(KINDS))), draw))()


@given(_valid_spec_dicts())
def test_every_spec_with_a_scalar_scale_round_trips_through_str(data: dict) -> None:
    spec = NoiseSpec.from_dict(data)
    assert NoiseSpec.parse(str(spec)) == spec
