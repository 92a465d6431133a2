"""``python -m pointsman.simulator``: run the simulated provider until interrupted."""

from __future__ import annotations

import argparse
import os
import sys

from pointsman.simulator.profiles import ProfileError
from pointsman.simulator.server import run


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, then serve. Returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m pointsman.simulator",
        description="Simulated LLM provider (OpenAI wire format) for demos, tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--profiles", help="YAML file of profiles laid over the built-ins")
    parser.add_argument("--api-key", help="require 'Authorization: Bearer <key>'")
    parser.add_argument("--cpu", type=int, help="pin the process to this CPU core")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        run(args.host, args.port, args.profiles, args.api_key)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
