"""Envelopes: the shapes, the compact/dict forms inside a spec, random onsets and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from rlnoise import NoiseSpec
from rlnoise.core.envelopes import Envelope, EnvelopeGate, envelope_from_value


def _on(envelope: Envelope, onset: int, n: int = 12) -> list[int]:
    return [t for t in range(n) if envelope.active(t, onset)]


def test_shapes() -> None:
    assert _on(Envelope("impulse", at=3), 3) == [3]
    assert _on(Envelope("step", at=9), 9) == [9, 10, 11]
    assert _on(Envelope("pulse", at=2, duration=3), 2) == [2, 3, 4]
    assert _on(Envelope("periodic", period=4), 0) == [0, 4, 8]
    assert _on(Envelope("periodic", at=1, period=5, duration=2), 1) == [1, 2, 6, 7, 11]


@pytest.mark.parametrize(
    "text",
    [
        "gaussian:0.3,envelope=impulse(at=50)",
        "gaussian:0.3,envelope=step(at=5)",
        "uniform:0.1,envelope=pulse(at=50,duration=10)",
        "gaussian:0.3,envelope=periodic(period=25)",
        "gaussian:0.3,clip=[-1,1],envelope=periodic(at=3,duration=2,period=10)",
        "ou:0.2,theta=0.5,envelope=impulse(at=[20,80])",
    ],
)
def test_spec_round_trips(text: str) -> None:
    spec = NoiseSpec.parse(text)
    assert spec.envelope is not None
    assert NoiseSpec.parse(spec.to_string()) == spec
    assert NoiseSpec.from_dict(spec.to_dict()) == spec
    assert NoiseSpec.from_dict({**spec.to_dict(), "envelope": str(spec.envelope)}) == spec


def test_spec_without_envelope_keeps_its_dict() -> None:
    # Evaluation seeds and cache keys hash a spec's dict: it must not gain a key.
    assert "envelope" not in NoiseSpec.parse("gaussian:0.1").to_dict()
    assert NoiseSpec.parse("gaussian:0.1").label == "gaussian:0.1"
    assert NoiseSpec.parse("gaussian:0.1,envelope=step(at=5)").label == "gaussian:0.1@step(at=5)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("wave(at=1)", "envelope.shape must be one of"),
        ("pulse(at=1)", "envelope.duration is required"),
        ("periodic(duration=2)", "envelope.period is required"),
        ("periodic(period=2,duration=3)", "envelope.duration must be <= 2"),
        ("impulse(at=-1)", "envelope.at must be >= 0"),
        ("impulse(duration=2)", "envelope.duration is only for pulse and periodic"),
        ("step(at=[5,2])", "envelope.at[1] must be >= 5"),
        ("pulse(at=1,duration=x)", "envelope.duration must be an integer step, got 'x'"),
        ({"shape": "step", "onset": 3}, "onset"),
    ],
)
def test_bad_envelopes_name_the_field(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        envelope_from_value(value)


def test_random_onset_is_seeded_and_in_range() -> None:
    envelope = Envelope("impulse", at=(10, 20))

    def onsets(seed: int) -> list[int]:
        gate = EnvelopeGate(envelope, 3)
        gate.reseed([0, 1, 2], [np.random.default_rng([seed, row]) for row in range(3)])
        out = list(gate.onset)
        for _ in range(5):
            gate.restart()
            out += list(gate.onset)
        return [int(v) for v in out]

    assert onsets(0) == onsets(0) != onsets(1)
    assert all(10 <= v <= 20 for v in onsets(0))


def test_gate_steps_each_row_from_its_restart() -> None:
    gate = EnvelopeGate(Envelope("pulse", at=1, duration=2), 2)
    seen = [gate.advance().tolist() for _ in range(2)]
    gate.restart([1])
    seen += [gate.advance().tolist() for _ in range(2)]
    assert seen == [[False, False], [True, True], [True, False], [False, True]]
