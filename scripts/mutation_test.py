#!/usr/bin/env python
"""A small mutation tester: do the selected tests notice single-token wiring mistakes in the selected code?

For each mutant (one AST-level change in one of the selected functions) the source tree is mutated in a
*temporary copy* of ``src/`` (the working tree is never modified), and pytest runs the selected tests with
``PYTHONPATH=<copy>/src`` so the copy shadows the editable install. A mutant is *killed* when the tests fail,
*survived* when they pass, *timeout* when they exceed the per-mutant limit. A JSON report is printed (and
written with ``--report``).

Mutation operators (each applied to every matching node inside the selected functions):

* ``compare``: ``<``→``<=``/``>``, ``<=``→``<``/``>=``, ``>``→``>=``/``<``, ``>=``→``>``/``<=``, ``==``↔``!=``,
  ``is``↔``is not``, ``in``↔``not in``;
* ``binop``/``augassign``: ``+``↔``-``, ``*``↔``/``, ``//``→``/``, ``%``→``//``, ``**``→``*``;
* ``boolop``: ``and``↔``or``; ``unary``: drop a unary ``-`` or ``not``;
* ``constant``: ``True``↔``False``; numbers 0→1, 1→0, 2→1, 0.5→1, other ints n→n+1, other floats x→2x
  (``index`` when the number is a subscript);
* ``swap-args``: swap two adjacent positional arguments of a call; ``swap-kwargs``: swap the values of two
  adjacent keyword arguments;
* ``swap-elts``: swap two adjacent elements of a list/tuple (``torch.cat([ya, yb])``, ``a, b = f(), g()``, the
  targets of ``a, b = ...``);
* ``ones-zeros``: ``ones_like``↔``zeros_like``, ``ones``↔``zeros``, ``new_ones``↔``new_zeros``.

Type annotations, f-strings and ``raise`` statements (error messages) are not mutated.

``--named FILE`` instead applies a fixed list of hand-written mutations (JSON: ``id``, ``file``, ``find``,
``replace``, ``description``; ``find`` must occur exactly once in the file, else the mutation is reported
as not applicable).

Examples::

    python scripts/mutation_test.py --target src/genfer/train/stylegan2.py::train_step,_path_length_step \\
        --target src/genfer/losses/stylegan2.py --tests "tests/test_wiring_stylegan2.py" --sample 40
    python scripts/mutation_test.py --named scripts/mutations_named.json --tests "tests/test_wiring_*.py"
"""

from __future__ import annotations

import argparse
import ast
import copy
import glob
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- mutants


@dataclass
class Mutant:
    id: str
    file: str  # relative to the project root, e.g. src/genfer/train/pfvit.py
    line: int
    operator: str
    original: str  # the source line(s) before
    mutated: str  # the source line(s) after
    new_source: str = field(repr=False, default="")
    function: str = ""


_CMP = {
    ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt, ast.LtE],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.Is: [ast.IsNot], ast.IsNot: [ast.Is], ast.In: [ast.NotIn],
    ast.NotIn: [ast.In],
}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
        ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_ATTR = {"ones_like": "zeros_like", "zeros_like": "ones_like", "ones": "zeros", "zeros": "ones",
         "new_ones": "new_zeros", "new_zeros": "new_ones"}
_SIMPLE = (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.BinOp, ast.UnaryOp)


def _number_mutation(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, int):
        return {0: 1, 1: 0, 2: 1}.get(v, v + 1)
    return {0.0: 1.0, 1.0: 0.0, 0.5: 1.0, 2.0: 1.0}.get(v, v * 2)


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


class _Parents(ast.NodeVisitor):
    def __init__(self) -> None:
        self.parent: dict[ast.AST, ast.AST] = {}

    def generic_visit(self, node):
        for child in ast.iter_child_nodes(node):
            self.parent[child] = node
        super().generic_visit(node)


