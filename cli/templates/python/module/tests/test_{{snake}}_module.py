import asyncio

import pytest

from omnitron import Omnitron
from omnitron.testing import create_mock, create_testing_module

from {{project_snake}}.{{snake}} import {{pascal}}Module, {{pascal}}Repository, {{pascal}}Service


def test_{{snake}}_module_injects_its_repository() -> None:
    async def main() -> None:
        async with await Omnitron.create({{pascal}}Module) as app:
            svc = app.get({{pascal}}Service)
            assert svc.repository is app.get({{pascal}}Repository), "one repository, shared"
            assert await svc.register("a1", {"name": "Ada"}) == {"name": "Ada", "id": "a1"}
            assert await svc.lookup("a1") == {"name": "Ada", "id": "a1"}
            assert await svc.lookup("zz") is None
            with pytest.raises(ValueError, match="id must not be empty"):
                await svc.register("", {})

    asyncio.run(main())


def test_{{snake}}_service_with_a_mock_repository() -> None:
    async def main() -> None:
        repo = create_mock({{pascal}}Repository, find={"id": "m1", "mocked": True})
        builder = create_testing_module(imports=[{{pascal}}Module]).override_provider({{pascal}}Repository).use_value(repo)
        async with await builder.compile() as module:
            assert await module.get({{pascal}}Service).lookup("m1") == {"id": "m1", "mocked": True}
            repo.find.assert_awaited_once_with("m1")

    asyncio.run(main())
