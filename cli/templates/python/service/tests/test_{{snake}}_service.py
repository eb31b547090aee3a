import asyncio
import os

import pytest

from omnitron import OmnitronError, Pool

from {{project_snake}}.{{snake}}_service import {{pascal}}Service

# The project's root: the worker imports {{project_snake}} from there.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_{{snake}}_service_creates_and_finds_items() -> None:
    async def main() -> None:
        svc = {{pascal}}Service()
        item = await svc.create({"title": "first"})
        assert item == {"title": "first", "id": item["id"]}
        assert await svc.get(item["id"]) == item
        assert await svc.list_items() == [item]
        with pytest.raises(LookupError, match="no {{kebab}} 'nope'"):
            await svc.get("nope")

    asyncio.run(main())


def test_{{snake}}_service_answers_from_a_worker_process() -> None:
    async def main() -> None:
        # `python -m omnitron.worker {{project_snake}}.{{snake}}_service:{{pascal}}Service`
        async with await Pool.of({{pascal}}Service, size=1, cwd=ROOT) as pool:
            item = await pool.exec("create", {"title": "remote"})
            assert await pool.exec("get", item["id"]) == item
            assert await pool.exec("list_items") == [item]
            with pytest.raises(OmnitronError, match="no {{kebab}} 'nope'"):
                await pool.exec("get", "nope")

    asyncio.run(main())
