"""Private alias of :mod:`mdps.validation`, kept only while callers move to the public name."""

from mdps.validation import *  # noqa: F401,F403
from mdps.validation import _index_str  # noqa: F401
