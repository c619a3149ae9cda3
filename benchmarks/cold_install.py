"""Download size and time of the README's first command on a cold machine (issue 20), as JSON.

Clones this repository at REV into a scratch folder, makes a fresh venv and runs ``pip install -e .`` with pip's
cache disabled, counting the bytes the network interfaces received meanwhile (/proc/net/dev; run nothing else that
downloads) and the files pip fetched by source (its verbose log: http(s) downloads, and wheels this machine serves
from local folders, such as PyTorch's, which a user elsewhere downloads too), then ``genfer demo``. Compare the commit before the install pins with one after:

    python benchmarks/cold_install.py --rev 0f52d05^ > before.json
    python benchmarks/cold_install.py --rev HEAD > after.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def received_bytes() -> int:
    """Bytes received so far by all non-loopback interfaces."""
    total = 0
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, counters = line.split(":", 1)
        if name.strip() != "lo":
            total += int(counters.split()[0])
    return total


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Run CMD; return (wall seconds, exit code, its output)."""
    start = time.monotonic()
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    return time.monotonic() - start, proc.returncode, proc.stdout + proc.stderr


def wheel_sources(pip_log: str) -> dict[str, float]:
    """MB and count of the files pip fetched, by source, from ``pip install -v`` output: ``network`` ("Downloading
    NAME (SIZE)": from an index over the network) and ``local`` ("Processing PATH": this machine's package folders,
    e.g. PyTorch's wheels, which a user elsewhere downloads too)."""
    sizes = {"network_mb": 0.0, "network_files": 0, "local_mb": 0.0, "local_files": 0}
    for line in pip_log.splitlines():
        if found := re.match(r"\s*Downloading\s+\S+\s+\(([\d.]+) (kB|MB|GB)\)", line):
            sizes["network_mb"] += float(found.group(1)) * {"kB": 1e-3, "MB": 1.0, "GB": 1e3}[found.group(2)]
            sizes["network_files"] += 1
        elif (found := re.match(r"\s*Processing\s+(/\S+\.(?:whl|tar\.gz|zip))", line)) and Path(found.group(1)).is_file():
            sizes["local_mb"] += Path(found.group(1)).stat().st_size / 1e6
            sizes["local_files"] += 1
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in sizes.items()}


def tail(log: str, lines: int = 3) -> str:
    return "\n".join(log.strip().splitlines()[-lines:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="commit to install (default HEAD)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that makes the venv")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--log", type=Path, help="write pip's verbose output here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="genfer-cold-"))
    checkout = scratch / "genfer"
    try:
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(checkout)], check=True)
        subprocess.run(["git", "-C", str(checkout), "checkout", "-q", args.rev], check=True)
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        subprocess.run([args.python, "-m", "venv", str(checkout / ".venv")], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHONPATH"))}
        env.update(PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PATH=f"{checkout / '.venv' / 'bin'}:{env.get('PATH', '')}")
        before = received_bytes()
        install_s, install_rc, pip_log = timed(["pip", "install", "-v", "-e", "."], checkout, env)
        downloaded = received_bytes() - before
        if args.log:
            args.log.write_text(pip_log)
        demo_s, demo_rc, demo_log = timed(["genfer", "demo"], checkout, env) if install_rc == 0 else (0.0, -1, "")
        venv_bytes = sum(f.stat().st_size for f in (checkout / ".venv").rglob("*") if f.is_file() and not f.is_symlink())
        print(json.dumps({
            "rev": args.rev, "commit": commit, "pip_cache": "disabled",
            "install_seconds": round(install_s, 1), "install_exit": install_rc,
            "received_by_network_interfaces_mb": round(downloaded / 1e6, 1), "files_fetched_mb": wheel_sources(pip_log),
            "venv_mb": round(venv_bytes / 1e6, 1),
            "demo_seconds": round(demo_s, 1), "demo_exit": demo_rc,
            "install_tail": tail(pip_log) if install_rc else "", "demo_tail": tail(demo_log) if demo_rc else "",
            "load_average": os.getloadavg()[0],
        }, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
