"""The evaluator's unit tests submit Omniglot claims, which are refused at submit time when the
workers have no Omniglot data. Where the real data is absent, these tests point MAML_DATA_DIR at
placeholder files (what the check looks for: the two file names), so the submit logic is tested
on a machine without the data; the integration tests override this and skip instead."""

import pytest

from maml_ref import datadir


@pytest.fixture(autouse=True)
def workers_see_omniglot(settings, tmp_path_factory):
    if datadir.omniglot_dir(datadir.data_dir(settings.MAML_DATA_DIR)) is None:
        placeholder = tmp_path_factory.mktemp("omniglot-placeholder")
        for name in datadir.OMNIGLOT_NPZ:
            (placeholder / name).write_bytes(b"")
        settings.MAML_DATA_DIR = str(placeholder)
