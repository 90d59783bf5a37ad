"""The sandbox runs handlers and the CLI's deploy as other accounts by changing os.environ for
a while; afterwards the process environment must be exactly as it was."""

from __future__ import annotations

import os

import pytest

from dpc.sandbox.server import environment_while


def test_the_environment_is_changed_only_while_the_block_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a variable that is set, one to unset, and one that does not exist
    monkeypatch.setenv("DPC_TEST_KEPT", "user value")
    monkeypatch.setenv("AWS_PROFILE", "user-profile")
    monkeypatch.delenv("DPC_TEST_NEW", raising=False)

    # When code runs as another account
    with environment_while(
        {"DPC_TEST_KEPT": "sandbox value", "DPC_TEST_NEW": "1"}, unset=("AWS_PROFILE",)
    ):
        inside = {n: os.environ.get(n) for n in ("DPC_TEST_KEPT", "DPC_TEST_NEW", "AWS_PROFILE")}

    # Then it saw the sandbox's values, and afterwards everything is back as it was
    assert inside == {"DPC_TEST_KEPT": "sandbox value", "DPC_TEST_NEW": "1", "AWS_PROFILE": None}
    assert os.environ["DPC_TEST_KEPT"] == "user value"
    assert os.environ["AWS_PROFILE"] == "user-profile"
    assert "DPC_TEST_NEW" not in os.environ


def test_the_environment_is_restored_when_the_block_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DPC_TEST_NEW", raising=False)
    with pytest.raises(RuntimeError), environment_while({"DPC_TEST_NEW": "1"}):
        raise RuntimeError("handler failed")
    assert "DPC_TEST_NEW" not in os.environ
