"""The dependency registry behind the dependency-management API (dependencies publisher)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.dependencies_publisher import DependenciesPublisher
from dpc.lambdas.registry import CycleError, DependentNotAllowedError, Registration
from dpc.triggers.codec import condition_from_json, condition_to_json
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec

EVENTS = Path(__file__).parent / "events"
LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
X = ParentRef("pipeline-x", "333333333333")


@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCentral]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))


@pytest.fixture
def api(central: LocalCentral) -> DependenciesPublisher:
    return DependenciesPublisher(central.registry)


def request(
    method: str, ref: ParentRef, caller: str, condition: Condition | None = None, **body: Any
) -> dict[str, Any]:
    event = json.loads((EVENTS / "api_put_pipeline_x.json").read_text())
    event["httpMethod"] = method
    event["path"] = f"/pipelines/{ref.account}/{ref.name}"
    event["pathParameters"] = {"account": ref.account, "name": ref.name}
    event["requestContext"]["identity"]["accountId"] = caller
    payload = {
        "stateMachineArn": state_machine_arn(ref),
        "condition": None if condition is None else condition_to_json(condition),
        **body,
    }
    event["body"] = json.dumps(payload) if method == "PUT" else None
    return event


def depends_on(*parents: ParentRef) -> Condition:
    return Condition(all_of=tuple(Item(p, frozenset({"SUCCEEDED"})) for p in parents))


def test_the_sample_request_registers_pipeline_x_as_a_child_of_both_parents(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    sample = json.loads((EVENTS / "api_put_pipeline_x.json").read_text())
    response = api.handle(sample)
    assert response["statusCode"] == 200
    registration, children = central.registry.lookup(LISTINGS)
    assert registration is None  # listings itself is not registered yet
    [(child, condition)] = children
    assert child == X
    assert condition_to_json(condition) == json.loads(sample["body"])["condition"]
    assert central.registry.lookup(SEARCHES)[1] == [(X, condition)]


def test_parent_and_children_come_back_in_one_query(central: LocalCentral) -> None:
    central.register(LISTINGS)
    for number in range(30):
        central.register(ParentRef(f"child-{number}", "333333333333"), depends_on(LISTINGS))
    calls: list[str] = []
    central.dynamodb.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    registration, children = central.registry.lookup(LISTINGS)
    assert registration is not None and registration.pipeline == LISTINGS
    assert len(children) == 30
    assert calls == ["Query"]


def test_an_account_cannot_register_another_accounts_pipeline(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    response = api.handle(request("PUT", X, caller="111111111111", condition=depends_on(LISTINGS)))
    assert response["statusCode"] == 403
    assert central.registry.get(X) is None


def test_a_state_machine_of_another_account_is_refused(api: DependenciesPublisher) -> None:
    forged = request("PUT", X, caller=X.account, stateMachineArn=state_machine_arn(LISTINGS))
    assert api.handle(forged)["statusCode"] == 400


def test_a_registration_closing_a_cycle_is_refused_and_named(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    a, b, c = (ParentRef(n, "111111111111") for n in ("a", "b", "c"))
    assert api.handle(request("PUT", b, "111111111111", depends_on(a)))["statusCode"] == 200
    assert api.handle(request("PUT", c, "111111111111", depends_on(b)))["statusCode"] == 200
    response = api.handle(request("PUT", a, "111111111111", depends_on(c)))
    assert response["statusCode"] == 409
    assert json.loads(response["body"])["message"] == (
        "registering a@111111111111 would close a dependency cycle: "
        "a@111111111111 → b@111111111111 → c@111111111111 → a@111111111111"
    )
    assert central.registry.lookup(c)[1] == []


def test_an_update_moves_the_edges_and_a_delete_removes_them(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    api.handle(request("PUT", X, X.account, depends_on(LISTINGS, SEARCHES)))
    api.handle(request("PUT", X, X.account, depends_on(SEARCHES)))
    assert central.registry.lookup(LISTINGS)[1] == []
    assert [child for child, _ in central.registry.lookup(SEARCHES)[1]] == [X]
    assert api.handle(request("DELETE", X, X.account))["statusCode"] == 200
    assert central.registry.lookup(SEARCHES)[1] == []
    assert api.handle(request("DELETE", X, X.account))["statusCode"] == 404


def test_a_malformed_condition_is_a_400_naming_the_field(api: DependenciesPublisher) -> None:
    event = request("PUT", X, X.account)
    body = json.loads(event["body"])
    body["condition"] = {"allOf": [{"name": "listings", "account": "42", "status": ["SUCCESS"]}]}
    event["body"] = json.dumps(body)
    response = api.handle(event)
    assert response["statusCode"] == 400
    assert "condition.allOf[0].account" in json.loads(response["body"])["message"]


def test_condition_json_round_trips_and_accepts_success_spelling() -> None:
    data = {
        "allOf": [{"name": "listings", "account": "111111111111", "status": ["SUCCESS"]}],
        "anyOf": [{"name": "searches", "account": "222222222222", "status": ["FAILED"]}],
        "operator": "OR",
        "withinSeconds": 86400,
        "reset": {"cron": "0 0 * * ? *"},
    }
    condition = condition_from_json(data)
    assert condition.all_of[0].statuses == {"SUCCEEDED"}
    assert condition_from_json(condition_to_json(condition)) == condition


def test_the_period_spec_is_registered_and_read_back(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    # Given pipeline-x registered with its period (the 03:00 run processes yesterday)
    period = PeriodSpec("day", timedelta(days=-1))
    response = api.handle(request("PUT", X, X.account, period=period.to_json()))
    # Then the API answers with it and the registry reads it back
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["period"] == {"unit": "day", "offsetSeconds": -86400}
    registration = central.registry.get(X)
    assert registration is not None and registration.period == period


def test_a_registration_from_before_periods_reads_back_without_one(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    # Given a stack synthesized before periods (its body has no period)
    assert api.handle(request("PUT", X, X.account))["statusCode"] == 200
    item = central.dynamodb.get_item(
        TableName=central.registry.table,
        Key={"pk": {"S": "PIPELINE#pipeline-x@333333333333"}, "sk": {"S": "#REGISTRATION"}},
    )["Item"]
    # Then its item has no period, and reading it gives None rather than an error
    assert "period" not in item
    registration = central.registry.get(X)
    assert registration is not None and registration.period is None


def test_a_malformed_period_is_a_400(api: DependenciesPublisher, central: LocalCentral) -> None:
    response = api.handle(request("PUT", X, X.account, period={"unit": "fortnight"}))
    assert response["statusCode"] == 400
    assert "period" in json.loads(response["body"])["message"]
    assert central.registry.get(X) is None


def test_a_parent_at_its_dependents_limit_refuses_one_more_child_with_a_409(
    central: LocalCentral,
) -> None:
    # Given a registry whose per-parent limit is 3 (10,000 in production)
    api = DependenciesPublisher(replace(central.registry, max_children_per_parent=3))
    children = [ParentRef(f"child-{n}", "333333333333") for n in range(4)]
    for child in children[:3]:
        assert (
            api.handle(request("PUT", child, child.account, depends_on(LISTINGS)))["statusCode"]
            == 200
        )
    # When a fourth child starts waiting for listings
    response = api.handle(request("PUT", children[3], children[3].account, depends_on(LISTINGS)))
    # Then it is refused with one line that names the parent and the limit (the registration
    # provider hands it to CloudFormation as the reason `dpc deploy` prints)
    assert response["statusCode"] == 409
    message = json.loads(response["body"])["message"]
    assert message == (
        "child-3@333333333333 cannot wait for listings@111111111111: it already has 3 "
        "dependents, the most a pipeline may have (3)"
    )
    assert central.registry.get(children[3]) is None
    # while a child already counted may still change its condition, and a freed place is taken
    changed = request("PUT", children[0], children[0].account, depends_on(LISTINGS, SEARCHES))
    assert api.handle(changed)["statusCode"] == 200
    assert api.handle(request("DELETE", children[1], children[1].account))["statusCode"] == 200
    retried = api.handle(request("PUT", children[3], children[3].account, depends_on(LISTINGS)))
    assert retried["statusCode"] == 200


def test_two_registrations_racing_to_close_a_cycle_cannot_both_pass(
    central: LocalCentral,
) -> None:
    a, b = ParentRef("a", "111111111111"), ParentRef("b", "222222222222")
    # Another deploy, on its own connection, registers "b waits for a" ...
    other = replace(central.registry, client=boto3.client("dynamodb"))
    interleaved: list[str] = []

    def meanwhile(**_: Any) -> None:
        if not interleaved:
            interleaved.append("b waits for a")
            other.register(Registration(b, state_machine_arn(b), depends_on(a)))

    # ... after "a waits for b" has checked the graph and before it commits
    central.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", meanwhile)
    with pytest.raises(CycleError) as refused:
        central.registry.register(Registration(a, state_machine_arn(a), depends_on(b)))
    # Then the one that lost the race read again, saw the other's edge, and refused the cycle
    assert interleaved == ["b waits for a"]
    assert str(refused.value) == (
        "registering a@111111111111 would close a dependency cycle: "
        "a@111111111111 → b@222222222222 → a@111111111111"
    )
    assert central.registry.lookup(b)[1] == []
    assert [child for child, _ in central.registry.lookup(a)[1]] == [b]


# Who may depend on whom (issue 12, item 3): `dependents: {accounts: [...]}` of pipeline.yaml.
OTHER = ParentRef("other", "444444444444")


def dependents(*accounts: str) -> dict[str, Any]:
    return {"dependents": {"accounts": list(accounts)}}


def message(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["message"])


def test_a_child_from_an_account_the_parent_does_not_list_is_refused_with_a_403(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    # Given listings accepting dependents from account 222222222222 only
    listed = api.handle(request("PUT", LISTINGS, LISTINGS.account, **dependents(SEARCHES.account)))
    assert listed["statusCode"] == 200
    # When pipeline-x (account 333333333333) starts waiting for listings
    response = api.handle(request("PUT", X, X.account, depends_on(LISTINGS)))
    # Then it is refused with one line saying who decides, and nothing is registered
    assert response["statusCode"] == 403
    assert message(response) == (
        "pipeline-x@333333333333 cannot wait for listings@111111111111: listings@111111111111 "
        "does not accept dependents from account 333333333333; its owners can add it to "
        "dependents.accounts"
    )
    assert central.registry.get(X) is None
    assert central.registry.lookup(LISTINGS)[1] == []


def test_listed_accounts_and_the_parents_own_account_may_depend_on_it(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    # Given listings accepting only searches' account (its own account always may)
    api.handle(request("PUT", LISTINGS, LISTINGS.account, **dependents(SEARCHES.account)))
    same_account = ParentRef("listings-daily", LISTINGS.account)
    for child in (SEARCHES, same_account):
        response = api.handle(request("PUT", child, child.account, depends_on(LISTINGS)))
        assert response["statusCode"] == 200, message(response)
    assert {child for child, _ in central.registry.lookup(LISTINGS)[1]} == {SEARCHES, same_account}
    # And the list reads back from the registry
    registration = central.registry.get(LISTINGS)
    assert registration is not None and registration.dependents == frozenset({SEARCHES.account})


def test_without_dependents_every_account_that_may_call_the_api_may_depend(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    api.handle(request("PUT", LISTINGS, LISTINGS.account))
    assert api.handle(request("PUT", X, X.account, depends_on(LISTINGS)))["statusCode"] == 200
    registration = central.registry.get(LISTINGS)
    assert registration is not None and registration.dependents is None


def test_a_parent_cannot_narrow_its_list_past_children_already_registered(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    # Given pipeline-x and other waiting for listings, which accepts every account
    api.handle(request("PUT", LISTINGS, LISTINGS.account))
    api.handle(request("PUT", X, X.account, depends_on(LISTINGS)))
    api.handle(request("PUT", OTHER, OTHER.account, depends_on(LISTINGS)))
    # When listings' owners narrow dependents to searches' account
    response = api.handle(request("PUT", LISTINGS, LISTINGS.account, **dependents("222222222222")))
    # Then the deploy is refused naming the children it would cut off; nothing changed
    assert response["statusCode"] == 409
    assert message(response) == (
        "listings@111111111111: dependents.accounts leaves out pipelines that wait for it: "
        "other@444444444444, pipeline-x@333333333333; list their accounts, or deploy again "
        "once their owners removed listings@111111111111 from their trigger"
    )
    registration = central.registry.get(LISTINGS)
    assert registration is not None and registration.dependents is None
    assert {child for child, _ in central.registry.lookup(LISTINGS)[1]} == {X, OTHER}
    # While listing their accounts is accepted
    both = dependents(X.account, OTHER.account)
    assert api.handle(request("PUT", LISTINGS, LISTINGS.account, **both))["statusCode"] == 200


def test_a_child_registered_before_its_parent_is_decided_by_the_parents_registration(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    # Given pipeline-x registered while listings is not (yet)
    assert api.handle(request("PUT", X, X.account, depends_on(LISTINGS)))["statusCode"] == 200
    # When listings registers with a list that leaves out pipeline-x's account
    narrow = api.handle(request("PUT", LISTINGS, LISTINGS.account, **dependents("222222222222")))
    # Then listings is refused and named the child
    assert narrow["statusCode"] == 409
    assert "pipeline-x@333333333333" in message(narrow)
    assert central.registry.get(LISTINGS) is None


def test_a_parent_narrowing_while_a_child_registers_cannot_both_pass(
    central: LocalCentral,
) -> None:
    # Given listings accepting every account
    central.registry.register(Registration(LISTINGS, state_machine_arn(LISTINGS)))
    other = replace(central.registry, client=boto3.client("dynamodb"))
    interleaved: list[str] = []

    def meanwhile(**_: Any) -> None:
        if not interleaved:
            interleaved.append("listings narrows")
            other.register(
                Registration(
                    LISTINGS, state_machine_arn(LISTINGS), dependents=frozenset({"222222222222"})
                )
            )

    # When listings narrows its list after pipeline-x's registration checked it, before commit
    central.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", meanwhile)
    with pytest.raises(DependentNotAllowedError):
        central.registry.register(Registration(X, state_machine_arn(X), depends_on(LISTINGS)))
    # Then pipeline-x read again, saw the narrowed list and was refused: no edge slipped in
    assert interleaved == ["listings narrows"]
    assert central.registry.lookup(LISTINGS)[1] == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"accounts": ["42"]}, "dependents.accounts[0]: expected a 12-digit account id"),
        ({"accounts": "333333333333"}, "dependents.accounts: expected a list of account ids"),
        (["333333333333"], "dependents: expected {accounts: [12-digit account ids]}"),
        ({"accounts": [], "teams": []}, "dependents: unknown field(s) teams"),
    ],
)
def test_malformed_dependents_are_a_400_naming_the_field(
    api: DependenciesPublisher, central: LocalCentral, value: Any, expected: str
) -> None:
    response = api.handle(request("PUT", LISTINGS, LISTINGS.account, dependents=value))
    assert response["statusCode"] == 400
    assert message(response) == expected
    assert central.registry.get(LISTINGS) is None


def test_one_account_cannot_take_every_place_of_a_parent(central: LocalCentral) -> None:
    # Given at most 2 dependents per account on one parent (1,000 in production)
    api = DependenciesPublisher(replace(central.registry, max_children_per_account=2))
    mine = [ParentRef(f"child-{n}", "333333333333") for n in range(3)]
    for child in mine[:2]:
        assert (
            api.handle(request("PUT", child, child.account, depends_on(LISTINGS)))["statusCode"]
            == 200
        )
    # When a third pipeline of the same account starts waiting for listings
    response = api.handle(request("PUT", mine[2], mine[2].account, depends_on(LISTINGS)))
    # Then it is refused, while another account still finds room
    assert response["statusCode"] == 409
    assert message(response) == (
        "child-2@333333333333 cannot wait for listings@111111111111: account 333333333333 "
        "already has 2 pipelines waiting for it, the most one account may have (2)"
    )
    assert (
        api.handle(request("PUT", OTHER, OTHER.account, depends_on(LISTINGS)))["statusCode"] == 200
    )


def test_a_deadline_is_registered_and_read_back_and_a_bad_one_is_a_400(
    api: DependenciesPublisher, central: LocalCentral
) -> None:
    response = api.handle(request("PUT", SEARCHES, SEARCHES.account, expect="06:00"))
    assert response["statusCode"] == 200 and json.loads(response["body"])["expect"] == "06:00"
    registration = central.registry.get(SEARCHES)
    assert registration is not None and str(registration.expect) == "06:00"
    bad = api.handle(request("PUT", SEARCHES, SEARCHES.account, expect="6am"))
    assert bad["statusCode"] == 400
    assert message(bad).startswith("expect: '6am' is neither a UTC time of day")
