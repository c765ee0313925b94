"""Checks on what a submitter sends, run before anything is stored or queued, by concern:

- ``uploads``: the size limit of an upload, the bounded upload handler, temporary files and the
  start-up sweep of the upload folder;
- ``checkpoints``: a checkpoint checked by maml_ref's ``load_checkpoint`` (the one check of a
  checkpoint, never unpickling), each of its error kinds told in the form's and the API's words;
- ``claims``: the claimed figure, metric, training configuration (bounded JSON), paper, and
  ``check_submission``, shared by the form and the API.

Everything is importable from ``evaluator.validation`` as before the split.
"""

from .checkpoints import *  # noqa: F403
from .claims import *  # noqa: F403
from .uploads import *  # noqa: F403
from .uploads import _read_exactly, _user_named  # noqa: F401
