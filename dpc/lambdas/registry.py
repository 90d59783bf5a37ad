"""The dependency registry on DynamoDB: which pipelines exist, and who waits for whom.

Item shapes are in dpc.lambdas.tables (Dependencies). The one design choice that matters:
a child's edge lives in its *parent's* partition, next to the parent's registration, and
carries the child's condition — so the trigger manager reads "is this state machine a
registered pipeline of this account, and which children with which conditions wait for it"
with ONE Query, whatever the organization's size.

Known limit — the cycle check is read-then-write, not atomic. ``register`` walks the graph
(unconditional Queries) and then writes in a transaction that does not re-check what it read.
Two registrations running at the same moment that each add one half of a cycle (A starts
waiting for B while B starts waiting for A) both pass the check and both commit. Nothing here
prevents that (two pipeline stacks deployed at once from different accounts can race). It
is left because registrations only happen on deploys, and ``dpc validate`` on an
organization directory rejects such a cycle before either is deployed. Closing it would
need a version on every registration item the walk visits, checked in the transaction
(ConditionCheck, 100 items at most), or a verify-and-roll-back after the write.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dpc.errors import DpcError
from dpc.lambdas.store_dynamodb import child_key, parse_ref, ref_key
from dpc.triggers.codec import condition_from_json, condition_to_json
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.periods import PeriodSpec

REGISTRATION_SK = "#REGISTRATION"
CHILD_PREFIX = "CHILD#"
REGISTRATION_KIND = "REGISTRATION"
MAX_TRANSACTION_ITEMS = 100


class CycleError(DpcError):
    """The registration would make a pipeline (indirectly) wait for itself."""


@dataclass(frozen=True)
class Registration:
    pipeline: ParentRef
    state_machine_arn: str
    condition: Condition | None = None
    schedule: str | None = None
    period: PeriodSpec | None = None
    """The pipeline's ``period: {unit, offset}`` (§5b); None for a registration made before
    periods were registered (its item has no ``period``)."""


def pipeline_partition(ref: ParentRef) -> str:
    return f"PIPELINE#{ref_key(ref)}"


@dataclass(frozen=True)
class DynamoDbRegistry:
    table: str
    client: Any
    state_table: str | None = None
    """When given, a (re-)registration with a changed condition forgets the child's §5 state."""

    def lookup(
        self, ref: ParentRef
    ) -> tuple[Registration | None, list[tuple[ParentRef, Condition]]]:
        """The pipeline's registration and its children with their conditions: one Query
        (more pages only past DynamoDB's 1 MB page size, i.e. thousands of children)."""
        registration: Registration | None = None
        children: list[tuple[ParentRef, Condition]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pipeline_partition(ref)}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**request)
            for item in page["Items"]:
                sort_key = item["sk"]["S"]
                if sort_key == REGISTRATION_SK:
                    registration = self._registration(item)
                elif sort_key.startswith(CHILD_PREFIX):
                    child = parse_ref(sort_key.removeprefix(CHILD_PREFIX))
                    children.append(
                        (child, condition_from_json(json.loads(item["condition"]["S"])))
                    )
            if "LastEvaluatedKey" not in page:
                return registration, children
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, ref: ParentRef) -> Registration | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": pipeline_partition(ref)}, "sk": {"S": REGISTRATION_SK}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else self._registration(item)

    @staticmethod
    def _registration(item: dict[str, Any]) -> Registration:
        condition = item.get("condition", {}).get("S")
        period = item.get("period", {}).get("S")
        return Registration(
            pipeline=ParentRef(item["name"]["S"], item["account"]["S"]),
            state_machine_arn=item["state_machine_arn"]["S"],
            condition=None if condition is None else condition_from_json(json.loads(condition)),
            schedule=item.get("schedule", {}).get("S"),
            period=None if period is None else PeriodSpec.from_json(json.loads(period)),
        )

    def children_of(self, ref: ParentRef) -> list[ParentRef]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :child)",
            "ExpressionAttributeValues": {
                ":pk": {"S": pipeline_partition(ref)},
                ":child": {"S": CHILD_PREFIX},
            },
            "ProjectionExpression": "sk",
        }
        children: list[ParentRef] = []
        while True:
            page = self.client.query(**request)
            children += [parse_ref(i["sk"]["S"].removeprefix(CHILD_PREFIX)) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return children
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def find_cycle(self, ref: ParentRef, parents: tuple[ParentRef, ...]) -> list[ParentRef] | None:
        """The path ref → ... → parent → ref that registering ``parents`` would close, if any."""
        if ref in parents:
            return [ref, ref]
        wanted = set(parents)
        came_from: dict[ParentRef, ParentRef] = {}
        queue = deque([ref])
        while queue:
            node = queue.popleft()
            for child in self.children_of(node):
                if child in came_from or child == ref:
                    continue
                came_from[child] = node
                if child in wanted:
                    path = [child]
                    while path[-1] != ref:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), ref]
                queue.append(child)
        return None

    def register(self, registration: Registration) -> None:
        """Refuses a registration that closes a cycle in the registry as it is read now (see
        the module docstring for the concurrent case this does not cover)."""
        ref = registration.pipeline
        condition = registration.condition
        parents = condition.parents if condition is not None else ()
        cycle = self.find_cycle(ref, parents)
        if cycle is not None:
            raise CycleError(
                f"registering {ref} would close a dependency cycle: "
                + " → ".join(str(r) for r in cycle)
            )
        previous = self.get(ref)
        previous_parents = (
            previous.condition.parents if previous and previous.condition is not None else ()
        )
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": item}} for item in self.items(registration)
        ]
        for parent in set(previous_parents) - set(parents):
            writes.append({"Delete": {"TableName": self.table, "Key": self._edge_key(parent, ref)}})
        changed = previous is None or previous.condition != condition
        if self.state_table is not None and changed:
            writes.append({"Delete": {"TableName": self.state_table, "Key": child_key(ref)}})
        if len(writes) > MAX_TRANSACTION_ITEMS:
            raise DpcError(f"{ref}: too many parents to register at once ({len(parents)})")
        self.client.transact_write_items(TransactItems=writes)

    def items(self, registration: Registration) -> list[dict[str, Any]]:
        """The registration item and one edge per parent (bulk loads write these directly)."""
        ref, condition = registration.pipeline, registration.condition
        parents = condition.parents if condition is not None else ()
        condition_json = None if condition is None else json.dumps(condition_to_json(condition))
        item: dict[str, Any] = {
            "pk": {"S": pipeline_partition(ref)},
            "sk": {"S": REGISTRATION_SK},
            "kind": {"S": REGISTRATION_KIND},
            "name": {"S": ref.name},
            "account": {"S": ref.account},
            "state_machine_arn": {"S": registration.state_machine_arn},
            "parents": {"L": [{"S": ref_key(p)} for p in parents]},
            "updated_at": {"S": datetime.now(UTC).isoformat()},
        }
        if condition_json is not None:
            item["condition"] = {"S": condition_json}
        if registration.schedule is not None:
            item["schedule"] = {"S": registration.schedule}
        if registration.period is not None:
            item["period"] = {"S": json.dumps(registration.period.to_json())}
        return [item, *(self._edge(parent, ref, condition_json) for parent in parents)]

    def deregister(self, ref: ParentRef) -> bool:
        """Forget the pipeline and its edges (not its children's edges: they are theirs)."""
        previous = self.get(ref)
        if previous is None:
            return False
        parents = previous.condition.parents if previous.condition is not None else ()
        writes: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": pipeline_partition(ref)}, "sk": {"S": REGISTRATION_SK}},
                }
            }
        ]
        writes += [
            {"Delete": {"TableName": self.table, "Key": self._edge_key(p, ref)}} for p in parents
        ]
        if self.state_table is not None:
            writes.append({"Delete": {"TableName": self.state_table, "Key": child_key(ref)}})
        self.client.transact_write_items(TransactItems=writes)
        return True

    @staticmethod
    def _edge_key(parent: ParentRef, child: ParentRef) -> dict[str, Any]:
        return {"pk": {"S": pipeline_partition(parent)}, "sk": {"S": CHILD_PREFIX + ref_key(child)}}

    def _edge(
        self, parent: ParentRef, child: ParentRef, condition_json: str | None
    ) -> dict[str, Any]:
        return {
            **self._edge_key(parent, child),
            "child_name": {"S": child.name},
            "child_account": {"S": child.account},
            "condition": {"S": condition_json or "{}"},
        }
