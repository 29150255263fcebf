"""Golden answers of the official TotalSegmentator MCP server's catalogue tools.

    python benchmarks/mcp_golden.py

Lists the official ``totalsegmentator_mcp.mcp_server`` tools (``tools``: each tool's parameters with
their allowed values) and calls ``list_all_tasks``, ``list_all_classes``, ``get_class_options`` and
``get_task_details`` in the official venv (``harness.official_venv()``; the
server module needs the ``mcp`` and ``uvicorn`` packages, installed there on first use) and writes
their results to ``tests/data/mcp/official_tools.json``; tests/mcp compares ``totalseg mcp``'s answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from harness import official_venv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "mcp" / "official_tools.json"
CLASSES = ["liver", "spleen", "aorta", "vertebrae_L1", "brain", "heart"]

_CALL = """
import asyncio, json, sys
from totalsegmentator_mcp import mcp_server as m
from totalsegmentator.registry import task_registry
names = sorted(task_registry()["tasks"])
tools = {t.name: {p: {k: v for k, v in s.items() if k == "enum"} for p, s in t.input_schema["properties"].items()}
         for t in asyncio.run(m.mcp.list_tools())}
print(json.dumps({"list_all_tasks": m.list_all_tasks(), "list_all_classes": m.list_all_classes(),
                  "get_class_options": m.get_class_options(json.loads(sys.argv[1])),
                  "get_task_details": m.get_task_details(names), "tools": tools}))
"""


def main() -> int:
    python = official_venv() / "python"
    probe = subprocess.run([str(python), "-c", "import mcp, uvicorn"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mcp==2.3.0", "uvicorn"], check=True)
    out = subprocess.run([str(python), "-c", _CALL, json.dumps(CLASSES)], check=True, capture_output=True,
                         text=True).stdout
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(json.loads(out), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
