"""Where the data lives: one rule for the CLI, the workers and the tests (no torch import here,
so Django's settings can use it).

``--data-dir`` (or a ``data_dir`` argument), else ``$MAML_DATA_DIR``, else the default
``../shared/data/omniglot`` beside the project's root (the checkout that holds ``maml_ref/``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "MAML_DATA_DIR"
FLAG = "--data-dir"
FETCH_COMMAND = "python -m maml_ref download omniglot"
OMNIGLOT_NPZ = ("images_background.npz", "images_evaluation.npz")
OMNIGLOT_ZIP = ("images_background.zip", "images_evaluation.zip")


def default_data_dir() -> Path:
    """``../shared/data/omniglot`` from the project's root (the folder above ``maml_ref/``)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "omniglot"


def data_dir(given: str | Path | None = None) -> Path:
    """The data directory: ``given`` (the flag), else $MAML_DATA_DIR, else the default."""
    if given not in (None, ""):
        return Path(given).expanduser()
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else default_data_dir()


def where_from(given: str | Path | None = None) -> str:
    """How ``data_dir(given)`` was chosen, for messages: the flag, the variable or the default."""
    if given not in (None, ""):
        return FLAG
    return f"${ENV}" if os.environ.get(ENV) else f"the default (no {FLAG}, no ${ENV})"


def omniglot_dir(root: Path) -> Path | None:
    """The folder under ``root`` holding the Omniglot pair (npz or original zips), if any."""
    for candidate in (root, root / "omniglot", root.parent / "omniglot"):
        for names in (OMNIGLOT_NPZ, OMNIGLOT_ZIP):
            if all((candidate / n).is_file() for n in names):
                return candidate
    return None


def missing_omniglot_message(root: Path, how: str = "") -> str:
    """What to do when ``root`` holds no Omniglot: the command that fetches it, the flag, the
    variable. Names no more of the path than the caller gave (a worker hides it from users)."""
    chosen = f" (chosen by {how})" if how else ""
    return (
        f"no Omniglot data in {root}{chosen}: run `{FETCH_COMMAND} --dir {root}` "
        f"(or put images_background.zip and images_evaluation.zip from "
        f"github.com/brendenlake/omniglot/tree/master/python there), or point {FLAG} / ${ENV} "
        "at a directory that holds them"
    )
