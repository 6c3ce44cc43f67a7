"""The browser client in Debian's chromium against the real app under hypercorn, played by typing and clicking."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.support.browser import chromium_context
from tests.support.fakellm.process import fake_upstream
from tests.support.server import ROOT, Server, hypercorn_server

pytestmark = pytest.mark.e2e
expect.set_options(timeout=20_000)  # a loaded two-core machine: waits are bounded, never timed

RESULTS = ROOT / "test-results"
#: Reports every CSP violation to the console, where the test collects errors.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


class Console:
    """Every console error, uncaught page error and CSP violation the page produced."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} at {message.location}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {"XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'client.db'}", "XIANXIA_RATE_LIMITS": "off"}
    with hypercorn_server(env, tmp_path / "server.log") as running:
        yield running


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(tmp_path: Path, console: Console) -> Iterator[Page]:
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 860}, locale="zh-CN") as context:
        context.add_init_script(CSP_WATCH)
        page = context.pages[0] if context.pages else context.new_page()
        console.watch(page)
        page.set_default_timeout(20_000)
        yield page


class Game:
    """Drives the page as a player does and counts the actions sent."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.actions = 0

    def _answered(self, do: Callable[[], None]) -> None:
        entries = self.page.locator("#narration .entry").count()
        do()
        expect(self.page.locator("#narration .entry")).to_have_count(entries + 1)
        expect(self.page.locator("#send")).to_be_enabled()
        self.actions += 1

    def type(self, text: str) -> None:
        def do() -> None:
            self.page.fill("#command-input", text)
            self.page.press("#command-input", "Enter")

        self._answered(do)
        expect(self.page.locator("#command-input")).to_have_value("")

    def click(self, suggestion: str) -> None:
        self._answered(lambda: self.page.locator("#suggestions button", has_text=suggestion).first.click())

    def click_in(self, selector: str, name: str) -> None:
        self._answered(lambda: self.page.locator(selector, has_text=name).first.click())

    def stat(self, element_id: str) -> str:
        return self.page.locator(f"#{element_id}").inner_text()

    def number(self, element_id: str) -> int:
        return int(self.stat(element_id))

    def last_entry(self) -> str:
        return self.page.locator("#narration .entry").last.inner_text()


def test_a_game_played_in_the_browser_resumes_after_a_reload(server: Server, page: Page, console: Console) -> None:
    page.goto(server.base_url + "/")
    expect(page.locator("#welcome")).to_be_visible()
    page.fill("#name-input", "韩立")
    page.click("#create-form button[type=submit]")
    expect(page.locator("#game")).to_be_visible()
    expect(page.locator("#welcome")).to_be_hidden()
    expect(page.locator("#narration")).to_contain_text("踏入修仙界")
    expect(page.locator("#player-realm")).to_contain_text("炼气")
    expect(page.locator("#player-root")).not_to_be_empty()
    expect(page.locator("#suggestions button").first).to_be_visible()  # the look sent on arrival answered
    game = Game(page)
    game.actions = 1
    player_id = page.evaluate("JSON.parse(localStorage.getItem('xianxia.session')).id")
    stones = game.number("player-stones")

    # A law refuses: the badge names the law, its reason is shown, nothing changes.
    game.type("攻击守卫")
    refusal = page.locator("#narration .entry.refused").last
    expect(refusal.locator(".law-badge")).to_contain_text("主城禁斗")
    expect(refusal.locator(".law-id")).to_have_text("CITY_NO_COMBAT")
    expect(refusal).to_contain_text("城中禁止斗法")
    assert game.number("player-stones") == stones

    # Purchases, clicked and typed: stones go down, the bag fills.
    game.click("去坊市")
    expect(page.locator("#player-location")).to_have_text("坊市")
    expect(page.locator("#scene-name")).to_have_text("坊市")
    game.click("买聚气丹")
    assert game.number("player-stones") < stones
    game.type("买回春丹")
    page.click("#tab-bag")
    expect(page.locator("#inventory .item[data-item=juqi_dan]")).to_contain_text("聚气丹")
    expect(page.locator("#inventory .item[data-item=huichun_dan] .count")).to_have_text("×3")
    game.click_in("#pane-scene button, #inventory button", "出售")  # the shop buys here: sell one
    expect(page.locator("#inventory .item[data-item=huichun_dan] .count")).to_have_text("×2")
    game.click("和丹阁掌柜说话")
    expect(page.locator("#narration .entry").last).to_contain_text("掌柜")

    # Out of town to fight.
    game.click("去主城")
    game.click("去后山")
    expect(page.locator("#player-location")).to_have_text("后山")
    hp_before = page.locator("#hp-text").inner_text()
    qi_before = page.locator("#qi-text").inner_text()
    game.click("攻击野狼")  # 40 气血: never felled in one blow at 炼气一层, so the fight lasts rounds
    assert page.locator("#hp-text").inner_text() != hp_before or page.locator("#qi-text").inner_text() != qi_before
    expect(page.locator("#player-extra [data-field=fight]")).to_be_visible()  # the fight, from the player document
    for _round in range(12):  # one round per action, until the fight is over
        if not page.locator("#suggestions button", has_text="逃跑").count():
            break
        game.click("攻击野狼")
    expect(page.locator("#suggestions button", has_text="逃跑")).to_have_count(0)
    expect(page.locator("#player-extra [data-field=fight]")).to_have_count(0)
    game.type("探索")

    # Cultivation: the qi bar moves.
    qi = int(page.locator("#qi-bar").get_attribute("value") or 0)
    game.type("打坐修炼")
    assert int(page.locator("#qi-bar").get_attribute("value") or 0) > qi
    qi = int(page.locator("#qi-bar").get_attribute("value") or 0)
    page.click("#tab-bag")
    game.click_in("#inventory .item[data-item=juqi_dan] button", "使用")
    assert int(page.locator("#qi-bar").get_attribute("value") or 0) > qi
    expect(page.locator("#inventory .item[data-item=juqi_dan]")).to_have_count(0)

    # The map: the current scene is marked, a neighbour is one click away.
    page.click("#tab-map")
    expect(page.locator("#map .node.current")).to_have_attribute("data-scene", "houshan")
    expect(page.locator("#map .node.gated")).to_contain_text("筑基")
    game.click_in("#map .node.reachable", "主城")
    expect(page.locator("#player-location")).to_have_text("主城")
    expect(page.locator("#map .node.current")).to_have_attribute("data-scene", "zhucheng")

    game.click("去青云宗")
    game.type("状态")
    game.type("休息")

    # History: ↑ brings back the last command typed.
    page.focus("#command-input")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#command-input")).to_have_value("休息")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#command-input")).to_have_value("状态")
    page.fill("#command-input", "")

    assert game.actions >= 15, game.actions

    # The transcript is the server's log.
    page.click("#tab-log")
    expect(page.locator("#transcript li")).to_have_count(game.actions)
    expect(page.locator("#transcript")).to_contain_text("攻击守卫")
    expect(page.locator("#transcript")).to_contain_text("前往 坊市")  # a clicked move, named from the world

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "client-desktop.png"), full_page=True)

    # Reload: the same character, from localStorage, with the same state.
    stones, location, realm = game.stat("player-stones"), game.stat("player-location"), game.stat("player-realm")
    page.reload()
    expect(page.locator("#game")).to_be_visible()
    expect(page.locator("#narration")).to_contain_text("欢迎回来")
    expect(page.locator("#player-name")).to_have_text("韩立")
    assert (game.stat("player-stones"), game.stat("player-location"), game.stat("player-realm")) == (
        stones,
        location,
        realm,
    )
    assert page.evaluate("JSON.parse(localStorage.getItem('xianxia.session')).id") == player_id
    expect(page.locator("#suggestions button").first).to_be_visible()
    game.click("去主城")

    # English labels, the game's words unchanged.
    page.click("#lang-toggle")
    expect(page.locator("#send")).to_have_text("Act")
    expect(page.locator("#tab-bag")).to_have_text("Bag")
    page.click("#lang-toggle")
    expect(page.locator("#send")).to_have_text("行动")

    # A phone-sized screen: everything still reachable, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#command-input")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(RESULTS / "client-phone.png"), full_page=True)

    assert not console.errors, "\n".join(console.errors)


def test_forget_me_returns_to_the_welcome_page(server: Server, page: Page, console: Console) -> None:
    page.goto(server.base_url + "/")
    page.fill("#name-input", "厉飞雨")
    page.click("#create-form button[type=submit]")
    expect(page.locator("#suggestions button").first).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#forget")
    expect(page.locator("#welcome")).to_be_visible()
    assert page.evaluate("localStorage.getItem('xianxia.session')") is None
    page.reload()
    expect(page.locator("#welcome")).to_be_visible()
    assert not console.errors, "\n".join(console.errors)


def test_a_lost_token_says_so_and_offers_a_new_character(server: Server, page: Page, console: Console) -> None:
    page.goto(server.base_url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")  # its own boot is over
    page.evaluate("localStorage.setItem('xianxia.session', JSON.stringify({id: 'nobody', token: 'stale'}))")
    page.reload()
    expect(page.locator("#notice")).to_contain_text("令牌已失效")
    expect(page.locator("#welcome")).to_be_visible()
    # The failed GET is the server's answer (404), which the browser logs; nothing else may be.
    unexpected = [error for error in console.errors if not re.search(r"status of 40[134]", error)]
    assert not unexpected, "\n".join(unexpected)


def test_the_api_docs_render_offline_under_the_strict_policy(server: Server, page: Page, console: Console) -> None:
    response = page.goto(server.base_url + "/docs")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Xianxia World Engine")
    expect(page.locator(".opblock-summary-path", has_text="/api/players/{player_id}/act").first).to_be_visible()
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "docs.png"))
    assert not console.errors, "\n".join(console.errors)


#: Records the text of every streamed preview line when the page swaps it for the committed answer.
STREAM_WATCH = """
window.__streamed = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.removedNodes) {
      if (node.classList && node.classList.contains("streaming")) window.__streamed.push(node.textContent);
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def test_an_npc_line_streams_into_the_page_from_the_fake_upstream(tmp_path: Path, page: Page, console: Console) -> None:
    with fake_upstream(tmp_path / "fake.log") as fake_url:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'llm.db'}",
            "XIANXIA_RATE_LIMITS": "off",
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": fake_url,
            "XIANXIA_LLM_MODE": "async",
        }
        with hypercorn_server(env, tmp_path / "llm-server.log") as server:
            page.context.add_init_script(STREAM_WATCH)
            page.goto(server.base_url + "/")
            page.fill("#name-input", "南宫婉")
            page.click("#create-form button[type=submit]")
            expect(page.locator("#suggestions button").first).to_be_visible()
            game = Game(page)
            game.click("和城门守卫说话")
            streamed = page.evaluate("window.__streamed")
            assert len(streamed) == 1 and streamed[0], streamed
            # The committed line is exactly what streamed in, and the server's log holds it too.
            expect(page.locator("#narration .entry").last).to_have_text(streamed[0])
            page.click("#tab-log")
            expect(page.locator("#transcript li").last).to_contain_text(streamed[0])
    assert not console.errors, "\n".join(console.errors)
