"""The ``guifan`` command (and ``python -m guifan``): the garbage collector is kept out of start-up.

Start-up makes a few hundred thousand objects that live as long as the process: modules, the
rulebook, the phrase tables. The collector walking them while they are made frees nothing and took
a tenth of the start-up's CPU time. It is off from here until a command has built what it needs;
then those objects are frozen out of its way (``collect_from_here``) and it runs as usual.
"""

from __future__ import annotations

import gc


def begin() -> None:
    gc.disable()


def collect_from_here() -> None:
    """Turns the collector back on, leaving out every object made so far (they live as long as the
    process); a no-op where ``begin`` did not turn it off (the CLI called in tests, say)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main() -> None:
    begin()
    from guifan.cli import app

    app()
