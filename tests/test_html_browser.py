"""report.html in a real browser (headless Chromium over CDP): it loads without script errors,
failures come first with reason and expected/observed visible without a click, the filters work,
everything reads with scripts off, and nothing from the target runs."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from harness.reporting.html import write_html
from tests.chromium import Page, find_chromium
from tests.report_samples import hostile_scenario, mixed_report, pass_scenario, report

pytestmark = pytest.mark.asyncio(loop_scope="module")
CHROMIUM = find_chromium()
BOUND = 60.0  # seconds for any one test: a hung browser fails, it does not stall the suite

VISIBLE = """(el) => !!el && el.offsetParent !== null && el.getBoundingClientRect().height > 0
                    && el.closest('details:not([open])') === null"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("html")
    write_html(mixed_report(), root / "mixed.html")
    write_html(report([hostile_scenario(), pass_scenario()]), root / "hostile.html")
    return {name: (root / f"{name}.html").as_uri() for name in ("mixed", "hostile")}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Page]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); CI installs it")
    page = await asyncio.wait_for(Page.start(CHROMIUM), BOUND)
    try:
        yield page
    finally:
        await page.close()


async def _open(page: Page, url: str, *, scripts: bool = True) -> None:
    page.problems.clear()
    await asyncio.wait_for(page.open(url, scripts=scripts), BOUND)


async def _visible_verdicts(page: Page) -> list[str]:
    return list(await page.evaluate(
        "[...document.querySelectorAll('article.scenario')].filter(a => a.offsetParent !== null)"
        ".map(a => a.dataset.verdict)"))


async def test_loads_without_errors_failures_first(browser: Page, pages: dict[str, str]) -> None:
    await _open(browser, pages["mixed"])
    assert browser.problems == []
    assert await _visible_verdicts(browser) == ["FAIL", "FAIL", "WARN", "PASS"]
    # the script ran (its CSP hash matched): it unhides the filters and counts the rows
    assert await browser.evaluate("document.getElementById('shown').textContent") == "4 of 4 shown"


async def test_a_fail_reads_without_clicking(browser: Page, pages: dict[str, str]) -> None:
    await _open(browser, pages["mixed"])
    fail = await browser.evaluate(f"""(() => {{
        const visible = {VISIBLE};
        const a = document.querySelector('article.scenario[data-verdict=FAIL]');
        const part = (sel) => {{ const el = a.querySelector(sel); return [visible(el), el && el.innerText]; }};
        return {{id: a.querySelector('.sid').innerText, reason: part('.reason'), clause: part('.clause'),
                 expected: part('pre.expected'), observed: part('pre.observed')}};
    }})()""")
    assert fail["id"] == "fp-empty-feed-204"
    assert fail["reason"] == [True, "Why: next on an empty feed answered 200 with an empty batch (expected 204)"]
    assert fail["clause"][0] and "the clause of fp-empty-feed-204" in fail["clause"][1]
    assert fail["expected"] == [True, "204"]
    assert fail["observed"][0] and json.loads(fail["observed"][1])["status"] == 200


async def test_the_timing_fail_is_a_chart(browser: Page, pages: dict[str, str]) -> None:
    await _open(browser, pages["mixed"])
    chart = await browser.evaluate(f"""(() => {{
        const visible = {VISIBLE};
        const a = [...document.querySelectorAll('article.scenario')].find(
            x => x.querySelector('.sid').innerText === 'cb-retry-backoff');
        const figs = [...a.querySelectorAll('figure.timing')];
        return figs.map(f => ({{visible: visible(f.querySelector('svg')), name: f.querySelector('b').innerText,
            bands: f.querySelectorAll('rect.band').length, inside: f.querySelectorAll('circle.ok').length,
            outside: f.querySelectorAll('circle.out').length, never: f.querySelectorAll('text.never').length,
            late: f.classList.contains('late')}}));
    }})()""")
    assert chart == [
        {"visible": True, "name": "retry-backoff", "bands": 4, "inside": 2, "outside": 1, "never": 1, "late": True},
        {"visible": True, "name": "idle-close", "bands": 1, "inside": 0, "outside": 1, "never": 0, "late": True}]


