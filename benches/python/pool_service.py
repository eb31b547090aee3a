"""What the pool benchmark runs in its workers: an omnitron service, and the same no-op as a plain
function for multiprocessing."""

from omnitron import public, service


def noop(x: object) -> object:
    return x


@service("bench@1.0.0")
class Bench:
    @public
    async def noop(self, x: object) -> object:
        return x

    @public
    def noop_sync(self, x: object) -> object:
        return x