def _node_variants(node: ast.AST, parent: ast.AST | None) -> list[tuple[str, ast.AST]]:
    """(operator, replacement node) pairs for one node; the replacement is a mutated deep copy."""
    out: list[tuple[str, ast.AST]] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in _CMP.get(type(op), []):
                m = copy.deepcopy(node)
                m.ops[i] = new()
                out.append(("compare", m))
    elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        if not (_is_str(node.left) or _is_str(node.right)):
            m = copy.deepcopy(node)
            m.op = _BIN[type(node.op)]()
            out.append(("binop", m))
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BIN:
        m = copy.deepcopy(node)
        m.op = _BIN[type(node.op)]()
        out.append(("augassign", m))
    elif isinstance(node, ast.BoolOp):
        m = copy.deepcopy(node)
        m.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append(("boolop", m))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        out.append(("unary", copy.deepcopy(node.operand)))
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            out.append(("constant", ast.Constant(not node.value)))
        else:
            new = _number_mutation(node.value)
            if new is not None:
                kind = "index" if isinstance(parent, ast.Subscript) and parent.slice is node else "constant"
                out.append((kind, ast.Constant(new)))
    elif isinstance(node, ast.Attribute) and node.attr in _ATTR and isinstance(node.ctx, ast.Load):
        m = copy.deepcopy(node)
        m.attr = _ATTR[node.attr]
        out.append(("ones-zeros", m))
    if isinstance(node, ast.Call):
        args = node.args
        for i in range(len(args) - 1):
            a, b = args[i], args[i + 1]
            if isinstance(a, ast.Starred) or isinstance(b, ast.Starred) or ast.dump(a) == ast.dump(b):
                continue
            m = copy.deepcopy(node)
            m.args[i], m.args[i + 1] = m.args[i + 1], m.args[i]
            out.append(("swap-args", m))
        kws = [k for k in node.keywords if k.arg is not None]
        for i in range(len(kws) - 1):
            a, b = kws[i].value, kws[i + 1].value
            if isinstance(a, ast.Constant) and isinstance(b, ast.Constant) or ast.dump(a) == ast.dump(b):
                continue
            m = copy.deepcopy(node)
            mk = [k for k in m.keywords if k.arg is not None]
            mk[i].value, mk[i + 1].value = mk[i + 1].value, mk[i].value
            out.append(("swap-kwargs", m))
    if isinstance(node, (ast.List, ast.Tuple)):
        for i in range(len(node.elts) - 1):
            a, b = node.elts[i], node.elts[i + 1]
            if not (isinstance(a, _SIMPLE) and isinstance(b, _SIMPLE)) or ast.dump(a) == ast.dump(b):
                continue
            m = copy.deepcopy(node)
            m.elts[i], m.elts[i + 1] = m.elts[i + 1], m.elts[i]
            out.append(("swap-elts", m))
    return out


def _functions(tree: ast.AST, names: list[str] | None) -> list[tuple[str, ast.AST]]:
    """The (name, node) of every function (at any depth) named in ``names`` (all top-level code if None)."""
    if names is None:
        return [("<module>", tree)]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            found.append((node.name, node))
    return found


def _line_offsets(source: str) -> list[int]:
    offs, pos = [0], 0
    for line in source.splitlines(keepends=True):
        pos += len(line)
        offs.append(pos)
    return offs


