import asyncio
from pathlib import Path

import pytest

from omnitron import WorkflowEngine
from omnitron.errors import StageFailedError

from {{project_snake}}.{{snake}}_workflow import {{pascal}}Workflow


def test_{{snake}}_workflow_runs_both_stages() -> None:
    async def main() -> None:
        async with await WorkflowEngine.in_memory() as engine:
            wf = {{pascal}}Workflow()
            engine.register(wf)
            out = await engine.run("{{kebab}}", {"id": "o1", "amount": 40}, run_id="o1")
            assert out == {"reserve": {"reservation": "r-o1", "amount": 40}, "charge": {"charged": 40}}
            assert wf.log == ["reserve:o1:reserve", "charge:40"]
            assert (await engine.get("o1")).state == "completed"

    asyncio.run(main())


def test_{{snake}}_workflow_compensates_when_charge_fails(tmp_path: Path) -> None:
    async def main() -> None:
        # A journal on disk, as in production: the run's outcome is kept there.
        async with await WorkflowEngine.open(str(tmp_path / "runs.db")) as engine:
            wf = {{pascal}}Workflow()
            engine.register(wf)
            with pytest.raises(StageFailedError, match="over the limit"):
                await engine.run("{{kebab}}", {"id": "o2", "amount": 500}, run_id="o2")
            assert wf.log == ["reserve:o2:reserve", "release:r-o2"]
            info = await engine.get("o2")
            assert info.state == "compensated"
            assert info.stage("reserve").state == "compensated"

    asyncio.run(main())
