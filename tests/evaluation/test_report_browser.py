"""A trained run's report.html, opened in headless Chromium: every section and plot is there, every inlined
PNG decodes, and the page paints something."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 120
MARKER_ID = "browser-test-images"
# Appended before </body> of a copy of the report: once the page has loaded, a <pre> lists every image's
# natural size and whether it finished loading. An image that failed to decode has natural size 0 x 0.
PROBE = f"""<script>
window.addEventListener("load", () => {{
  const out = document.createElement("pre");
  out.id = "{MARKER_ID}";
  out.textContent = JSON.stringify(Array.from(document.images, (img) =>
    ({{complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}})));
  document.body.appendChild(out);
}});
</script>
"""


class _Page(HTMLParser):
    """The <h2> texts, the number of <img> elements and the text of the probe's <pre> in a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images = 0
        self.probe: str | None = None
        self._in: str | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images += 1
        elif tag == "h2":
            self._in, self._text = "h2", ""
        elif tag == "pre" and ("id", MARKER_ID) in attrs:
            self._in, self._text = "probe", ""

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._in == "h2" and tag == "h2":
            self.headings.append(self._text.strip())
        elif self._in == "probe" and tag == "pre":
            self.probe = self._text
        else:
            return
        self._in = None


def _browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip(f"no headless browser on PATH (looked for {', '.join(BROWSERS)}): apt-get install chromium")


def _run(browser: str, profile: Path, *args: str) -> str:
    """Stdout of headless `browser ARGS` with a fresh profile; fails the test on a non-zero exit."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, (command, done.returncode, done.stderr[-2000:])
    return done.stdout


@pytest.mark.slow
def test_report_renders_in_chromium(classifier_run: Path, tmp_path: Path) -> None:
    import matplotlib.image

    browser = _browser()
    report = classifier_run / "report.html"
    source = report.read_text(encoding="utf-8")
    expected = _Page(source)
    plots = sorted((classifier_run / "plots").glob("*.png"))
    assert expected.headings and plots, (expected.headings, plots)
    assert expected.images == len(plots)

    # (a) The DOM the browser builds holds every section heading and every image of the file.
    dom = _Page(_run(browser, tmp_path / "profile-dom", "--dump-dom", report.as_uri()))
    assert dom.headings == expected.headings
    assert dom.images == expected.images

    # (b) Every inlined PNG decodes: the probe sees each image complete with a positive natural size.
    assert source.count("</body>") == 1
    probed = tmp_path / "report-probed.html"
    probed.write_text(source.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _Page(_run(browser, tmp_path / "profile-probe", "--virtual-time-budget=5000", "--dump-dom",
                     probed.as_uri()))
    assert dom.probe is not None, "the page's load event never ran the probe"
    images = json.loads(dom.probe)
    assert len(images) == len(plots), images
    assert all(image["complete"] and image["width"] > 0 and image["height"] > 0 for image in images), images

    # (c) A screenshot of the page is not one flat colour.
    screenshot = tmp_path / "report.png"
    _run(browser, tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1200,3000",
         report.as_uri())
    assert screenshot.is_file()
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (3000, 1200), pixels.shape
    assert pixels[..., :3].std() > 0.02, "the screenshot is (almost) one flat colour"
