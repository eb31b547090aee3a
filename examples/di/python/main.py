"""The DI demo in Python, with the Pythonic decorators."""

import asyncio
import itertools

from omnitron import CONTEXT, Inject, Omnitron, Scope, create_token, injectable, module, provide

APP_CONFIG = create_token("AppConfig")
_repositories = itertools.count(1)


@injectable
class UserRepository:
    def __init__(self, config: Inject[APP_CONFIG]) -> None:
        self.id = next(_repositories)
        self.url = config["database_url"]

    def find_name(self, user_id: int) -> str:
        return {1: "Ada", 2: "Grace"}.get(user_id, "stranger")


@injectable(scope=Scope.SCOPED)
class RequestContext:
    def __init__(self, request: Inject[CONTEXT]) -> None:
        self.request_id = request["id"]
        self.user_id = request["user_id"]


@injectable(scope=Scope.SCOPED)
class GreetingService:
    def __init__(self, config: Inject[APP_CONFIG], repo: UserRepository, ctx: RequestContext) -> None:
        self.config, self.repo, self.ctx = config, repo, ctx

    def greet(self) -> str:
        c, r, x = self.config, self.repo, self.ctx
        return (
            f"{c['greeting']}, {r.find_name(x.user_id)}! (request {x.request_id}, user {x.user_id} "
            f"from {r.url}, repository #{r.id})"
        )


@module(
    providers=[provide(APP_CONFIG, use_value={"database_url": "postgres://demo", "greeting": "Hello"}), UserRepository],
    exports=[APP_CONFIG, UserRepository],
)
class DataModule:
    pass


@module(imports=[DataModule], providers=[RequestContext, GreetingService])
class AppModule:
    pass


async def main() -> None:
    async with await Omnitron.create(AppModule) as app:
        for request in ({"id": "r-1", "user_id": 1}, {"id": "r-2", "user_id": 2}):
            async with app.create_scope(request) as scope:
                print(f"python:     {scope.get(GreetingService).greet()}")


if __name__ == "__main__":
    asyncio.run(main())
