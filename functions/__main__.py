"""Command line: `python -m functions <command> [options]` (`<command> --help` for its options).

    classify   JSON lines on stdin (provider, error) -> JSON lines with the reason, same order
    publish    publish one error event to the topic (emulator or a real project)
    sweep      remove token documents marked invalid that a lost trigger left behind
    report     summarize the functions' JSON log lines: outcomes, classifier gaps, retries, latency
    replay     move dead letters back to the events topic, acknowledging each only once republished
    surge      list the failures held as one fault (many users at once), or lift a hold
"""
from __future__ import annotations

import importlib
import sys

# The operator commands live in functions/commands/; classify's CLI stays next to its rules.
COMMANDS = {
    "classify": "functions.classify",
    "publish": "functions.commands.publish",
    "sweep": "functions.commands.sweep",
    "report": "functions.commands.report",
    "replay": "functions.commands.replay",
    "surge": "functions.commands.surge",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]])
    return module.cli(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
