"""Checks on what a submitter sends, run before anything is stored or queued, by concern:

- ``uploads``: the size limit of an upload, the bounded upload handler, temporary files and the
  start-up sweep of the upload folder;
- ``checkpoints``: a safetensors checkpoint read in bounded steps (header, layout, shapes,
  finite weights), never unpickled;
- ``claims``: the claimed figure, metric, training configuration (bounded JSON), paper, and
  ``check_submission``, shared by the form and the API.

Everything is importable from ``evaluator.validation`` as before the split.
"""

from .checkpoints import *  # noqa: F403
from .checkpoints import _maml_ref_checks, _read_exactly, _refuse_by_magic  # noqa: F401
from .claims import *  # noqa: F403
from .uploads import *  # noqa: F403
from .uploads import _user_named  # noqa: F401
