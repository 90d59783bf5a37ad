"""The dependency registry on DynamoDB: which pipelines exist, and who waits for whom.

Item shapes are in dpc.lambdas.tables (Dependencies). The one design choice that matters:
a child's edge lives in its *parent's* partition, next to the parent's registration, and
carries the child's condition — so the trigger manager reads "is this state machine a
registered pipeline of this account, and which children with which conditions wait for it"
with ONE Query, whatever the organization's size.

Registrations are serialized by optimistic concurrency: every ``register`` reads the
registry version (item pk "#REGISTRY", sk "#VERSION") before it walks the graph with
strongly consistent reads, and commits its edges in ONE TransactWriteItems together with
"version = what I read, +1". Two registrations that read the same graph (A starts waiting
for B while B starts waiting for A, deployed at once from two accounts) cannot both
commit: the loser's transaction is cancelled, it reads again, sees the other's edge and
refuses the cycle. Registrations happen on deploys only, so one version for the whole
registry costs nothing worth a finer lock. The same guard makes the per-parent dependents
limit (``MAX_CHILDREN_PER_PARENT``, counted with a consistent Query) exact.

Who may depend on whom (issue 12, item 3). A registration may carry ``dependents``: the
accounts whose pipelines may wait for it (pipeline.yaml ``dependents: {accounts: [...]}``);
None, the default, admits every account that may call the dependency API at all — the
central API's policy admits exactly the accounts of the organization. The pipeline's own
account is always admitted. Both orders are checked inside the same optimistic transaction,
so a child and a parent deploying at once cannot slip an edge past a list:

- a child whose account a registered parent does not admit is refused
  (``DependentNotAllowedError``, the API's 403); a parent not registered yet admits anyone
  for now, and its own registration decides later, as for cycles;
- a parent whose (new) list leaves out the account of a child already registered is refused,
  naming those children (``DependentsNarrowedError``, 409). The alternative — keep the edges
  and have the trigger manager stop delivering to them — would make another team's pipeline
  silently stop running, noticed only by the data it no longer produces. Refusing the
  parent's deploy changes nothing until the owners on both sides have acted (the child drops
  the parent from its trigger, or the parent lists its account), and says whom to talk to.
  A child that must go against its owners' will is the central operators' call
  (deregistering it), not a side effect of a parent's deploy.

One account may also hold at most ``MAX_CHILDREN_PER_ACCOUNT_PER_PARENT`` of a parent's
places, so a parent that keeps the default cannot be filled up by one account.

Re-registering a child with a changed condition resets what its state knows about the old
condition's parents, in the same transaction, and keeps its outbox: a trigger recorded but
not yet published is still published (by the next event or the outbox sweep).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from dpc.constants import MAX_CHILDREN_PER_ACCOUNT_PER_PARENT, MAX_CHILDREN_PER_PARENT
from dpc.errors import DpcError
from dpc.lambdas.store_dynamodb import (
    BATCH_GET_KEYS,
    child_key,
    forget_condition_write,
    parse_ref,
    ref_key,
)
from dpc.triggers.codec import condition_from_json, condition_to_json
from dpc.triggers.deadlines import Expect, parse_expect
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.periods import PeriodSpec

REGISTRATION_SK = "#REGISTRATION"
CHILD_PREFIX = "CHILD#"
REGISTRATION_KIND = "REGISTRATION"
MAX_TRANSACTION_ITEMS = 100
VERSION_KEY = {"pk": {"S": "#REGISTRY"}, "sk": {"S": "#VERSION"}}
REGISTER_ATTEMPTS = 8
"""Lost races before a registration gives up (each loser re-reads and usually wins next)."""


class CycleError(DpcError):
    """The registration would make a pipeline (indirectly) wait for itself."""


class TooManyChildrenError(DpcError):
    """A parent already has the most dependents a pipeline may have."""


class DependentNotAllowedError(DpcError):
    """The parent does not accept dependents from the child's account (its ``dependents``)."""


class DependentsNarrowedError(DpcError):
    """The parent's ``dependents`` leaves out children already registered (module docstring)."""


