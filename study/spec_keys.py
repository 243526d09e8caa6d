"""Content-hash keys and JSON config round trips of the trial specs (1D `TrialSpec`, `DirSpec`).

A spec's key names its Parquet file, so resuming a study finds the trials already done: it must
stay byte-identical for the same spec across versions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields


def content_key(config: dict) -> str:
    """Stable content hash (16 hex digits) of a spec's JSON config."""
    payload = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def field_values(spec_type: type, config: dict) -> dict:
    """The entries of `config` that name a field of the dataclass `spec_type`.

    Tune configs carry more than the spec (device, threads, searcher samples).
    """
    names = {f.name for f in fields(spec_type)}
    return {k: v for k, v in config.items() if k in names}
