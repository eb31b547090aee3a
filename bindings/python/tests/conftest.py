import asyncio
from typing import Any, Awaitable


def run(aw: Awaitable[Any]) -> Any:
    """Runs a coroutine to completion in a fresh event loop."""

    async def main() -> Any:
        return await aw

    return asyncio.run(main())