def generate_mutants(project: Path, rel: str, functions: list[str] | None,
                     lines: tuple[int, int] | None = None) -> tuple[list[Mutant], list[str]]:
    """All mutants of ``rel`` (inside ``functions`` / ``lines`` when given), deduplicated; and the names not found."""
    source = (project / rel).read_text()
    tree = ast.parse(source)
    parents = _Parents()
    parents.visit(tree)
    targets = _functions(tree, functions)
    missing = sorted(set(functions or []) - {n for n, _ in targets})
    offs = _line_offsets(source)
    src_lines = source.splitlines()
    original_dump = ast.dump(tree)
    seen: set[str] = set()
    mutants: list[Mutant] = []
    short = rel.split("genfer/", 1)[-1].removesuffix(".py")
    for fname, fnode in targets:
        docstring = None
        body = getattr(fnode, "body", [])
        if body and isinstance(body[0], ast.Expr) and _is_str(body[0].value):
            docstring = body[0].value
        # not mutated: type annotations, f-strings, and raise statements (error messages)
        skip = {id(n) for a in _annotations(fnode) for n in ast.walk(a)}
        skip |= {id(n) for a in ast.walk(fnode) if isinstance(a, (ast.JoinedStr, ast.Raise)) for n in ast.walk(a)}
        for node in ast.walk(fnode):
            if node is docstring or not hasattr(node, "lineno") or node is fnode or id(node) in skip:
                continue
            if lines and not (lines[0] <= node.lineno <= lines[1]):
                continue
            parent = parents.parent.get(node)
            for op, new_node in _node_variants(node, parent):
                start = offs[node.lineno - 1] + _col(src_lines[node.lineno - 1], node.col_offset)
                end = offs[node.end_lineno - 1] + _col(src_lines[node.end_lineno - 1], node.end_col_offset)
                text = ast.unparse(new_node)
                if isinstance(node, ast.expr) and not (isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Store)):
                    text = f"({text})"
                new_source = source[:start] + text + source[end:]
                try:
                    new_tree = ast.parse(new_source)
                except SyntaxError:
                    continue
                dump = ast.dump(new_tree)
                if dump == original_dump or dump in seen:
                    continue
                seen.add(dump)
                first, last = node.lineno, node.end_lineno
                new_lines = new_source.splitlines()
                delta = len(new_lines) - len(src_lines)
                mutants.append(Mutant(
                    id=f"{short}:{node.lineno}:{op}:{len(mutants)}", file=rel, line=node.lineno, operator=op,
                    original="\n".join(src_lines[first - 1 : last]).strip(),
                    mutated="\n".join(new_lines[first - 1 : last + delta]).strip(), new_source=new_source,
                    function=fname))
    mutants.sort(key=lambda m: (m.line, m.operator, m.mutated))
    for k, m in enumerate(mutants):
        m.id = f"{short}:{m.line}:{m.operator}:{k}"
    return mutants, missing


def _annotations(tree: ast.AST) -> list[ast.AST]:
    """Type annotations (not executed code) inside ``tree``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            out.append(node.returns)
        elif isinstance(node, ast.arg) and node.annotation is not None or isinstance(node, ast.AnnAssign):
            out.append(node.annotation)
    return out


def _col(line: str, byte_col: int) -> int:
    """ast's col offsets count UTF-8 bytes; convert to a character index."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def named_mutants(project: Path, spec_file: Path) -> tuple[list[Mutant], list[dict]]:
    spec = json.loads(spec_file.read_text())
    mutants, skipped = [], []
    for item in spec:
        path = project / item["file"]
        source = path.read_text() if path.is_file() else ""
        count = source.count(item["find"])
        if count != 1:
            skipped.append({"id": item["id"], "reason": f"'find' text occurs {count} times in {item['file']}"})
            continue
        start = source.index(item["find"])
        line = source[:start].count("\n") + 1
        new_source = source.replace(item["find"], item["replace"])
        n = item["find"].count("\n")
        mutants.append(Mutant(id=item["id"], file=item["file"], line=line, operator="named",
                              original="\n".join(source.splitlines()[line - 1 : line + n]).strip(),
                              mutated="\n".join(new_source.splitlines()[line - 1 : line + item["replace"].count("\n")]).strip(),
                              new_source=new_source, function=item.get("description", "")))
    return mutants, skipped


# ----------------------------------------------------------------------------- running

_PLUGIN = '''
import json, os, sys

def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("MT_IMPORTS")
    if path:
        mods = {k: getattr(m, "__file__", None) for k, m in list(sys.modules.items()) if k.startswith("genfer")}
        with open(path, "w") as f:
            json.dump(mods, f)
'''


