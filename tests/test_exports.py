"""Every public name of ``rlnoise`` resolves, lazily."""

from __future__ import annotations

import pytest

import rlnoise


@pytest.mark.parametrize("name", rlnoise.__all__)
def test_public_names_resolve(name: str) -> None:
    assert getattr(rlnoise, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        rlnoise.Nope  # noqa: B018