class TooManyParentsError(DpcError):
    """More parents than one DynamoDB transaction can register (a 400: bad input)."""


class RegistryBusyError(DpcError):
    """Concurrent registrations kept changing the registry; deploying again will do."""


@dataclass(frozen=True)
class Registration:
    pipeline: ParentRef
    state_machine_arn: str
    condition: Condition | None = None
    schedule: str | None = None
    period: PeriodSpec | None = None
    """The pipeline's ``period: {unit, offset}`` (§5b); None for a registration made before
    periods were registered (its item has no ``period``)."""
    dependents: frozenset[str] | None = None
    """Accounts whose pipelines may wait for this one, besides its own; None: every account
    that may call the dependency API (a registration made before this field: its item has
    no ``dependents``)."""
    expect: Expect | None = None
    """When a period's data is due (pipeline.yaml ``expect.by``), for `dpc status`."""

    def admits(self, account: str) -> bool:
        """May a pipeline of ``account`` wait for this one?"""
        return (
            self.dependents is None
            or account == self.pipeline.account
            or account in self.dependents
        )


def pipeline_partition(ref: ParentRef) -> str:
    return f"PIPELINE#{ref_key(ref)}"


@dataclass(frozen=True)
class DynamoDbRegistry:
    table: str
    client: Any
    state_table: str | None = None
    """When given, a (re-)registration with a changed condition resets the child's §5 state
    (keeping its outbox) and a deregistration deletes it."""
    max_children_per_parent: int = MAX_CHILDREN_PER_PARENT
    max_children_per_account: int = MAX_CHILDREN_PER_ACCOUNT_PER_PARENT

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

    def conditions_of(
        self, parent: ParentRef, children: Sequence[ParentRef]
    ) -> list[tuple[ParentRef, Condition]]:
        """The named children of ``parent`` with their conditions, in strongly consistent
        batches of 100 (a fan-out chunk); a child no longer registered is left out."""
        keys = [self._edge_key(parent, child) for child in dict.fromkeys(children)]
        found: list[tuple[ParentRef, Condition]] = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + BATCH_GET_KEYS], "ConsistentRead": True}
            }
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    child = parse_ref(item["sk"]["S"].removeprefix(CHILD_PREFIX))
                    found.append((child, condition_from_json(json.loads(item["condition"]["S"]))))
                request = answer.get("UnprocessedKeys") or {}
        return found

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
        dependents = item.get("dependents", {}).get("L")
        return Registration(
            pipeline=ParentRef(item["name"]["S"], item["account"]["S"]),
            state_machine_arn=item["state_machine_arn"]["S"],
            condition=None if condition is None else condition_from_json(json.loads(condition)),
            schedule=item.get("schedule", {}).get("S"),
            period=None if period is None else PeriodSpec.from_json(json.loads(period)),
            dependents=None if dependents is None else frozenset(a["S"] for a in dependents),
            expect=parse_expect(item["expect"]["S"]) if "expect" in item else None,
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
            "ConsistentRead": True,
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
        """Refuses a registration that closes a cycle, takes a parent past a dependents limit,
        waits for a parent that does not admit its account, or narrows its own ``dependents``
        past children already registered — atomically with respect to concurrent
        registrations (module docstring)."""
        for _ in range(REGISTER_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=self._writes(registration))
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if not {"ConditionalCheckFailed", "TransactionConflict"} & set(reasons):
                    raise
        raise RegistryBusyError(
            f"{registration.pipeline}: the registry kept changing during "
            f"{REGISTER_ATTEMPTS} attempts (concurrent deploys); deploy again"
        )

    def _writes(self, registration: Registration) -> list[dict[str, Any]]:
        """The transaction registering ``registration`` on the registry as read now."""
        ref = registration.pipeline
        condition = registration.condition
        parents = condition.parents if condition is not None else ()
        version = self._version()
        cycle = self.find_cycle(ref, parents)
        if cycle is not None:
            raise CycleError(
                f"registering {ref} would close a dependency cycle: "
                + " → ".join(str(r) for r in cycle)
            )
        self._check_dependents(registration)
        previous = self.get(ref)
        previous_parents = (
            previous.condition.parents if previous and previous.condition is not None else ()
        )
        for parent in sorted(set(parents)):
            admitted_by = self.get(parent)
            if admitted_by is not None and not admitted_by.admits(ref.account):
                raise DependentNotAllowedError(
                    f"{ref} cannot wait for {parent}: {parent} does not accept dependents "
                    f"from account {ref.account}; its owners can add it to dependents.accounts"
                )
        for parent in sorted(set(parents) - set(previous_parents)):
            self._check_room(ref, parent)
        writes: list[dict[str, Any]] = [self._version_write(version)]
        writes += [{"Put": {"TableName": self.table, "Item": i}} for i in self.items(registration)]
        for parent in set(previous_parents) - set(parents):
            writes.append({"Delete": {"TableName": self.table, "Key": self._edge_key(parent, ref)}})
        changed = previous is None or previous.condition != condition
        if self.state_table is not None and changed:
            writes.append(forget_condition_write(self.state_table, ref, self._state_version(ref)))
        if len(writes) > MAX_TRANSACTION_ITEMS:
            fit = MAX_TRANSACTION_ITEMS - (len(writes) - len(parents))
            raise TooManyParentsError(
                f"condition: {len(parents)} parents; at most {fit} fit in one registration of "
                f"{ref} (one DynamoDB transaction)"
            )
        return writes

    def _check_dependents(self, registration: Registration) -> None:
        """A parent's list may not leave out a child already registered (module docstring)."""
        if registration.dependents is None:
            return
        ref = registration.pipeline
        cut_off = sorted(
            str(child) for child in self.children_of(ref) if not registration.admits(child.account)
        )
        if cut_off:
            shown = ", ".join(cut_off[:10]) + (
                f" and {len(cut_off) - 10} more" * (len(cut_off) > 10)
            )
            raise DependentsNarrowedError(
                f"{ref}: dependents.accounts leaves out pipelines that wait for it: {shown}; "
                f"list their accounts, or deploy again once their owners removed {ref} from "
                "their trigger"
            )

    def _check_room(self, ref: ParentRef, parent: ParentRef) -> None:
        """The parent's dependents limits, for ``ref`` about to become one more dependent:
        one consistent keys-only Query, counting all children and those of ``ref``'s account."""
        children = self.children_of(parent)
        if len(children) >= self.max_children_per_parent:
            raise TooManyChildrenError(
                f"{ref} cannot wait for {parent}: it already has {len(children)} dependents, "
                f"the most a pipeline may have ({self.max_children_per_parent})"
            )
        mine = sum(1 for child in children if child.account == ref.account)
        if mine >= self.max_children_per_account:
            raise TooManyChildrenError(
                f"{ref} cannot wait for {parent}: account {ref.account} already has {mine} "
                f"pipelines waiting for it, the most one account may have "
                f"({self.max_children_per_account})"
            )

    def _version(self) -> int:
        item = self.client.get_item(TableName=self.table, Key=VERSION_KEY, ConsistentRead=True).get(
            "Item"
        )
        return 0 if item is None else int(item["version"]["N"])

    def _version_write(self, read: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": VERSION_KEY,
                "UpdateExpression": "SET version = :next",
                "ConditionExpression": "attribute_not_exists(version) OR version = :read"
                if read == 0
                else "version = :read",
                "ExpressionAttributeValues": {
                    ":read": {"N": str(read)},
                    ":next": {"N": str(read + 1)},
                },
            }
        }

    def _state_version(self, ref: ParentRef) -> int | None:
        assert self.state_table is not None
        item = self.client.get_item(
            TableName=self.state_table,
            Key=child_key(ref),
            ConsistentRead=True,
            ProjectionExpression="version",
        ).get("Item")
        return None if item is None else int(item["version"]["N"])

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
        if registration.dependents is not None:
            item["dependents"] = {"L": [{"S": a} for a in sorted(registration.dependents)]}
        if registration.expect is not None:
            item["expect"] = {"S": str(registration.expect)}
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
