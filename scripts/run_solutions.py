"""Run the code of the answer keys in notebooks/solutions/ (teachers' copies, not handed out).

    python scripts/run_solutions.py                                   # every answer key, default sizes
    python scripts/run_solutions.py notebooks/solutions/03_content_loss.md
    NST_FAST=1 python scripts/run_solutions.py                        # tiny sizes: checks that the code runs (CI)

Each answer key is Markdown; its ```python blocks, in order, form one script, run here with
the repository root as working directory. The numbers quoted in the answer keys' text are
what this prints at default sizes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "notebooks" / "solutions"


def answer_keys() -> list[Path]:
    """The answer keys, one per notebook: notebooks/solutions/NN_*.md."""
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.md"))


def code_of(path: Path) -> str:
    """The ```python blocks of one answer key as one script. Every other line becomes an empty
    line, so a traceback's line numbers are the Markdown file's."""
    lines, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if inside and line.strip() == "```":
            inside = False
        lines.append(line if inside else "")
        if not inside and line.strip() == "```python":
            inside = True
    return "\n".join(lines) + "\n"


def run(path: Path) -> None:
    """Execute one answer key's code in a fresh namespace (raises on any error)."""
    print(f"=== {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", flush=True)
    exec(compile(code_of(path), str(path), "exec"), {"__name__": "__main__"})  # noqa: S102 (our own files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="answer keys to run (default: all)")
    args = parser.parse_args(argv)
    for path in args.paths or answer_keys():
        run(path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
