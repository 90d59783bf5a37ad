"""What is stuck in the central outbox: triggers recorded but not published (``dpc doctor``).

The query lives with the outbox sweep (dpc.lambdas.outbox_sweeper), which publishes the
same entries; this is the operator's read-only view of them.
"""

from __future__ import annotations

from dpc.lambdas.outbox_sweeper import UnpublishedTrigger, unpublished_triggers

__all__ = ["UnpublishedTrigger", "unpublished_triggers"]
