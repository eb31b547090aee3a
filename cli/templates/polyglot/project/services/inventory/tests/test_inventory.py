import asyncio
import os

import pytest

from omnitron import OmnitronError, Pool

from inventory import Inventory

# services/inventory: the worker imports the `inventory` package from there.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_reserve_and_release() -> None:
    async def main() -> None:
        inv = Inventory({"book": 3})
        assert await inv.reserve("o1", "book", 2) == {"reservation": "o1", "sku": "book", "qty": 2}
        assert await inv.reserve("o1", "book", 2) == {"reservation": "o1", "sku": "book", "qty": 2}, "same key, same reservation"
        assert await inv.available("book") == 1
        with pytest.raises(ValueError, match="only 1 book left, 2 asked"):
            await inv.reserve("o2", "book", 2)
        with pytest.raises(LookupError, match="unknown sku 'piano'"):
            await inv.reserve("o3", "piano", 1)
        assert await inv.held() == ["o1"]
        assert await inv.release("o1") is True
        assert await inv.release("o1") is False, "released once"
        assert await inv.available("book") == 3

    asyncio.run(main())


def test_the_stock_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVENTORY_STOCK", "cup=4, mug=1")
    assert Inventory().stock == {"cup": 4, "mug": 1}


def test_inventory_in_a_worker_process() -> None:
    async def main() -> None:
        # As omnitron.yaml runs it: python -m omnitron.worker inventory:Inventory
        async with await Pool.of(Inventory, size=1, cwd=ROOT, env={"INVENTORY_STOCK": "lamp=2"}) as pool:
            assert await pool.exec("reserve", "k1", "lamp", 2) == {"reservation": "k1", "sku": "lamp", "qty": 2}
            with pytest.raises(OmnitronError, match="only 0 lamp left"):
                await pool.exec("reserve", "k2", "lamp", 1)
            assert await pool.exec("release", "k1") is True
            assert await pool.exec("available", "lamp") == 2

    asyncio.run(main())
