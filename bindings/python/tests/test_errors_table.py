"""The error classes, generated from the engine's table: one per code, under its family, and
the built-in classes Python users catch."""

import asyncio
import builtins

import pytest

import omnitron
from conftest import run
from omnitron import errors
from omnitron.resilience import timeout


def test_every_code_has_its_own_class_under_its_family():
    assert len(errors._BY_CODE) >= 69
    for code, cls in errors._BY_CODE.items():
        assert cls.code == code
        assert issubclass(cls, errors.OmnitronError)
        e = errors.from_code(code, "m")
        assert type(e) is cls and e.code == code and str(e) == f"[{code}] m"
        assert cls.__module__ == "omnitron.errors" and getattr(errors, cls.__name__) is cls
    for code in ("E002", "E007", "DI015", "RPC008"):
        assert code in errors._BY_CODE
    assert issubclass(errors.MissingProviderError, errors.DIError)
    assert issubclass(errors.RemoteError, errors.RpcError)
    # An application's own code stays a plain OmnitronError.
    own = errors.remote_error("APP001", "mine", {"k": 1})
    assert type(own) is errors.OmnitronError and own.code == "APP001" and own.data == {"k": 1}


def test_timeouts_and_cancellations_are_what_python_code_catches():
    assert issubclass(errors.TimeoutError, builtins.TimeoutError)
    assert issubclass(errors.CancelledError, asyncio.CancelledError)
    with pytest.raises(builtins.TimeoutError):
        raise errors.from_code("E006", "late")
    with pytest.raises(asyncio.CancelledError):
        raise errors.from_code("E005", "stopped")


def test_engine_errors_are_raised_as_the_class_of_their_code():
    c = omnitron.Container()
    with pytest.raises(errors.MissingProviderError) as info:
        c.resolve("nowhere")
    assert isinstance(info.value, LookupError) and info.value.code == "DI001"


def test_an_engine_timeout_is_a_builtin_timeout():
    @timeout(0.05)
    async def slow() -> None:
        await asyncio.sleep(5)

    with pytest.raises(builtins.TimeoutError) as info:
        run(slow())
    assert info.value.code == "E006" and isinstance(info.value, errors.TimeoutError)
