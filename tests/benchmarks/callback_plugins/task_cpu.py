"""Controller CPU per task of a playbook, for ``make benchmark BENCHMARK_ARGS=--task-cpu``.

At each task start (and at the end) it reads getrusage for the ``ansible-playbook`` process itself and for the
workers it has reaped, and charges the difference to the task that ran since. Workers are reaped when their host's
result is in, so a task's workers count for it. The rows go as JSON to the file $CODESIGN_BENCH_TASK_CPU.
"""

from __future__ import annotations

import json
import os
import resource
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_cpu
type: aggregate
short_description: controller CPU per task (benchmark only)
description: Writes the controller CPU seconds each task took to the file named by CODESIGN_BENCH_TASK_CPU.
"""


def _now() -> tuple[float, float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_cpu"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._started = _now()
        self._current: tuple[str, tuple[float, float, float]] | None = None
        self._rows: list[dict] = []

    def _close(self) -> None:
        if self._current is None:
            return
        name, (wall, own, workers) = self._current
        now_wall, now_own, now_workers = _now()
        self._rows.append({"task": name, "wall": now_wall - wall, "main": now_own - own, "workers": now_workers - workers})
        self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        if not self._rows:   # start-up, inventory and everything before the first task
            wall, own, workers = _now()
            self._rows.append({"task": "(start-up)", "wall": wall - self._started[0], "main": own, "workers": workers})
        self._current = (task.get_name(), _now())

    def v2_playbook_on_stats(self, stats):
        self._close()
        target = os.environ.get("CODESIGN_BENCH_TASK_CPU")
        if target:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump(self._rows, handle)