async def test_filters_hide_and_show(browser: Page, pages: dict[str, str]) -> None:
    await _open(browser, pages["mixed"])
    change = "el => { el.dispatchEvent(new Event('change', {bubbles: true})); }"
    await browser.evaluate(f"""(() => {{ const b = document.querySelector('input[name=verdict][value=FAIL]');
        b.checked = false; ({change})(b); }})()""")
    assert await _visible_verdicts(browser) == ["WARN", "PASS"]
    assert await browser.evaluate("document.getElementById('shown').textContent") == "2 of 4 shown"
    assert await browser.evaluate("location.hash") == "#verdict=WARN%2CPASS"
    await browser.evaluate(f"""(() => {{ const b = document.querySelector('input[name=verdict][value=FAIL]');
        b.checked = true; const s = document.querySelector('select[name=tag]'); s.value = 'timing';
        ({change})(s); }})()""")
    assert await _visible_verdicts(browser) == ["FAIL", "PASS"]  # cb-retry-backoff and ws-ping-interval
    await browser.evaluate(f"""(() => {{ const s = document.querySelector('select[name=profile]');
        s.value = 'callbacks'; ({change})(s); }})()""")
    assert await browser.evaluate(
        "[...document.querySelectorAll('article.scenario')].filter(a => !a.hidden)"
        ".map(a => a.querySelector('.sid').innerText)") == ["cb-retry-backoff"]
    # the hash is honoured on load: a link can open the page filtered
    await _open(browser, "about:blank")
    await _open(browser, pages["mixed"] + "#verdict=PASS,WARN&level=SHOULD")
    assert await _visible_verdicts(browser) == ["WARN"]
    assert browser.problems == []


async def test_everything_reads_with_scripts_off(browser: Page, pages: dict[str, str]) -> None:
    await _open(browser, "about:blank")
    await _open(browser, pages["mixed"] + "#verdict=PASS", scripts=False)
    try:
        assert await _visible_verdicts(browser) == ["FAIL", "FAIL", "WARN", "PASS"]
        assert await browser.evaluate("document.getElementById('filters').offsetParent") is None
        assert await browser.evaluate(
            f"({VISIBLE})(document.querySelector('article[data-verdict=FAIL] pre.observed'))") is True
    finally:
        await _open(browser, "about:blank")


@pytest.mark.parametrize("name", ["mixed", "hostile"])
async def test_everything_fits_a_1400_px_window(browser: Page, pages: dict[str, str], name: str) -> None:
    """Long unbroken tokens, URLs and JSON wrap: opened in full, no part runs past the window."""
    await _open(browser, "about:blank")
    await _open(browser, pages[name])
    widths = await browser.evaluate("""(() => {
        document.querySelectorAll('details').forEach(d => { d.open = true; });
        const over = [...document.querySelectorAll('body *')].filter(
            el => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('svg'));
        return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                over: over.slice(0, 5).map(el => el.tagName + '.' + el.className)};
    })()""")
    assert widths["window"] == 1400
    assert widths["page"] <= widths["window"] and widths["over"] == [], widths


async def test_nothing_from_the_target_runs(browser: Page, pages: dict[str, str]) -> None:
    await _open(browser, pages["hostile"])
    await asyncio.sleep(0.3)  # give an injected handler (if any) the time to fire
    facts = await browser.evaluate("""(() => ({
        pwned: typeof window.__pwned,
        scripts: document.scripts.length,
        images: document.images.length,
        handlers: [...document.querySelectorAll('*')].flatMap(
            el => [...el.attributes].filter(a => a.name.startsWith('on')).map(a => el.tagName + ' ' + a.name)),
        links: [...document.querySelectorAll('[href], [src], [action], [formaction], [xlink\\\\:href]')]
            .map(el => el.getAttribute('href') || el.getAttribute('src') || el.outerHTML.slice(0, 80)),
        text: document.body.innerText,
    }))()""")
    assert facts["pwned"] == "undefined"
    assert facts["scripts"] == 1 and facts["images"] == 0 and facts["handlers"] == []
    assert all(href.startswith("#") for href in facts["links"]), facts["links"]
    text = facts["text"]
    assert "<script>window.__pwned=1</script>" in text and 'onerror="window.__pwned=2"' in text
    assert "<U+202E>gnp.exe" in text and "\u202e" not in text
    assert browser.problems == []


async def test_the_policy_blocks_what_escaping_might_miss(browser: Page, pages: dict[str, str]) -> None:
    """Defence in depth: markup injected into the page still cannot run a handler or load anything."""
    await _open(browser, pages["hostile"])
    hole = await browser.evaluate("""new Promise(done => {
        document.body.insertAdjacentHTML('beforeend', '<img src="x.png" onerror="window.__hole=1">');
        const s = document.createElement('script'); s.textContent = 'window.__hole=2';
        document.body.appendChild(s);
        setTimeout(() => done(typeof window.__hole), 300);
    })""")
    assert hole == "undefined"
    assert any("Content Security Policy" in p for p in browser.problems), browser.problems
