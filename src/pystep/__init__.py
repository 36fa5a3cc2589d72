"""pystep: mint step-ca one-time tokens from Python.

The public API is re-exported here lazily so that ``import pystep`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"
