"""Open a report in headless Chromium and check that it renders: every figure loads, nothing broken.

Two looks at the page:

1. the HTML file itself: every ``<img src>`` names an existing file, no Python error text
   (a traceback or an object repr) leaked into the page, every section heading is there;
2. the page as Chromium renders it: ``chromium --headless --dump-dom`` prints the DOM after the
   load event, when the report's inline script has marked ``<body>`` with the number of images and
   of images that failed to load (``data-images-total``, ``data-images-failed``). Then a
   screenshot of the whole page (``--screenshot``, 1400 px wide); a page taller than 30 000 px is
   shot in consecutive parts (``NAME.png``, ``NAME-2.png``, ...; the report's script shifts the
   page up for ``#shot=Y``).

Run ``python -m tests.report.browser_check DIR/report.html [--screenshot out.png]`` from a
checkout (a test tool, not part of the installed package); exit code 0 when the report passes,
1 with one line per problem otherwise, 2 without Chromium.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from aif_offload.report.document import SECTION_TITLES

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
ERROR_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"\bobject at 0x[0-9a-f]+"),
    re.compile(r"&lt;class &#x27;"),
    re.compile(r"<class '"),
)
WIDTH = 1400
MAX_HEIGHT = 30_000
TIMEOUT_S = 180


def find_browser() -> str | None:
    """The Chromium executable on PATH, or None."""
    return next((found for b in BROWSERS if (found := shutil.which(b))), None)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.headings: list[str] = []
        self.body_attrs: dict[str, str] = {}
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        elif tag == "body":
            self.body_attrs = {k: v or "" for k, v in attrs.items()}
        elif tag == "h2":
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.headings[-1] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@dataclass
class CheckResult:
    """What the check found; ``ok`` when there are no problems."""

    report: Path
    images_total: int = 0
    images_failed: int = 0
    screenshot: Path | None = None
    screenshots: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_static(report: Path, result: CheckResult) -> _Page:
    """Problems visible in the HTML file itself."""
    text = report.read_text(encoding="utf-8")
    page = _parse(text)
    for src in page.images:
        if not src or not (report.parent / src).is_file():
            result.problems.append(f"missing figure file: {src!r}")
    for pattern in ERROR_PATTERNS:
        if pattern.search(text):
            result.problems.append(f"Python error text in the page: {pattern.pattern}")
    headings = [" ".join(h.split()) for h in page.headings]
    for title in SECTION_TITLES.values():
        if title not in headings:
            result.problems.append(f"missing section: {title}")
    return page


def _chromium(browser: str, profile: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def _shot_plan(height: int) -> list[tuple[int, int]]:
    """(offset, window height) of each screenshot so that the parts cover the page."""
    return [(top, min(MAX_HEIGHT, height - top)) for top in range(0, height, MAX_HEIGHT)]


def _screenshots(browser, profile, url, screenshot: Path, attrs, result: CheckResult) -> None:
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    height = int(attrs.get("data-page-height", "2000") or 2000) + 40
    for k, (top, window) in enumerate(_shot_plan(height)):
        target = screenshot if k == 0 else screenshot.with_name(f"{screenshot.stem}-{k + 1}.png")
        where = url if top == 0 else f"{url}#shot={top}"
        shot = _chromium(
            browser, profile, f"--screenshot={target}", f"--window-size={WIDTH},{window}", where
        )
        if shot.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            result.problems.append(f"no screenshot written to {target} (exit {shot.returncode})")
            return
        result.screenshots.append(target)
    result.screenshot = result.screenshots[0]


def check_report(
    report: Path, *, screenshot: Path | None = None, browser: str | None = None
) -> CheckResult:
    """Check ``report`` statically and in headless Chromium; save a full-page screenshot.

    Raises FileNotFoundError if there is no Chromium (``browser`` or one of BROWSERS on PATH).
    """
    report = Path(report).resolve()
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError(f"no headless browser on PATH (tried {', '.join(BROWSERS)})")
    result = CheckResult(report)
    page = check_static(report, result)
    url = report.as_uri()
    with tempfile.TemporaryDirectory(prefix="aif-offload-chromium-") as profile:
        done = _chromium(browser, profile, f"--window-size={WIDTH},1000", "--dump-dom", url)
        attrs = _parse(done.stdout).body_attrs
        if done.returncode != 0 or attrs.get("data-report-loaded") != "yes":
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            result.problems.append(
                f"Chromium did not finish loading the page (exit {done.returncode}): {last}"
            )
            return result
        result.images_total = int(attrs.get("data-images-total", "0"))
        result.images_failed = int(attrs.get("data-images-failed", "0"))
        if result.images_failed:
            failed = attrs.get("data-images-failed-src", "")
            result.problems.append(f"{result.images_failed} images failed to load: {failed}")
        if result.images_total != len(page.images):
            result.problems.append(
                f"Chromium saw {result.images_total} images, the HTML has {len(page.images)}"
            )
        if screenshot is not None:
            _screenshots(browser, profile, url, Path(screenshot).resolve(), attrs, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="the report.html to check")
    parser.add_argument("--screenshot", type=Path, default=None, help="save a screenshot here")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"check_report: error: no such file '{args.report}'", file=sys.stderr)
        return 2
    try:
        result = check_report(args.report, screenshot=args.screenshot)
    except FileNotFoundError as err:
        print(f"check_report: error: {err}", file=sys.stderr)
        return 2
    for problem in result.problems:
        print(f"check_report: {problem}", file=sys.stderr)
    status = "ok" if result.ok else "FAILED"
    shots = ", ".join(str(p) for p in result.screenshots) or "none"
    print(
        f"{status}: {result.images_total - result.images_failed} of {result.images_total} "
        f"figures loaded in headless Chromium; screenshot: {shots}"
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
