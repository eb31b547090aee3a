import asyncio
import os

import pytest

from omnitron import OmnitronError, Pool
from omnitron.testing import create_testing_module

from {{snake}}.app import AppModule
from {{snake}}.config import AppConfig
from {{snake}}.greeter import Greeter

# The project's root: the workers import {{snake}} from there.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_greeter_greets() -> None:
    greeter = Greeter(AppConfig(greeting="Hello"))
    assert greeter.greet("Ada") == "Hello, Ada!"
    with pytest.raises(ValueError, match="name must not be empty"):
        greeter.greet("")


def test_the_module_provides_a_greeter_with_the_configured_greeting() -> None:
    async def main() -> None:
        builder = create_testing_module(imports=[AppModule]).override_provider(AppConfig).use_value(AppConfig(greeting="Hi"))
        async with await builder.compile() as module:
            assert module.get(Greeter).greet("Ada") == "Hi, Ada!"

    asyncio.run(main())


def test_the_greeter_answers_from_two_worker_processes() -> None:
    async def main() -> None:
        # `python -m omnitron.worker {{snake}}.greeter:Greeter`, twice, as omnitron.yaml runs it.
        async with await Pool.of(Greeter, size=2, cwd=ROOT, env={"GREETING": "Hello"}) as pool:
            assert await pool.exec("greet", "Grace") == "Hello, Grace!"
            pids = set(await pool.map([1, 2, 3, 4], lambda _: pool.exec("pid")))
            assert os.getpid() not in pids, "the calls ran in the workers, not here"
            # An exception in the worker comes back as an OmnitronError with its message.
            with pytest.raises(OmnitronError, match="name must not be empty"):
                await pool.exec("greet", "")

    asyncio.run(main())
