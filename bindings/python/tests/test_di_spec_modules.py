"""The spec's section 2.3 (root module and feature module) in Python idiom: ``ConfigModule``,
``DatabaseModule`` and ``RedisModule`` with ``for_root()``, a users feature module with controllers,
providers, exports and process, and an orders module. Only minimal stubs are added."""

import asyncio
from typing import Any

import pytest

from conftest import run
from omnitron import DynamicModule, Inject, Omnitron, create_token, injectable, module, provide
from omnitron.errors import NotExportedError

# ---- minimal stubs -------------------------------------------------------------------------------

log: list[str] = []
CONFIG = create_token("Config")
DATABASE_OPTIONS = create_token("DatabaseOptions")


@module()
class ConfigModule:
    @classmethod
    def for_root(cls) -> DynamicModule:
        return DynamicModule(cls, providers=[provide(CONFIG, use_value={"env": "test"})], exports=[CONFIG], is_global=True)


class Database:
    migrated = False

    async def on_init(self) -> None:
        await asyncio.sleep(0.001)
        self.migrated = True
        log.append("database migrated")


@module()
class DatabaseModule:
    @classmethod
    def for_root(cls, **options: Any) -> DynamicModule:
        return DynamicModule(
            cls,
            providers=[provide(DATABASE_OPTIONS, use_value=options), Database],
            exports=[Database, DATABASE_OPTIONS],
            is_global=True,
        )


class Redis:
    connected = True


@module()
class RedisModule:
    @classmethod
    def for_root(cls) -> DynamicModule:
        return DynamicModule(cls, providers=[Redis], exports=[Redis], is_global=True)


class UsersRepository:
    def __init__(self, db: Database) -> None:
        self.db = db


@injectable
class UsersService:
    def __init__(self, repository: UsersRepository, redis: Redis, config: Inject[CONFIG]) -> None:
        self.repository, self.redis, self.config = repository, redis, config

    def find_one(self, id: str) -> dict[str, Any]:
        return {"id": id, "migrated": self.repository.db.migrated}


controllers: list[Any] = []


class UsersController:
    def __init__(self, users_service: UsersService) -> None:
        self.users_service = users_service
        controllers.append(self)
        log.append("controller built")


class UsersWorkflow:
    pass


class OrdersService:
    def __init__(self, users: UsersService) -> None:
        self.users = users


# ---- users/module.py (spec 2.3) --------------------------------------------------------------------


@module(
    # HTTP routes (recorded as providers until the HTTP layer exists)
    controllers=[UsersController],
    # Dependency injection
    providers=[UsersService, UsersRepository, UsersWorkflow],
    # Export for other modules
    exports=[UsersService],
    # Process isolation (optional): checked and recorded, not acted upon yet
    process={"type": "service", "instances": "auto", "isolation": "thread"},
)
class UsersModule:
    pass


@module(imports=[UsersModule], providers=[OrdersService], exports=[OrdersService])
class OrdersModule:
    pass


# ---- app/module.py (spec 2.3) ----------------------------------------------------------------------


@module(
    imports=[
        ConfigModule.for_root(),  # configuration
        DatabaseModule.for_root(type="postgres", auto_migrate=True),  # database with migration
        RedisModule.for_root(),  # cache and pub/sub
        UsersModule,  # business modules
        OrdersModule,
    ],
    providers=[],
    exports=[],
)
class AppModule:
    pass


def test_spec_2_3_root_and_feature_modules() -> None:
    async def main() -> None:
        async with await Omnitron.create(AppModule) as app:
            assert log == ["database migrated", "controller built"], "initialize() ran on_init and built the controller"
            users = app.get(UsersService)
            assert users.find_one("u1") == {"id": "u1", "migrated": True}
            assert users.redis.connected and users.config == {"env": "test"}
            assert app.get(OrdersService).users is users
            assert controllers[0].users_service is users
            assert app.get(DATABASE_OPTIONS) == {"type": "postgres", "auto_migrate": True}
            with pytest.raises(NotExportedError):
                app.get(UsersController)  # private to UsersModule

    run(main())