class Runner:
    """Runs the selected tests against a temporary copy of ``src/`` (mutated one file at a time)."""

    def __init__(self, project: Path, tests: list[str], *, pytest_args: list[str], keep: bool = False) -> None:
        self.project = project
        self.tests = tests
        self.pytest_args = pytest_args
        self.tmp = Path(tempfile.mkdtemp(prefix="genfer-mutation-"))
        self.keep = keep
        shutil.copytree(project / "src", self.tmp / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (self.tmp / "plugin").mkdir()
        (self.tmp / "plugin" / "mt_plugin.py").write_text(_PLUGIN)
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(self.tmp / "src"), str(self.tmp / "plugin")]),
                        PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
                        MT_IMPORTS=str(self.tmp / "imports.json"))
        self.python = sys.executable

    def genfer_file(self) -> str:
        out = subprocess.run([self.python, "-c", "import genfer; print(genfer.__file__)"], env=self.env,
                             capture_output=True, text=True, cwd=self.project, check=False)
        return out.stdout.strip() or out.stderr.strip()[-500:]

    def run(self, timeout: float | None) -> tuple[str, float, int | None, str]:
        """Run the tests once: (status, seconds, return code, tail of output); status passed/failed/timeout/error."""
        cmd = [self.python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "mt_plugin", *self.pytest_args,
               *self.tests]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=self.project, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the pytest process we started and its children
            proc.communicate()
            return "timeout", time.monotonic() - t0, None, ""
        except BaseException:  # interrupted (SIGTERM / Ctrl-C): stop our pytest too
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        dt = time.monotonic() - t0
        rc = proc.returncode
        status = {0: "passed", 1: "failed", 2: "failed", 3: "failed", 4: "failed"}.get(rc, "error")
        return status, dt, rc, "\n".join(out.strip().splitlines()[-3:])

    def imported_from_copy(self) -> bool:
        path = self.tmp / "imports.json"
        if not path.is_file():
            return False
        mods = json.loads(path.read_text())
        files = [f for f in mods.values() if f]
        return bool(files) and all(f.startswith(str(self.tmp / "src")) for f in files)

    def apply(self, mutant: Mutant) -> str:
        target = self.tmp / mutant.file
        original = target.read_text()
        target.write_text(mutant.new_source)
        return original

    def restore(self, mutant: Mutant, original: str) -> None:
        (self.tmp / mutant.file).write_text(original)

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- CLI


