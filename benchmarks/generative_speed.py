"""Speed of the generative commands end to end, through the real CLI entry, one JSON line per command.

Writes N held-out aligned faces (FER2013Valid crops from FERPlus's ``valid`` split under ``$GENFER_DATA``, read
with genfer's reader) as 48 px PNGs into a temporary folder, then runs in-process ``genfer.cli.main``:

- ``neutralize CROPS --aligned --out DIR``        (shipped ``pfvit``): aligned faces/s
- ``transfer --pairs CSV --aligned --out DIR``    (shipped ``switchgan``; N pairs of those faces): pairs/s
- ``invert CROPS --aligned --out DIR``            (shipped ``psp-gray64``, encoder only): faces/s
- ``edit CROPS --emotion happiness --strength 3 --aligned --out DIR`` (latent editing, Eq. 1): faces/s

(``--extra --method latent`` times latent neutralisation and transfer, ``--extra --refine 50`` inversion refined
by optimisation; ``--extra --inverter hyperstyle`` another inverter)

each at ``--threads T``, writing every image, after a warm-up run (imports, file cache). Each command is timed
twice: on 1 input (``setup_s``: model loading, the first face) and on all N (``wall_s``). ``per_s`` is the
steady rate, (N - 1) / (wall_s - setup_s); ``end_to_end_per_s`` is N / wall_s, model loading included. The load
average is printed too: a shared machine slows every figure.

    python benchmarks/generative_speed.py [--n 100] [--threads 2] [--commands neutralize,transfer,invert]
                                          [--batch-size B] [--precision bfloat16] [--extra ARG ...]
    python benchmarks/generative_speed.py --commands neutralize,transfer --extra --method latent
    python benchmarks/generative_speed.py --commands edit,invert --extra --refine 50
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from genfer.cli import main
from genfer.data.registry import open_dataset
from genfer.paths import dataset_root

UNITS = {"neutralize": "aligned_faces_per_s", "transfer": "pairs_per_s", "invert": "faces_per_s", "edit": "faces_per_s"}
COMMAND_ARGS = {"edit": ["--emotion", "happiness", "--strength", "3"]}
"""Arguments a command needs besides its inputs."""


def write_faces(folder: Path, n: int, offset: int) -> list[Path]:
    """N FER2013Valid faces (FERPlus valid split, grayscale 48 px) as PNGs; returns their paths."""
    ds = open_dataset("ferplus", dataset_root("ferplus", None), "valid")
    if offset + n > len(ds.labels):
        raise SystemExit(f"only {len(ds.labels)} faces in {ds.name}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(offset, offset + n):
        paths.append(folder / f"face{i:05d}.png")
        ds.loader(i).convert("L").save(paths[-1])
    return paths


def write_pairs(path: Path, faces: list[Path]) -> Path:
    """One pair per face: face k with face (k + N/2) mod N as its reference (two different people)."""
    n = len(faces)
    with path.open("w") as fh:
        fh.write("source,reference\n")
        for k, face in enumerate(faces):
            fh.write(f"{face.relative_to(path.parent)},{faces[(k + n // 2) % n].relative_to(path.parent)}\n")
    return path


def argv_of(command: str, inputs: list[Path], pairs: Path | None, out: Path, args: argparse.Namespace) -> list[str]:
    argv = [command]
    argv += ["--pairs", str(pairs)] if command == "transfer" else [str(p) for p in inputs]
    argv += COMMAND_ARGS.get(command, [])
    argv += ["--aligned", "--out", str(out), "--threads", str(args.threads), "--json", "--quiet"]
    if args.batch_size:
        argv += ["--batch-size", str(args.batch_size)]
    if args.precision:
        argv += ["--precision", args.precision]
    return argv + list(args.extra or [])


def run(argv: list[str], expected: int) -> float:
    """Wall time of one in-process ``genfer`` call; checks its exit code and that every input succeeded."""
    buf = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    wall = time.perf_counter() - t
    summary = json.loads(buf.getvalue())
    if code != 0 or summary["n"] != expected or summary["errors"]:
        raise SystemExit(f"genfer {argv[0]} failed: exit {code}, {summary['n']} results, {summary['errors']} errors")
    return wall


def bench(command: str, faces: list[Path], root: Path, args: argparse.Namespace) -> dict:
    n = len(faces)
    pairs_all = write_pairs(root / f"pairs_{n}.csv", faces) if command == "transfer" else None
    pairs_one = write_pairs(root / "pairs_1.csv", faces[:1]) if command == "transfer" else None
    out = root / f"out_{command}"

    def once(inputs: list[Path], pairs: Path | None) -> float:
        shutil.rmtree(out, ignore_errors=True)
        return run(argv_of(command, inputs, pairs, out, args), len(inputs))

    once(faces[: min(n, 8)], write_pairs(root / "pairs_warm.csv", faces[: min(n, 8)]))  # warm-up
    setup = once(faces[:1], pairs_one)
    wall = once(faces, pairs_all)
    written = sum(1 for _ in out.iterdir())
    return {"command": command, "n": n, "threads": args.threads, "batch_size": args.batch_size,
            "precision": args.precision, "setup_s": round(setup, 3), "wall_s": round(wall, 3),
            UNITS[command]: round((n - 1) / max(wall - setup, 1e-9), 2),
            "end_to_end_per_s": round(n / wall, 2), "files_written": written,
            "loadavg_1min": round(os.getloadavg()[0], 2)}


def main_() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100, help="faces (transfer: pairs)")
    p.add_argument("--offset", type=int, default=0, help="first FER2013Valid face")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--commands", default="neutralize,transfer,invert")
    p.add_argument("--batch-size", type=int, help="passed to the commands (default: theirs)")
    p.add_argument("--precision", help="passed to the commands as --precision (default: theirs)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, help="further arguments for every command")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="genfer-genspeed-"))
    try:
        faces = write_faces(root / "crops", args.n, args.offset)
        for command in args.commands.split(","):
            print(json.dumps(bench(command.strip(), faces, root, args)), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main_()
