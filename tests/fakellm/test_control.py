"""Run-time control: the plan round-trips, queued faults come in order, seeded rates repeat, stats count."""

from __future__ import annotations

import httpx
import pytest

from tests.fakellm.conftest import chat_body
from tests.support.fakellm import FakeConfig, FaultPlan, running_fake
from tests.support.fakellm.faults import FaultPicker


async def statuses(client: httpx.AsyncClient, count: int) -> list[int]:
    return [(await client.post("/chat/completions", json=chat_body(f"第{n}问"))).status_code for n in range(count)]


async def test_control_put_replaces_the_plan_and_get_returns_it(client: httpx.AsyncClient) -> None:
    plan = {
        "latency": 0.25,
        "faults": {"server_error": 0.3},
        "next": ["rate_limit_retry_after", "blank_content"],
        "seed": 1,
    }

    put = await client.put("/_control", json=plan)
    got = await client.get("/_control")

    assert put.status_code == 200
    assert put.json() == got.json() == plan


async def test_control_put_without_fields_resets_them_to_none(client: httpx.AsyncClient) -> None:
    await client.put("/_control", json={"latency": 0.2, "faults": {"unavailable": 0.5}})

    await client.put("/_control", json={"faults": {"rate_limit": 0.1}})

    assert (await client.get("/_control")).json() == {
        "latency": 0.0,
        "faults": {"rate_limit": 0.1},
        "next": [],
        "seed": 0,
    }


@pytest.mark.parametrize(
    "plan",
    [{"faults": {"meteor": 0.1}}, {"faults": {"server_error": 0.7, "drop": 0.5}}, {"latency": -1}, {"extra": 1}],
)
async def test_control_rejects_an_invalid_plan_and_keeps_the_old_one(
    client: httpx.AsyncClient, plan: dict[str, object]
) -> None:
    before = (await client.get("/_control")).json()

    response = await client.put("/_control", json=plan)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert (await client.get("/_control")).json() == before


async def test_queued_faults_hit_the_next_requests_in_order_then_stop(client: httpx.AsyncClient) -> None:
    await client.put("/_control", json={"next": ["rate_limit", "server_error", "payment_required"]})

    assert await statuses(client, 4) == [429, 500, 402, 200]
    assert (await client.get("/_control")).json()["next"] == []


async def test_seeded_rates_repeat_the_same_faults_for_the_same_seed(client: httpx.AsyncClient) -> None:
    plan = {"faults": {"server_error": 0.3, "rate_limit": 0.2}, "seed": 7}

    await client.put("/_control", json=plan)
    first = await statuses(client, 40)
    await client.put("/_control", json=plan)
    second = await statuses(client, 40)
    await client.put("/_control", json={**plan, "seed": 8})
    other_seed = await statuses(client, 40)

    assert first == second
    assert {200, 429, 500} <= set(first)
    assert other_seed != first


def test_fault_rates_come_out_near_their_probabilities() -> None:
    picker = FaultPicker(FaultPlan(faults={"server_error": 0.2, "drop": 0.1}, seed=3))

    picks = [picker.pick() for _ in range(5000)]

    assert 0.17 < picks.count("server_error") / 5000 < 0.23
    assert 0.08 < picks.count("drop") / 5000 < 0.12
    assert 0.67 < picks.count(None) / 5000 < 0.73


def test_a_forced_fault_wins_over_the_queue_and_leaves_it_intact() -> None:
    picker = FaultPicker(FaultPlan(next=("unavailable",)))

    assert picker.pick("hostile") == "hostile"
    assert picker.pick() == "unavailable"
    assert picker.pick() is None


async def test_stats_count_requests_by_path_and_outcome(client: httpx.AsyncClient) -> None:
    await client.post("/chat/completions", json=chat_body("甲"))
    await client.post("/v1/chat/completions", json=chat_body("甲"))
    await client.post("/chat/completions", json=chat_body("乙"), headers={"X-Fake-Fault": "server_error"})
    await client.post("/chat/completions", json=chat_body(), headers={"Authorization": "Bearer wrong"})

    stats = (await client.get("/_stats")).json()

    assert stats["requests_total"] == 4
    assert stats["by_path"] == {"/chat/completions": 3, "/v1/chat/completions": 1}
    assert stats["by_outcome"] == {"ok": 2, "server_error": 1, "auth_failed": 1}
    assert stats["distinct_bodies"] == 2  # the refused request's body is never read
    assert stats["in_flight"] == 0 and stats["max_in_flight"] == 1


async def test_reset_restores_the_start_plan_and_clears_stats() -> None:
    start = FaultPlan(latency=0.0, faults={"unavailable": 0.5}, seed=4)
    async with (
        running_fake(FakeConfig(port=0, plan=start)) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": "Bearer k"}) as client,
    ):
        first = await statuses(client, 10)
        await client.put("/_control", json={"next": ["drop"]})

        reset = await client.post("/_reset")
        again = await statuses(client, 10)
        stats = (await client.get("/_stats")).json()

    assert reset.json()["plan"] == start.model_dump(mode="json")
    assert reset.json()["stats"]["requests_total"] == 0
    assert again == first
    assert stats["requests_total"] == 10


async def test_a_refused_request_does_not_use_up_a_queued_fault(client: httpx.AsyncClient) -> None:
    await client.put("/_control", json={"next": ["unavailable"]})

    refused = await client.post("/chat/completions", json=chat_body(max_tokens=0))
    next_one = await client.post("/chat/completions", json=chat_body())

    assert refused.status_code == 400
    assert next_one.status_code == 503