def _parse_target(spec: str) -> tuple[str, list[str] | None]:
    if "::" in spec:
        path, names = spec.split("::", 1)
        return path, [n for n in names.split(",") if n]
    return spec, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", action="append", default=[], metavar="FILE[::FUNC,FUNC]",
                    help="a source file (relative to --project) and optionally the functions to mutate (any depth)")
    ap.add_argument("--file", action="append", default=[], help="a source file; mutated in each --function")
    ap.add_argument("--function", action="append", default=[], help="restrict --file to these functions")
    ap.add_argument("--lines", help="restrict --file to lines A-B")
    ap.add_argument("--named", type=Path, help="JSON list of named mutations instead of generated ones")
    ap.add_argument("--only", action="append", default=[], help="with --named: only these ids")
    ap.add_argument("--tests", action="append", default=[], required=True,
                    help="pytest selection (paths, node ids, globs; shell-split); repeatable")
    ap.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. \"-k 'not ddp'\"")
    ap.add_argument("--project", type=Path, default=REPO, help="root holding src/ and tests/ (default: this repo)")
    ap.add_argument("--timeout", type=float, help="seconds per mutant (default: 2 x baseline + 30)")
    ap.add_argument("--sample", type=int, help="run a random sample of this many mutants")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--label", default="", help="a name for the report")
    ap.add_argument("--report", type=Path, help="also write the JSON report here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the copy and the running pytest
    project = args.project.resolve()
    targets = [_parse_target(t) for t in args.target]
    targets += [(f, args.function or None) for f in args.file]
    lines = tuple(int(x) for x in args.lines.split("-")) if args.lines else None
    skipped: list[dict] = []
    if args.named:
        mutants, skipped = named_mutants(project, args.named)
        if args.only:
            mutants = [m for m in mutants if m.id in args.only]
    else:
        mutants = []
        for rel, funcs in targets:
            found, missing = generate_mutants(project, rel, funcs, lines if rel in args.file else None)
            mutants += found
            skipped += [{"id": f"{rel}::{name}", "reason": "function not found"} for name in missing]
    generated = len(mutants)
    if args.sample and args.sample < len(mutants):
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: (m.file, m.line, m.id))
    if args.list:
        for m in mutants:
            print(f"{m.id}\t{m.file}:{m.line}\t{m.original!r} -> {m.mutated!r}")
        print(f"{generated} generated, {len(mutants)} selected", file=sys.stderr)
        return 0

    tests: list[str] = []
    for t in args.tests:
        for part in shlex.split(t):
            matches = sorted(glob.glob(str(project / part))) if any(c in part for c in "*?[") else []
            tests += [os.path.relpath(m, project) for m in matches] or [part]
    runner = Runner(project, tests, pytest_args=shlex.split(args.pytest_args), keep=args.keep)
    report: dict = {"label": args.label, "project": str(project), "copy": str(runner.tmp), "tests": tests,
                    "pytest_args": args.pytest_args, "targets": [f"{r}::{','.join(f or [])}" for r, f in targets],
                    "named": str(args.named) if args.named else None, "generated": generated,
                    "sampled": len(mutants) if args.sample else None, "seed": args.seed if args.sample else None}
    try:
        report["genfer_file"] = runner.genfer_file()
        if not report["genfer_file"].startswith(str(runner.tmp / "src")):
            raise SystemExit(f"genfer is not imported from the copy: {report['genfer_file']}")
        print(f"genfer.__file__ = {report['genfer_file']}", file=sys.stderr)
        status, base_t, rc, tail = runner.run(timeout=None)
        report["baseline"] = {"status": status, "seconds": round(base_t, 1), "tail": tail,
                              "imported_from_copy": runner.imported_from_copy()}
        print(f"baseline: {status} in {base_t:.1f}s; genfer imported from the copy: "
              f"{report['baseline']['imported_from_copy']}", file=sys.stderr)
        if status != "passed" or not report["baseline"]["imported_from_copy"]:
            print(json.dumps(report, indent=2))
            raise SystemExit("baseline run must pass and import genfer from the copy")
        timeout = args.timeout or 2 * base_t + 30
        report["timeout"] = round(timeout, 1)
        results = []
        t_start = time.monotonic()
        for k, m in enumerate(mutants, 1):
            original = runner.apply(m)
            try:
                status, dt, rc, tail = runner.run(timeout)
                from_copy = runner.imported_from_copy()
            finally:
                runner.restore(m, original)
            verdict = {"failed": "killed", "passed": "survived", "timeout": "timeout"}.get(status, "error")
            results.append({**{k2: v for k2, v in asdict(m).items() if k2 != "new_source"}, "status": verdict,
                            "seconds": round(dt, 1), "rc": rc, "tail": tail if verdict in ("error",) else ""})
            print(f"[{k}/{len(mutants)}] {verdict:8s} {dt:5.1f}s {m.file}:{m.line} {m.operator}: {m.mutated[:100]}"
                  + ("" if from_copy or verdict == "timeout" else "  (genfer NOT from the copy!)"), file=sys.stderr)
        report["seconds"] = round(time.monotonic() - t_start, 1)
        counts = {s: sum(r["status"] == s for r in results) for s in ("killed", "survived", "timeout", "error")}
        report.update(run=len(results), **counts,
                      score=round(counts["killed"] / max(1, len(results) - counts["error"]), 3),
                      survivors=[{k2: r[k2] for k2 in ("id", "file", "line", "operator", "original", "mutated")}
                                 for r in results if r["status"] == "survived"],
                      not_applicable=skipped, results=results)
    finally:
        runner.close()
    text = json.dumps(report, indent=2)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
