import asyncio

from omnitron.testing import AsyncTestClient

from {{project_snake}}.{{snake}}_controller import {{pascal}}Controller


def test_{{snake}}_controller_creates_reads_and_deletes() -> None:
    async def main() -> None:
        # In-process requests through the app's whole pipeline (no port).
        async with AsyncTestClient([{{pascal}}Controller()]) as client:
            r = await client.post("/{{kebab}}", json={"name": "first"})
            assert r.status_code == 201
            assert r.json() == {"id": 1, "name": "first"}
            assert (await client.get("/{{kebab}}/1")).json() == {"id": 1, "name": "first"}
            assert (await client.get("/{{kebab}}", params={"limit": 5})).json() == [{"id": 1, "name": "first"}]
            r = await client.get("/{{kebab}}/abc")
            assert r.status_code == 400  # a problem document naming `id`
            assert (await client.delete("/{{kebab}}/1")).status_code == 204
            assert (await client.get("/{{kebab}}/1")).status_code == 404

    asyncio.run(main())
