"""The fault suite's quick variant (CI, under a minute): every fault kind once, nothing lost, nothing
sent twice, every conversation in order. bench/faults.py runs the long scenarios and prints figures."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import HEADER, Fault, Scenario, run_scenario

QUICK = Scenario(
    name="quick: kill -9, Redis restart, 500 / 429 / hang / drop, graceful restarts",
    messages=300, conversations=50, rate=60.0, claim_timeout=3.0, settle_seconds=40.0,
    faults=[
        Fault(0.5, "kill", 0),
        Fault(1.0, "peer:500", 1.5),
        Fault(2.5, "restart_redis", 1.0),
        Fault(3.0, "peer:429", 1.0),
        Fault(4.0, "peer:hang", 1.0),
        Fault(4.5, "peer:drop", 0.5),
        Fault(5.0, "restart_process", 1),  # a worker process, gracefully
        Fault(6.0, "restart_process", 0),  # the receiver's process (killed at 0.5 s), gracefully
    ])


async def test_quick_fault_run_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    figures = await run_scenario(QUICK, tmp_path, progress=print)
    print(HEADER)
    print(figures.row())
    assert figures.lost == 0, figures
    # The bound: a copy only of a send the platform accepted in the instant before a kill -9, or after
    # the request had timed out at the sender.
    assert figures.twice_unexplained == 0, figures
    assert figures.out_of_order == 0, figures
    assert figures.poll_conflicts == 0, figures  # one receiver, as Telegram allows
