"""The package imports without pydantic, and dataclass bodies work without it (their schema and
builder made from the fields); pydantic is imported only when a model needs it."""

import os
import subprocess
import sys
import textwrap


def _python(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_importing_the_package_does_not_import_pydantic() -> None:
    out = _python(
        """
        import sys
        import omnitron, omnitron.http, omnitron.testing
        print("pydantic" in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_dataclass_bodies_without_pydantic() -> None:
    out = _python(
        """
        import sys
        sys.modules["pydantic"] = None  # `import pydantic` now fails, as when it is not installed
        import asyncio, dataclasses, json
        from typing import Optional
        from omnitron.http import HttpApp, controller, post
        from omnitron.http._schema import root_schema
        from omnitron.testing import AsyncTestClient

        @dataclasses.dataclass
        class Line:
            sku: str
            qty: int = 1

        @dataclasses.dataclass
        class Order:
            customer: str
            lines: list[Line]
            note: Optional[str] = None

        @controller("orders")
        class Orders:
            @post()
            async def create(self, order: Order) -> Order:
                assert isinstance(order.lines[0], Line)
                return order

        async def main():
            async with AsyncTestClient(HttpApp([Orders()])) as c:
                r = await c.post("/orders", json={"customer": "c", "lines": [{"sku": "a"}]})
                print(r.status_code, r.text)
                r = await c.post("/orders", json={"lines": [{"qty": "x"}]})
                print(r.status_code, r.text)

        asyncio.run(main())
        print(json.dumps(root_schema(Order), sort_keys=True))
        """
    )
    created, invalid, schema = out.strip().splitlines()
    assert created == '201 {"customer":"c","lines":[{"sku":"a","qty":1}],"note":null}'
    # Every failing field is named (by core once it validates bodies, else by the builder).
    assert invalid.startswith("400") and all(f in invalid for f in ("customer", "sku", "qty")), invalid
    s = __import__("json").loads(schema)
    assert s["type"] == "object" and s["required"] == ["customer", "lines"]
    assert s["properties"]["lines"] == {"type": "array", "items": {"$ref": "#/$defs/Line"}}
    assert s["$defs"]["Line"]["required"] == ["sku"]
