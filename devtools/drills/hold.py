"""python -m devtools.drills.hold WORKDIR: start a drill's stack and hold it until killed (the killed-run drill)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from devtools.drills.stack import Stack, StackOptions


def main() -> None:
    stack = Stack(Path(sys.argv[1]), StackOptions(netns="--netns" in sys.argv))
    stack.start()
    (stack.workdir / "ready").write_text("ready\n")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
