"""Trusted proxies: X-Forwarded-For names the client for per-address limits only when the peer is a trusted proxy."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from xianxia.config import Settings, parse_networks
from xianxia.web.app import create_app
from xianxia.web.forwarded import forwarded_client

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7 ::1")


def test_the_setting_takes_addresses_and_cidrs_and_refuses_anything_else() -> None:
    assert Settings.from_env({}).trusted_proxy_networks == ()
    networks = Settings.from_env({"XIANXIA_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.7  ::1"}).trusted_proxy_networks
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    with pytest.raises(ValidationError, match="'nginx' is not an IP address or CIDR"):
        Settings.from_env({"XIANXIA_TRUSTED_PROXIES": "10.0.0.1 nginx"})


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer: its header is its own claim
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # behind one trusted proxy
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # what the client wrote itself is not believed
        ("10.0.0.2", ["198.51.100.1, 10.9.9.9"], "198.51.100.1"),  # two trusted proxies in a row
        ("10.0.0.2", ["198.51.100.1", "10.9.9.9"], "198.51.100.1"),  # the same, as two headers
        ("10.0.0.2", ["10.1.1.1, 10.9.9.9"], "10.1.1.1"),  # every hop trusted: the leftmost
        ("10.0.0.2", [], "10.0.0.2"),  # a trusted proxy that said nothing
        ("10.0.0.2", ["junk, 198.51.100.1"], "198.51.100.1"),  # an unreadable hop left of the client is moot
        ("10.0.0.2", ["198.51.100.1, junk"], "10.0.0.2"),  # an unreadable hop stops the walk where it is
        ("::1", ["2001:db8::5"], "2001:db8::5"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop(peer: str | None, headers: list[str], client: str) -> None:
    assert forwarded_client(peer, headers, PROXIES) == client


def test_with_no_trusted_proxy_the_header_is_ignored() -> None:
    assert forwarded_client("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"


async def _creations(settings: Settings, peer: str, forwarded: list[str]) -> list[int]:
    """Statuses of creating one player as each client in `forwarded` (their X-Forwarded-For), all from `peer`."""
    app = create_app(settings)
    statuses = []
    async with app.test_app() as running:
        client = running.test_client()
        for i, address in enumerate(forwarded):
            response = await client.post(
                "/api/players",
                json={"name": f"散修{i}"},
                headers={"X-Forwarded-For": address},
                scope_base={"client": (peer, 40000 + i)},
            )
            statuses.append(response.status_code)
    return statuses


@pytest.fixture
def one_per_address(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'game.db'}", log_level="WARNING", rate_limit_player_creation="1/hour"
    )


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(one_per_address: Settings) -> None:
    settings = one_per_address.model_copy(update={"trusted_proxies": "10.0.0.0/8"})
    clients = ["198.51.100.1", "198.51.100.2", "6.6.6.6, 198.51.100.1"]  # the third is the first, spoofing
    assert await _creations(settings, "10.0.0.2", clients) == [201, 201, 429]


async def test_from_an_untrusted_peer_the_header_changes_nothing(one_per_address: Settings) -> None:
    for settings in (one_per_address, one_per_address.model_copy(update={"trusted_proxies": "10.0.0.0/8"})):
        assert await _creations(settings, "203.0.113.9", ["198.51.100.1", "198.51.100.2"]) == [201, 429]
