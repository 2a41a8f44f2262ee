"""What an async command's synchronous part hands to the job engine (below the API, so services may build it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Pending:
    """An async command's hand-over: the instance its job is about and the parameters its body reads."""

    instancetype: str
    instance_uuid: str
    params: dict[str, Any] = field(default_factory=dict)
    with_id: bool = True
