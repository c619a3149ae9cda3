"""Load test of ``genfer serve``: requests/s and p50/p95 latency of ``POST /recognize`` on a 640x480 photo with
1, 4 and 16 concurrent clients, the server's peak memory, failed and wrong answers. Prints one JSON object.

Starts ``genfer serve`` as a child process on a free port, waits for ``GET /health``, then for each concurrency
runs a bounded load: ``--requests`` requests in all, each client sending its next request when its last answer
came back (the server's CPU time per request is reported too: on a loaded machine it stays meaningful where
the wall-clock figures do not). Every answer must equal the one of a first request made alone (same photo).
The photo is matplotlib's packaged Grace Hopper, letterboxed to 640x480.

    python benchmarks/serve_load.py [--clients 1 4 16] [--requests 48] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from genfer.serve.background import free_port


def photo_640x480() -> bytes:
    path = Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"))
    img = Image.open(path).convert("RGB")
    img.thumbnail((640, 480))
    canvas = Image.new("RGB", (640, 480), (120, 120, 120))
    canvas.paste(img, ((640 - img.width) // 2, (480 - img.height) // 2))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def post(url: str, data: bytes) -> tuple[float, int, dict]:
    boundary = "benchboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as response:
            answer, status = json.loads(response.read()), response.status
    except urllib.error.HTTPError as exc:
        answer, status = {"error": exc.read().decode()}, exc.code
    return time.perf_counter() - t, status, answer


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--requests", type=int, default=48, help="requests per concurrency level")
    ap.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    args = ap.parse_args()
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    server = subprocess.Popen([sys.executable, "-m", "genfer.cli", "serve", "--port", str(port), "--threads",
                               str(args.threads)], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.perf_counter() - t0 > 600:
                    sys.exit("the server did not start")
                time.sleep(0.5)
        startup = time.perf_counter() - t0
        photo = photo_640x480()
        _, _, reference = post(url + "/recognize", photo)
        levels = []
        for clients in args.clients:
            with ThreadPoolExecutor(clients) as pool:
                t, cpu = time.perf_counter(), cpu_seconds(server.pid)
                results = list(pool.map(lambda _: post(url + "/recognize", photo), range(args.requests)))
                wall, cpu = time.perf_counter() - t, cpu_seconds(server.pid) - cpu
            latency = np.array([r[0] for r in results]) * 1000
            levels.append({"clients": clients, "requests": len(results), "seconds": round(wall, 2),
                           "requests_per_s": round(len(results) / wall, 2),
                           "p50_ms": round(float(np.percentile(latency, 50)), 1),
                           "p95_ms": round(float(np.percentile(latency, 95)), 1),
                           "server_cpu_ms_per_request": round(1000 * cpu / len(results), 1),
                           "failed": sum(r[1] != 200 for r in results),
                           "wrong": sum(r[1] == 200 and r[2] != reference for r in results)})
        print(json.dumps({"benchmark": "serve_load", "photo": "640x480 JPEG (grace_hopper letterboxed)",
                          "faces": len(reference["faces"]), "server_threads": args.threads,
                          "startup_s": round(startup, 1), "levels": levels,
                          "server_peak_rss_mb": round(peak_rss_mb(server.pid), 1),
                          "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
