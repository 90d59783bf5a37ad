"""The DESIGN §1 case study as models, with real script files (the stacks ship them as assets).

Built from the models directly so the infrastructure tests do not depend on the YAML loader.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dpc.spec.model import (
    Cluster,
    InstanceGroup,
    Notifications,
    NotificationTarget,
    Pipeline,
    Schedule,
    Step,
    Trigger,
)
from dpc.triggers.model import Condition, Item, ParentRef

ACCOUNT_A, ACCOUNT_B, ACCOUNT_C = "111111111111", "222222222222", "333333333333"
CENTRAL_ACCOUNT = "999999999999"
USER_ACCOUNTS = (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C)


def write_project(root: Path, name: str, files: dict[str, str]) -> Path:
    project = root / name
    for relative, content in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return project


def case_study(root: Path) -> tuple[Pipeline, Pipeline, Pipeline]:
    listings_dir = write_project(root, "listings", {"jobs/listings.py": "print('listings')\n"})
    searches_dir = write_project(
        root, "searches", {"scripts/searches.sh": "#!/bin/sh\necho searches\n"}
    )
    x_dir = write_project(
        root,
        "pipeline-x",
        {
            "jobs/aggregate.py": "print('aggregate')\n",
            "scripts/export.sh": "#!/bin/sh\necho export\n",
        },
    )
    listings = Pipeline(
        name="listings",
        account=ACCOUNT_A,
        steps=(Step("listings", "spark", "jobs/listings.py"),),
        trigger=Trigger(schedule=Schedule("cron(0 3 * * ? *)")),
        project_dir=listings_dir,
    )
    searches = Pipeline(
        name="searches",
        account=ACCOUNT_B,
        steps=(Step("searches", "shell", "scripts/searches.sh"),),
        trigger=Trigger(schedule=Schedule("cron(0 5 * * ? *)")),
        project_dir=searches_dir,
    )
    pipeline_x = Pipeline(
        name="pipeline-x",
        account=ACCOUNT_C,
        description="Metric X from listings and searches",
        steps=(
            Step("aggregate", "spark", "jobs/aggregate.py", ("--day", "yesterday")),
            Step("export", "shell", "scripts/export.sh"),
        ),
        trigger=Trigger(
            executions=Condition(
                all_of=(
                    Item(ParentRef("listings", ACCOUNT_A), frozenset({"SUCCEEDED"})),
                    Item(ParentRef("searches", ACCOUNT_B), frozenset({"SUCCEEDED"})),
                ),
                within=timedelta(hours=24),
            )
        ),
        cluster=Cluster("emr-7.5.0", InstanceGroup("m5.xlarge"), InstanceGroup("m5.xlarge", 2)),
        notifications=Notifications(
            "ON_FAILURE",
            (
                NotificationTarget("EMAIL", ("team@example.com",)),
                NotificationTarget("SLACK", ("data-pipeline-alerts",)),
            ),
        ),
        timeout=timedelta(hours=6),
        tags={"team": "rent-journey"},
        project_dir=x_dir,
    )
    return listings, searches, pipeline_x
