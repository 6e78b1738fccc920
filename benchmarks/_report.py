"""What every benchmark prints: the machine's load, plain-text tables, compact numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence


def machine_load() -> str:
    """The 1-minute load average and the busiest other processes, to judge timing noise."""
    load = os.getloadavg()[0]
    busy = []
    try:
        listing = subprocess.run(["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu"], check=True,
                                 capture_output=True, text=True).stdout.splitlines()[1:]
        for line in listing:
            pid, cpu, command = line.split(None, 2)
            if int(pid) != os.getpid() and float(cpu) >= 20 and not command.startswith("ps "):
                busy.append(f"{command[:60]} ({cpu}% CPU)")
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    others = "; other busy processes: " + ", ".join(busy[:3]) if busy else ""
    return f"load average {load:.2f} on {os.cpu_count()} cores{others}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]],
                notes: Sequence[str] = ()) -> None:
    """Print a plain-text table with right-aligned columns."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}\n")
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    for note in notes:
        print(f"  {note}")
    sys.stdout.flush()


def fmt(value: float | None, digits: int = 3) -> str:
    """Format a number to ``digits`` significant figures ("-" for None)."""
    return "-" if value is None else f"{value:.{digits}g}"
