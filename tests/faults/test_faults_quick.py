"""The fault suite's quick variant (CI, under a minute): every fault kind once, nothing lost, nothing
sent twice, every conversation in order. bench/faults.py runs the long scenarios and prints figures."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import HEADER, Fault, Scenario, run_scenario

QUICK = Scenario(
    name="quick: kill -9, Redis restart, 500 / 429 / hang / drop, graceful restart",
    messages=600, conversations=100, rate=60.0, claim_timeout=4.0, settle_seconds=40.0,
    faults=[
        Fault(1.0, "kill", 0),
        Fault(3.0, "peer:500", 2.0),
        Fault(5.5, "restart_redis", 1.0),
        Fault(7.0, "peer:429", 1.5),
        Fault(8.5, "peer:hang", 2.0),
        Fault(9.0, "peer:drop", 1.0),
        Fault(10.0, "restart_process", 1),
    ])


async def test_quick_fault_run_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    figures = await run_scenario(QUICK, tmp_path, progress=print)
    print(HEADER)
    print(figures.row())
    assert figures.lost == 0, figures
    assert figures.delivered_twice == 0, figures
    assert figures.out_of_order == 0, figures
