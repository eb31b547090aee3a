"""Runs the application in this process: `python -m {{snake}}.main [NAME]`."""

import asyncio
import sys

from omnitron import Omnitron

from .app import AppModule
from .greeter import Greeter


async def main(name: str) -> None:
    # Builds every provider of the module graph, runs their on_init hooks; on_destroy on exit.
    async with await Omnitron.create(AppModule) as app:
        print(app.get(Greeter).greet(name))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "world"))
