"""Controllers in modules: built by the container with constructor injection, served by
``await app.listen(port)`` and drained by ``await app.close()``; tested in-process through a
testing module with the test clients (async and sync)."""

import asyncio
import threading

import pytest
from conftest import run
from http_helpers import afetch

from omnitron import Omnitron, injectable, module
from omnitron.errors import InvalidArgumentError
from omnitron.http import HttpApp, controller, get, post
from omnitron.testing import AsyncTestClient, TestClient, create_mock, create_testing_module


@injectable
class UserRepository:
    def __init__(self) -> None:
        self.users = {1: "Ada"}

    def find(self, id: int) -> "str | None":
        return self.users.get(id)

    def add(self, name: str) -> int:
        id = max(self.users) + 1
        self.users[id] = name
        return id


@controller("users")
class UsersController:
    def __init__(self, repo: UserRepository) -> None:
        self.repo = repo

    @get("/{id}")
    async def find(self, id: int) -> dict:
        return {"id": id, "name": self.repo.find(id)}

    @post()
    def create(self, body: dict) -> dict:
        return {"id": self.repo.add(body["name"])}


@module(providers=[UserRepository], exports=[UserRepository])
class DataModule:
    pass


@module(imports=[DataModule], controllers=[UsersController])
class UsersModule:
    pass


@module(imports=[UsersModule])
class AppModule:
    pass


def test_an_application_serves_its_modules_controllers() -> None:
    async def main() -> None:
        app = await Omnitron.create(AppModule)
        port = await app.listen(0)
        status, _, body = await afetch(port, "GET", "/users/1")
        assert (status, body) == (200, b'{"id":1,"name":"Ada"}')
        status, _, body = await afetch(port, "POST", "/users", {"name": "Grace"})
        assert (status, body) == (201, b'{"id":2}')
        # The repository is DataModule's (not visible from the root): the controller got it.
        assert (await afetch(port, "GET", "/users/2"))[2] == b'{"id":2,"name":"Grace"}'
        http = await app.http_app()
        assert http.port == port
        with pytest.raises(InvalidArgumentError, match="made already"):
            await app.http_app(body_limit=10)
        await app.close()
        assert not http.ready
        with pytest.raises(OSError):
            await afetch(port, "GET", "/users/1")

    run(main())


def test_listen_takes_the_app_s_options() -> None:
    async def main() -> None:
        async with await Omnitron.create(AppModule) as app:
            port = await app.listen(0, host="127.0.0.1", body_limit=8)
            status, _, body = await afetch(port, "POST", "/users", {"name": "a long name"})
            assert status == 413 and b"H004" in body

    run(main())


def test_a_testing_module_with_an_async_client_and_a_mock() -> None:
    async def main() -> None:
        repo = create_mock(UserRepository, find="Mocked")
        module = await (
            create_testing_module(controllers=[UsersController], providers=[UserRepository])
            .override_provider(UserRepository)
            .use_value(repo)
            .compile()
        )
        async with module, AsyncTestClient(module) as client:
            r = await client.get("/users/5")
            assert r.json() == {"id": 5, "name": "Mocked"}
            repo.find.assert_called_once_with(5)

    run(main())


def test_the_sync_client_runs_its_own_loop() -> None:
    with TestClient(HttpApp([UsersController(UserRepository())])) as client:
        assert client.get("/users/1").json() == {"id": 1, "name": "Ada"}
        r = client.post("/users", json={"name": "Linus"})
        assert (r.status_code, r.json()) == (201, {"id": 2})
        assert client.get("/users/2").json()["name"] == "Linus"
    with pytest.raises(InvalidArgumentError, match="closed"):
        client.get("/users/1")


def test_the_sync_client_with_the_pytest_fixture(omnitron_testing) -> None:  # type: ignore[no-untyped-def]
    module = omnitron_testing.run(create_testing_module(imports=[UsersModule]).compile())
    with TestClient(module) as client:
        assert client.get("/users/1", headers={"x-request-id": "abc"}).headers["x-request-id"] == "abc"


def test_an_app_is_bound_to_the_loop_it_was_first_used_on() -> None:
    app = HttpApp([UsersController(UserRepository())])

    async def use() -> int:
        return (await app.inject("GET", "/users/1"))[0]

    loop = asyncio.new_event_loop()
    other = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(use()) == 200
        with pytest.raises(InvalidArgumentError, match="another event loop"):
            other.run_until_complete(use())
        loop.run_until_complete(app.close())
    finally:
        loop.close()
        other.close()
    with pytest.raises(InvalidArgumentError, match="closed"):
        run(use())


def test_controllers_must_be_controllers() -> None:
    with pytest.raises(InvalidArgumentError, match="not a controller"):
        HttpApp([UserRepository()])
    with pytest.raises(InvalidArgumentError, match="constructor arguments"):
        HttpApp([UsersController])
    with pytest.raises(InvalidArgumentError, match="list of controllers"):
        HttpApp(UsersController)  # type: ignore[arg-type]
    assert threading.active_count() >= 1
