"""The pytest plugin installed with the package (entry point ``pytest11``): the ``omnitron_testing``
fixture, a :class:`omnitron.testing.TestingSession` whose modules are closed after each test.

::

    from omnitron import injectable
    from omnitron.testing import create_mock

    @injectable
    class UserRepository:
        async def save(self, user: dict) -> dict:
            raise RuntimeError("the real repository needs a database")

    @injectable
    class UserService:
        def __init__(self, users: UserRepository) -> None:
            self.users = users

        async def create(self, email: str) -> dict:
            return await self.users.save({"email": email})

    def test_create_user(omnitron_testing):
        module = omnitron_testing.run(
            omnitron_testing.create_testing_module(providers=[UserService])
            .override_provider(UserRepository)
            .use_value(create_mock(UserRepository, save={"id": 1}))
            .compile()
        )
        assert omnitron_testing.run(module.get(UserService).create("ada@example.com")) == {"id": 1}
        module.get(UserRepository).save.assert_awaited_once_with({"email": "ada@example.com"})

Disable it with ``pytest -p no:omnitron``.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .testing import TestingSession


@pytest.fixture
def omnitron_testing() -> Iterator[TestingSession]:
    """Builds testing modules (``create_testing_module(...)``) and closes them after the test; ``run``
    runs a coroutine on the fixture's own event loop (for synchronous tests)."""
    session = TestingSession()
    try:
        yield session
    finally:
        session.close()
