"""Batch tasks on Celery across instances: real hypercorn instances, real Celery workers, the local Redis, PostgreSQL.

A task is enqueued on one instance and read back on another; a worker killed mid-task (SIGKILL to its whole process
group, as a lost machine) is replaced, the task finishes, and only prompts with no saved answer are asked again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.celery_worker import REDIS_URL, broker_env, celery_worker, forget_broker_keys, require_redis
from tests.support.databases import database_url
from tests.support.fakellm.process import fake_upstream
from tests.support.server import hypercorn_server
from xianxia.store.factory import create_store

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer admin-e2e"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """One test's settings, shared by its instances and workers: its own schema, Redis prefix and queue."""
    require_redis()
    broker = broker_env(visibility_timeout=3.0)
    with database_url("postgres", tmp_path) as db:
        yield {
            **broker,
            "XIANXIA_DATABASE_URL": db,
            "DEEPSEEK_API_KEY": "fake-key",
            "XIANXIA_LLM_MODE": "async",
            "XIANXIA_ADMIN_TOKEN": "admin-e2e",
            # Fast heartbeats so a dead worker's task goes stale within seconds (production: 5 s and 30 s).
            "XIANXIA_TASK_HEARTBEAT_SECONDS": "0.3",
            "XIANXIA_TASK_STALE_SECONDS": "1.5",
            "LLM_MAX_CONCURRENCY": "2",
        }
    forget_broker_keys(broker)


def wait_for_task(client: httpx.Client, task_id: str, prefix: str, *, timeout: float = 25.0) -> dict[str, Any]:
    """Poll the task until it is done or failed (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/llm/tasks/{task_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    keys = sorted(key.decode() for key in redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{prefix}:*"))
    raise TimeoutError(f"task {task_id} not finished after {timeout} s: {body}; broker keys {keys}")


def prompt_calls(upstream: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{upstream}/_stats/prompts").json()
    return counts


def settled(upstream: str, timeout: float = 10.0) -> None:
    """Wait until the fake upstream holds no request."""
    deadline = time.monotonic() + timeout
    while httpx.get(f"{upstream}/_stats").json()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)


def finished_tasks(client: httpx.Client) -> float:
    for line in client.get("/metrics", headers=ADMIN).text.splitlines():
        if line.startswith('xianxia_tasks_finished_total{status="done"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_task_enqueued_on_one_instance_runs_on_a_worker_and_reads_back_on_another(
    tmp_path: Path, env: dict[str, str]
) -> None:
    prompts = [f"问道其{i}" for i in range(6)]
    with fake_upstream(tmp_path / "fake.log", latency=0.05) as upstream:
        env = {**env, "DEEPSEEK_BASE_URL": upstream}
        with (
            celery_worker(env, tmp_path / "worker.log", wait=False) as worker,  # boots while the instances do
            hypercorn_server(env, tmp_path / "a.log") as first,
            hypercorn_server(env, tmp_path / "b.log") as second,
            httpx.Client(base_url=first.base_url, timeout=10) as a,
            httpx.Client(base_url=second.base_url, timeout=10) as b,
        ):
            worker.wait_ready()
            accepted = a.post("/api/llm/batch", json={"prompts": prompts, "mode": "task"})
            assert accepted.status_code == 202, accepted.text
            task_id = accepted.json()["task_id"]

            body = wait_for_task(b, task_id, env["XIANXIA_REDIS_PREFIX"])
            assert body["status"] == "done", body
            assert prompt_calls(upstream) == dict.fromkeys(prompts, 1)
            direct = a.post("/api/llm/batch", json={"prompts": prompts})  # the same prompts, answered in-line
            assert body["result"] == direct.json()["results"]
            assert all("text" in item for item in body["result"])

            deadline = time.monotonic() + 10  # the submitting instance counts the task once it sees it finish
            while finished_tasks(a) < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert finished_tasks(a) == 1


def test_a_task_whose_worker_is_killed_finishes_on_another_asking_only_for_unsaved_prompts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    prompts = [f"渡劫其{i}" for i in range(10)]
    with fake_upstream(tmp_path / "fake.log", latency=0.6) as upstream:
        env = {**env, "DEEPSEEK_BASE_URL": upstream}
        with (
            celery_worker(env, tmp_path / "worker-1.log", wait=False) as doomed,
            hypercorn_server(env, tmp_path / "app.log") as app,
            httpx.Client(base_url=app.base_url, timeout=10) as client,
        ):
            doomed.wait_ready()  # it alone consumes when the task is queued, so it is the one that dies with it
            task_id = client.post("/api/llm/batch", json={"prompts": prompts, "mode": "task"}).json()["task_id"]
            # The next worker boots meanwhile; the task is the first worker's until its message is visible again.
            with celery_worker(env, tmp_path / "worker-2.log", wait=False) as survivor:
                deadline = time.monotonic() + 15
                while sum(prompt_calls(upstream).values()) < 4:  # two answers saved, two more in flight
                    assert time.monotonic() < deadline, doomed.logs()
                    time.sleep(0.05)
                doomed.kill()
                settled(upstream)  # a request already on its way when the worker died is counted, then ends
                before = prompt_calls(upstream)
                saved = saved_prompts(env, task_id, prompts)
                assert client.get(f"/api/llm/tasks/{task_id}").json()["status"] == "running"

                body = wait_for_task(client, task_id, env["XIANXIA_REDIS_PREFIX"])
                assert body["status"] == "done", survivor.logs()
                after = prompt_calls(upstream)

    assert len(body["result"]) == len(prompts) and all("text" in item for item in body["result"])
    in_flight = {p for p in prompts if before.get(p, 0) == 1 and p not in saved}
    # The rule: a prompt with a saved answer is never asked again; one in flight when the worker died is asked
    # once more; the rest once. So each prompt is asked at most once more than needed.
    assert saved and all(before[p] == 1 for p in saved)
    assert {p: after[p] for p in prompts} == {p: 2 if p in in_flight else 1 for p in prompts}
    assert len(in_flight) <= 2  # LLM_MAX_CONCURRENCY: at most that many answers were lost with the worker


def saved_prompts(env: dict[str, str], task_id: str, prompts: list[str]) -> set[str]:
    """The prompts whose answers the dead worker saved, read from the store."""

    async def read() -> dict[int, Any]:
        store = create_store(env["XIANXIA_DATABASE_URL"])
        await store.open()
        try:
            return await store.task_results(task_id)
        finally:
            await store.close()

    return {prompts[index] for index in asyncio.run(read())}
