"""asv's engine environments, installed while the data is made.

asv installs the commit into each engine's environment when it reaches that environment, one
after another and with the machine otherwise idle: 25-62 s an engine here, 2.6 minutes of a
five-engine catalogue. The datasets and references made before asv starts take about as long.
A background process running asv's own install code (:func:`install`) overlaps the two, and asv
then finds every environment already holding the commit and goes straight to its benchmarks.

Nothing is timed while it runs. An install that fails here is left to asv, which tries again
in its turn and records the failure as it would have without this.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from shared.lifetime import die_with_parent


class BackgroundInstall:
    """``python -m bakeoff.environments`` for one asv config and commit, started now, its output
    kept in a log file; :meth:`wait` says how it went."""

    def __init__(self, config: Path, commit: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.began = time.monotonic()
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bakeoff.environments", str(config), commit],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # a bench killed with -9 takes its installs along
            )

    def wait(self) -> str:
        """Wait for the installs; one line on how they went, for the bench's output."""
        status = self.process.wait()
        seconds = time.monotonic() - self.began
        if status == 0:
            return f"engine environments installed in {seconds:.0f} s, beside the data"
        return (
            f"installing the engine environments beside the data failed (exit {status}, see "
            f"{self.log}); asv installs them itself"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def install(config: Path, commit: str) -> None:
    """Create every environment of an asv config and install ``commit`` into it, as
    ``asv run`` would (asv skips the install of an environment that holds the commit)."""
    from asv import environment
    from asv.config import Config
    from asv.repo import get_repo

    conf = Config.load(str(config))
    repo = get_repo(conf)
    for env in environment.get_environments(conf, None, verbose=False):
        began = time.monotonic()
        env.create()
        env.install_project(conf, repo, commit)
        print(f"{env.name}: {time.monotonic() - began:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=install.__doc__)
    parser.add_argument("config", type=Path)
    parser.add_argument("commit")
    args = parser.parse_args()
    install(args.config, args.commit)


if __name__ == "__main__":
    main()
