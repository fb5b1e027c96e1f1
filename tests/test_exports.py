"""Every public name of ``rlnoise`` resolves, lazily, to the object its module defines."""

from __future__ import annotations

import importlib
import importlib.metadata

import pytest

import rlnoise

EXPORTED = [name for name in rlnoise.__all__ if name != "__version__"]


@pytest.mark.parametrize("name", EXPORTED)
def test_public_names_resolve_to_the_defining_modules_object(name: str) -> None:
    # Not just "something non-None": the very object of the module the name comes from.
    module = importlib.import_module(rlnoise._EXPORTS[name])
    assert getattr(rlnoise, name) is getattr(module, name)


def test_version_is_the_installed_distributions() -> None:
    assert rlnoise.__version__ == importlib.metadata.version("rlnoise")


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        rlnoise.Nope  # noqa: B018


def test_dir_lists_every_public_name() -> None:
    assert set(rlnoise.__all__) <= set(dir(rlnoise))
