"""`keyvid serve`'s page as a person uses it: headless Chromium driven by selenium.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/install-browser`` installs both where
apt-get can) and the ``selenium`` package of the dev extra; nothing is downloaded at run
time (selenium is given both paths, so Selenium Manager never runs). Used by the browser
test of tests/test_web.py and by docs/serve_screenshots.py. Every wait is bounded and
polls the page; a Gradio error toast ends it at once with the toast's text.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TIMEOUT = 120.0  # seconds one step may take (a model request on a busy CPU, the page load)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def _which(names) -> str | None:
    return next((p for n in names if (p := shutil.which(n))), None)


def missing() -> str | None:
    """What is missing to drive the browser here (and how to install it), or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the dev extra: pip install -e '.[dev]')"
    if _which(BROWSERS) is None:
        return "no chromium (apt-get install chromium; .ci/install-browser, in CI)"
    if _which(DRIVERS) is None:
        return "no chromedriver (apt-get install chromium-driver; .ci/install-browser, in CI)"
    return None


@contextmanager
def chrome(width: int = 1280, height: int = 1000) -> Iterator:
    """A headless Chromium under chromedriver, quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = _which(BROWSERS)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(_which(DRIVERS)))
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The keyvid page in one browser tab: the steps a person takes, each waited for."""

    def __init__(self, driver, url: str, timeout: float = TIMEOUT) -> None:
        self.driver, self.url, self.timeout = driver, url, timeout

    # -- waiting ------------------------------------------------------------------------
    def wait(self, condition: Callable, what: str):
        """Poll ``condition(driver)`` until truthy (its value is returned); fail on a timeout
        or on an error toast of the page."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        def check(driver):
            errors = [e.text for e in self._all('[data-testid="toast-body"].error') if e.text]
            if errors:
                raise AssertionError(f"while waiting for {what}: the page says {errors}")
            return condition(driver)

        return WebDriverWait(
            self.driver, self.timeout, poll_frequency=0.1,
            ignored_exceptions=(StaleElementReferenceException,),
        ).until(check, message=f"{what}: not within {self.timeout:.0f} s")  # fmt: skip

    def _all(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def find(self, css: str, what: str | None = None):
        return self.wait(lambda _: next(iter(self._all(css)), None), what or css)

    def image_src(self, elem_id: str, after: str | None = None) -> str:
        """The ``src`` of the image shown in component ``elem_id`` (a new one, if ``after``)."""

        def shown(_):
            src = next((i.get_attribute("src") for i in self._all(f"#{elem_id} img")), None)
            return src if src and src != after else None

        return self.wait(shown, f"an image in #{elem_id}")

    # -- steps --------------------------------------------------------------------------
    def open(self) -> None:
        self.driver.get(self.url)
        self.find('button[role="tab"]', "the page's tabs")

    def tab(self, name: str) -> None:
        from selenium.webdriver.common.by import By

        xpath = f"//button[@role='tab' and normalize-space()='{name}']"
        self.wait(lambda d: d.find_elements(By.XPATH, xpath), f"the {name} tab")[0].click()
        self.wait(
            lambda d: d.find_elements(By.XPATH, xpath)[0].get_attribute("aria-selected") == "true",
            f"the {name} tab selected",
        )

    def press(self, label: str) -> None:
        """Click the visible button (not a tab) whose text is ``label``."""
        from selenium.webdriver.common.by import By

        xpath = f"//button[not(@role='tab') and normalize-space()='{label}']"
        self.wait(
            lambda d: next((b for b in d.find_elements(By.XPATH, xpath) if b.is_displayed()), None),
            f"the {label} button",
        ).click()

    def upload(self, elem_id: str, path: str | Path) -> None:
        """Give component ``elem_id`` a file, as its file picker would, and wait for it."""
        path = Path(path).resolve()
        self.find(f"#{elem_id} input[type=file]").send_keys(str(path))
        if self._all(f"#{elem_id} [data-testid=image]"):  # an image: its preview shows
            self.image_src(elem_id)
        else:  # a file: it is listed, uploaded (a download link)
            self.find(f"#{elem_id} a[download='{path.name}']", f"{path.name} uploaded")

    def choose(self, elem_id: str, option: str) -> None:
        """Pick ``option`` in dropdown ``elem_id``."""
        box = self.find(f"#{elem_id} input[role=combobox]")
        box.click()
        self.find(f"#{elem_id} [role=option][aria-label='{option}']", option).click()
        self.wait(lambda _: box.get_attribute("value") == option, f"{option} chosen")

    def type_number(self, elem_id: str, value: float) -> None:
        from selenium.webdriver.common.keys import Keys

        field = self.find(f"#{elem_id} input[type=number]")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(str(value), Keys.TAB)
        self.wait(lambda _: float(field.get_attribute("value")) == value, f"{elem_id} = {value}")

    def table(self, elem_id: str, columns: int) -> list[list[float]]:
        """The numbers of Dataframe ``elem_id``, row by row, as shown."""
        cells = {}
        for cell in self._all(f"#{elem_id} [data-testid^=cell-]"):
            row, col = map(int, re.findall(r"\d+", cell.get_attribute("data-testid")))
            cells[row, col] = float(cell.text)
        rows = 1 + max((r for r, _ in cells), default=-1)
        return [[cells[r, c] for c in range(columns)] for r in range(rows)]

    def drag_by(self, element, dx: int, dy: int) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        chain = ActionChains(self.driver).click_and_hold(element)
        chain.move_by_offset(dx // 2, dy // 2).move_by_offset(dx - dx // 2, dy - dy // 2)
        chain.release().perform()

    def click_at(self, element, dx: int, dy: int) -> None:
        """Click ``(dx, dy)`` CSS pixels from ``element``'s centre."""
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).move_to_element_with_offset(element, dx, dy).click().perform()

    def screenshot(self, path: str | Path) -> Path:
        """The whole page (the window grown to show all of it) as a PNG."""
        page, inner = self.driver.execute_script(
            "return [document.documentElement.scrollHeight, window.innerHeight]"
        )
        window = self.driver.get_window_size()  # the viewport and the window's frame
        self.driver.set_window_size(window["width"], window["height"] - inner + page)
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(str(path))
        return Path(path)

    # -- the three tabs, as a person uses them ----------------------------------------------
    def predict(self, image, action: str | None, shot: Path | None = None) -> str:
        """Predict: upload, pick the action, Generate; the video's ``src``."""
        self.tab("Predict")
        self.upload("predict-image", image)
        if action is not None:
            self.choose("predict-action", action)
        self.press("Generate")
        src = self.image_src("predict-video")
        if shot:
            self.screenshot(shot)
        return src

    def animate(self, image, driving, shot: Path | None = None) -> str:
        """Animate: upload the image and a driving video, Animate; the video's ``src``."""
        self.tab("Animate")
        self.upload("animate-image", image)
        self.upload("animate-driving", driving)
        self.press("Animate")
        src = self.image_src("animate-video")
        if shot:
            self.screenshot(shot)
        return src

    def detect(self, image) -> list[list[float]]:
        """Edit keypoints: upload, Detect keypoints; the keypoint table."""
        self.tab("Edit keypoints")
        self.upload("edit-image", image)
        self.press("Detect keypoints")
        self.find("#edit-keypoints .kp", "the keypoints on the image")
        self.wait(lambda _: self.table("edit-table", 3), "the keypoint table")
        count = len(self._all("#edit-keypoints .kp"))
        return self.wait(lambda _: len(t := self.table("edit-table", 3)) == count and t, "rows")

    def view(self) -> tuple:
        """The Keypoints view's SVG and its scale: CSS pixels per image pixel."""
        svg = self.find("#edit-keypoints .kp-view svg")
        size = self.driver.execute_script("return arguments[0].viewBox.baseVal.width", svg)
        return svg, svg.rect["width"] / size, size

    def move_keypoint(self, k: int, to: tuple[float, float], *, drag: bool) -> list[list[float]]:
        """Move keypoint ``k`` to ``to`` (normalised x, y) on the Keypoints view: drag its
        handle there, or choose it by number and click there. The table once it shows it."""
        svg, scale, size = self.view()
        before = self.table("edit-table", 3)
        target = [(c + 1) / 2 * (size - 1) for c in to]  # image pixels (keyvid.coords)
        if drag:
            now = [(c + 1) / 2 * (size - 1) for c in before[k][1:]]
            handle = self.find(f"#edit-keypoints .kp[data-k='{k}'] circle")
            offset = (round((t - n) * scale) for t, n in zip(target, now, strict=True))
            self.drag_by(handle, *offset)
        else:
            self.type_number("edit-index", k)
            centre = (size - 1) / 2  # the pixel under the view's centre
            self.click_at(svg, *(round((t - centre) * scale) for t in target))
        return self.wait(
            lambda _: (t := self.table("edit-table", 3))[k] != before[k] and t,
            f"keypoint {k} moved in the table",
        )

    def render(self, shot: Path | None = None) -> str:
        """Edit keypoints: Render; the edited image's ``src``."""
        before = next((i.get_attribute("src") for i in self._all("#edit-edited img")), None)
        self.press("Render")
        src = self.image_src("edit-edited", after=before)
        if shot:
            self.screenshot(shot)
        return src
