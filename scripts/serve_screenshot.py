"""Screenshot of ``genfer serve``'s page after a photo and a transfer (docs/images/serve.png).

Serves the shipped models in this process, drives the page in headless Chromium (Playwright with the system's
browser): uploads matplotlib's Grace Hopper photo, waits for the boxes, bars, saliency overlay, poker face and
inversion, uploads genfer's generated smile as the second photo, waits for the transfer, and saves the page.

    python scripts/serve_screenshot.py [--out docs/images/serve.png] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/images/serve.png")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from genfer.serve.app import create_app
    from genfer.serve.background import BackgroundServer
    from genfer.serve.services import Services

    hopper = Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"))
    smile = Path(str(resources.files("genfer") / "assets" / "samples" / "generated_smile.png"))
    with tempfile.TemporaryDirectory() as tmp:
        second = Path(tmp) / "generated_smile.png"
        Image.open(smile).resize((256, 256), Image.BICUBIC).save(second)
        with BackgroundServer(create_app(Services())) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1150, "height": 900})
            page.set_default_timeout(180_000)
            page.goto(server.url + "/")
            page.set_input_files("#file", str(hopper))
            page.wait_for_selector("img.overlay")
            page.wait_for_selector("img.poker-face")
            page.wait_for_selector("img.inversion")
            page.set_input_files("#file2", str(second))
            page.wait_for_selector("#transfer-result img.grid")
            page.wait_for_timeout(500)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
