"""One pipeline: its state machine, its triggers, its registration and its notifications.

The state machine is self-describing, because the sandbox interprets the DEPLOYED ASL.
Its shape, for steps s1..sn::

    HasPeriod             Choice: $.dpc.period present → PrepareSteps, else WithoutPeriod
    WithoutPeriod         Pass: $.dpc = {"period": ""} (an execution started by hand)
    PrepareSteps          Pass: $.dpcStepArgs.<step> = States.Array(... $.dpc.period ...),
                          each built-in step's EMR arguments with the run's period
    CreateCluster         Task arn:aws:states:::elasticmapreduce:createCluster.sync
                          ResultPath $.cluster   (so $.cluster.ClusterId reaches the steps)
                          Catch States.ALL → PipelineFailed (no cluster to terminate)
    Step <s1.name>        Task arn:aws:states:::elasticmapreduce:addStep.sync
      ...                 Parameters.ClusterId.$ = $.cluster.ClusterId
    Step <sn.name>        Parameters.Step.HadoopJarStep: Jar "command-runner.jar",
                            Args.$ "$.dpcStepArgs.<step>", i.e.
                            spark: ["spark-submit", "--deploy-mode", "cluster",
                                    "--conf", "spark.yarn.appMasterEnv.DPC_PERIOD=<P>",
                                    "--conf", "spark.executorEnv.DPC_PERIOD=<P>",
                                    "s3://<assets bucket>/<key>", *args]
                            shell: ["bash", "-c", <fetch the script, run it with
                                    DPC_PERIOD=$0>, <P>, "s3://<assets bucket>/<key>", *args]
                          ActionOnFailure CONTINUE (the state machine decides), ResultPath null
                          Catch States.ALL → ResultPath $.error → TerminateAfterFailure
    TerminateCluster      Task arn:aws:states:::elasticmapreduce:terminateCluster.sync → Done
    Done                  Succeed
    TerminateAfterFailure Task terminateCluster.sync; Catch States.ALL → PipelineFailed
    PipelineFailed        Fail, ErrorPath $.error.Error, CausePath $.error.Cause (the caught
                          failure: a step's names the step)

Both rules (schedule, trigger) go through the pipeline's starter Lambda, which starts the
state machine with the §6 input ``{"dpc": {period, trigger_id, causes, rerun_of,
propagate}}`` under a deterministic name (dpc.lambdas.starter). The state
machine's ``TimeoutSeconds`` is the pipeline's ``timeout`` (status TIMED_OUT, which children
may depend on); a timed-out run cannot reach a Catch, so the cluster also carries an idle
auto-termination policy and ends itself once its running step is over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from aws_cdk import (
    Aws,
    CliCredentialsStackSynthesizer,
    CustomResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Tags,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from dpc import constants, naming
from dpc.infra import ids
from dpc.infra.alarms import (
    RULE_MAX_EVENT_AGE,
    RULE_RETRY_ATTEMPTS,
    OperatorAlarms,
    bound_async_retries,
    dead_letter_queue,
)
from dpc.infra.lambda_code import dpc_function
from dpc.infra.nag import suppress
from dpc.infra.stack_options import StackOptions
from dpc.infra.user import DISK_KEY_USE, artifacts_bucket_name, assets_bucket_name
from dpc.spec.model import ClusterNetwork, Pipeline, Step
from dpc.triggers.codec import condition_to_json

CLUSTER_IDLE_TIMEOUT = Duration.minutes(15)
SPARK_SUBMIT = ("spark-submit", "--deploy-mode", "cluster")


def state_machine_name(pipeline_name: str) -> str:
    return f"{constants.STATE_MACHINE_PREFIX}{pipeline_name}"


def pipeline_stack_name(pipeline_name: str) -> str:
    return f"{ids.PIPELINE_STACK_PREFIX}{pipeline_name}"


def step_state_name(step: Step) -> str:
    return naming.step_state_name(step.name)


class StepScripts(Construct):
    """Each distinct step script as a file asset in the dpc assets bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, pipeline: Pipeline) -> None:
        super().__init__(scope, construct_id)
        self.urls: dict[str, str] = {}
        for index, script in enumerate(dict.fromkeys(step.script for step in pipeline.steps)):
            path = Path(pipeline.project_dir, script)
            asset = s3_assets.Asset(self, f"Script{index}", path=str(path))
            self.urls[script] = asset.s3_object_url


StepTask = Callable[[Construct, Step, str, str], sfn.TaskStateBase]
"""Builds the task of one step: (scope, step, cluster id JSONPath, script S3 URL) → task.
The state machine adds the Catch (terminate, then fail) and the ordering itself."""


PERIOD = sfn.JsonPath.string_at("$.dpc.period")
"""The run's period (§6 input), which every step gets as DPC_PERIOD."""
STEP_ARGS = "$.dpcStepArgs"
"""Where the ``PrepareSteps`` state puts each step's EMR arguments, period included: an EMR
task's Args cannot mix literals and JSONPath, a States.Array built before can."""
SHELL_WITH_PERIOD = (
    'set -e; script="$1"; shift; '
    'case "$script" in s3://*) aws s3 cp --quiet "$script" ./dpc-step.sh;; '
    '*) cp "$script" ./dpc-step.sh;; esac; '
    'DPC_PERIOD="$0" exec bash ./dpc-step.sh "$@"'
)
"""A shell step through command-runner.jar: fetch the script, run it with DPC_PERIOD set
(``bash -c SNIPPET <period> <script> <args…>``; script-runner.jar can set no environment)."""


def step_args_key(step: Step) -> str:
    return naming.step_args_key(step.name)


def period_args(step: Step, script_url: str) -> list[str]:
    """The EMR arguments of a built-in step type, with the run's period (a JSONPath)."""
    if step.type == "spark":
        return [
            *SPARK_SUBMIT,
            "--conf",
            sfn.JsonPath.format("spark.yarn.appMasterEnv.DPC_PERIOD={}", PERIOD),
            "--conf",
            sfn.JsonPath.format("spark.executorEnv.DPC_PERIOD={}", PERIOD),
            script_url,
            *step.args,
        ]
    return ["bash", "-c", SHELL_WITH_PERIOD, PERIOD, script_url, *step.args]


def spark_step(scope: Construct, step: Step, cluster_id: str, script_url: str) -> sfn.TaskStateBase:
    args = sfn.JsonPath.list_at(f"{STEP_ARGS}.{step_args_key(step)}")
    return emr_step(scope, step, cluster_id, "command-runner.jar", args)


def shell_step(scope: Construct, step: Step, cluster_id: str, script_url: str) -> sfn.TaskStateBase:
    args = sfn.JsonPath.list_at(f"{STEP_ARGS}.{step_args_key(step)}")
    return emr_step(scope, step, cluster_id, "command-runner.jar", args)


def emr_step(
    scope: Construct, step: Step, cluster_id: str, jar: str, args: Sequence[str]
) -> tasks.EmrAddStep:
    """An ``addStep.sync`` task named ``Step <name>`` (the name the execution tracker and
    the sandbox recognise), whose failure the state machine decides on."""
    return tasks.EmrAddStep(
        scope,
        naming.step_construct_id(step.name),
        state_name=step_state_name(step),
        cluster_id=cluster_id,
        name=step.name,
        jar=jar,
        args=args if isinstance(args, list) else list(args),
        action_on_failure=tasks.ActionOnFailure.CONTINUE,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        result_path=sfn.JsonPath.DISCARD,
    )


DEFAULT_STEP_TASKS: Mapping[str, StepTask] = {"spark": spark_step, "shell": shell_step}


class _Placement(TypedDict):
    emr_managed_master_security_group: str
    emr_managed_slave_security_group: str


class _PublicNetwork(_Placement):
    """The keyword arguments of ``EmrCreateCluster.InstancesConfigProperty`` _network sets."""

    ec2_subnet_id: str


class _PrivateNetwork(_PublicNetwork):
    service_access_security_group: str


def _network(network: ClusterNetwork) -> _PublicNetwork | _PrivateNetwork:
    """The cluster's subnet and EMR-managed security groups (from the user-account stack)."""
    placement: _Placement = {
        "emr_managed_master_security_group": Fn.import_value(ids.EXPORT_EMR_MASTER_SG),
        "emr_managed_slave_security_group": Fn.import_value(ids.EXPORT_EMR_CORE_SG),
    }
    if network == "public":
        return {"ec2_subnet_id": Fn.import_value(ids.EXPORT_EMR_PUBLIC_SUBNET), **placement}
    return {
        "ec2_subnet_id": Fn.import_value(ids.EXPORT_EMR_PRIVATE_SUBNET),
        "service_access_security_group": Fn.import_value(ids.EXPORT_EMR_SERVICE_ACCESS_SG),
        **placement,
    }


class PipelineClusterRole(Construct):
    """The role (and instance profile) of this pipeline's cluster nodes: they read this
    pipeline's scripts only and write only under its own prefixes, in this account's
    buckets only (``s3:ResourceAccount``: a bucket of the same name elsewhere is refused)."""

    def __init__(self, scope: Construct, construct_id: str, *, pipeline_name: str) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            path=ids.EMR_INSTANCE_ROLE_PATH,
            description=f"dpc pipeline {pipeline_name}: its EMR cluster nodes",
        )
        own_account = {"StringEquals": {"s3:ResourceAccount": Aws.ACCOUNT_ID}}
        assets = f"arn:{Aws.PARTITION}:s3:::{assets_bucket_name()}"
        artifacts = f"arn:{Aws.PARTITION}:s3:::{artifacts_bucket_name()}"
        scripts = ids.pipeline_assets_prefix(pipeline_name)
        writes = ids.pipeline_artifacts_prefixes(pipeline_name)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOwnStepScripts",
                actions=["s3:GetObject"],
                resources=[f"{assets}/{scripts}*"],
                conditions=own_account,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnOutputsAndLogs",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[f"{artifacts}/{prefix}*" for prefix in writes],
                conditions=own_account,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListOwnPrefixes",
                actions=["s3:ListBucket"],
                resources=[assets, artifacts],
                conditions={
                    **own_account,
                    "StringLike": {"s3:prefix": [f"{p}*" for p in (scripts, *writes)]},
                },
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTlsCertificates",
                actions=["s3:GetObject"],
                resources=[Fn.import_value(ids.EXPORT_EMR_TLS_CERTIFICATES)],
                conditions=own_account,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptLocalDisks",
                actions=list(DISK_KEY_USE),
                resources=[Fn.import_value(ids.EXPORT_EMR_DISK_KEY)],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadEmrScriptRunner",
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{Aws.REGION}.elasticmapreduce/libs/*"],
            )
        )
        # EMR names the cluster role by its instance profile: the two names are the same.
        self.profile = iam.CfnInstanceProfile(
            self,
            "InstanceProfile",
            instance_profile_name=self.role.role_name,
            path=ids.EMR_INSTANCE_ROLE_PATH,
            roles=[self.role.role_name],
        )
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "Script keys are content hashes and output keys are chosen by the steps at run "
            "time: the grants end at this pipeline's own prefixes; shell steps read EMR's "
            "script-runner.jar from the AWS-owned <region>.elasticmapreduce/libs/.",
            findings=[
                f"Resource::arn:<AWS::Partition>:s3:::dpc-assets-<AWS::AccountId>-<AWS::Region>/{scripts}*",
                *(
                    f"Resource::arn:<AWS::Partition>:s3:::dpc-artifacts-<AWS::AccountId>-<AWS::Region>/{prefix}*"
                    for prefix in writes
                ),
                "Resource::arn:<AWS::Partition>:s3:::<AWS::Region>.elasticmapreduce/libs/*",
            ],
        )


class PipelineStateMachine(Construct):
    """create cluster → steps in order → terminate; every failure terminates, then fails.

    ``step_tasks`` maps a step type to the function building its task: advanced users add
    their own types (samples/advanced) next to ``spark`` and ``shell``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        scripts: StepScripts,
        step_tasks: Mapping[str, StepTask] = DEFAULT_STEP_TASKS,
    ) -> None:
        super().__init__(scope, construct_id)
        name = pipeline.name
        service_role = iam.Role.from_role_name(
            self, "EmrServiceRole", ids.EMR_SERVICE_ROLE_NAME, mutable=False
        )
        self.cluster_role = PipelineClusterRole(self, "ClusterRole", pipeline_name=name)
        instance_role = iam.Role.from_role_name(
            self, "ClusterRoleAsBuilt", self.cluster_role.role.role_name, mutable=False
        )
        autoscaling_role = iam.Role.from_role_name(
            self, "EmrAutoScalingRole", ids.EMR_AUTOSCALING_ROLE_NAME, mutable=False
        )
        cluster = pipeline.cluster
        create = tasks.EmrCreateCluster(
            self,
            "CreateCluster",
            state_name="CreateCluster",
            name=state_machine_name(name),
            release_label=cluster.release,
            applications=[tasks.EmrCreateCluster.ApplicationConfigProperty(name="Spark")],
            service_role=service_role,
            cluster_role=instance_role,
            auto_scaling_role=autoscaling_role,
            log_uri=f"s3://{artifacts_bucket_name()}/{ids.pipeline_artifacts_prefixes(name)[1]}",
            visible_to_all_users=True,
            security_configuration=ids.EMR_SECURITY_CONFIGURATION_NAME,
            auto_termination_policy_idle_timeout=CLUSTER_IDLE_TIMEOUT,
            instances=tasks.EmrCreateCluster.InstancesConfigProperty(
                **_network(cluster.network),
                instance_groups=[
                    tasks.EmrCreateCluster.InstanceGroupConfigProperty(
                        name="Primary",
                        instance_role=tasks.EmrCreateCluster.InstanceRoleType.MASTER,
                        instance_type=cluster.master.instance_type,
                        instance_count=cluster.master.count,
                    ),
                    tasks.EmrCreateCluster.InstanceGroupConfigProperty(
                        name="Core",
                        instance_role=tasks.EmrCreateCluster.InstanceRoleType.CORE,
                        instance_type=cluster.core.instance_type,
                        instance_count=cluster.core.count,
                    ),
                ],
            ),
            tags={constants.TAG_PIPELINE: name},
            result_path="$.cluster",
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        )
        cluster_id = sfn.JsonPath.string_at("$.cluster.ClusterId")
        failed = sfn.Fail(
            self,
            "PipelineFailed",
            state_name="PipelineFailed",
            # Every path here caught the failure into $.error: the run fails with that
            # error and cause (a failed step's DescribeStep, naming the step), so the status
            # event the central account logs says which step failed and why.
            error_path="$.error.Error",
            cause_path="$.error.Cause",
        )

        def terminate_cluster(state_name: str) -> tasks.EmrTerminateCluster:
            return tasks.EmrTerminateCluster(
                self,
                state_name,
                state_name=state_name,
                cluster_id=cluster_id,
                integration_pattern=sfn.IntegrationPattern.RUN_JOB,
                result_path=sfn.JsonPath.DISCARD,
            )

        terminate_after_failure = terminate_cluster("TerminateAfterFailure")
        terminate_after_failure.add_catch(failed, result_path="$.terminateError")
        terminate_after_failure.next(failed)
        create.add_catch(failed, result_path="$.error")

        prepare = sfn.Pass(
            self,
            "PrepareSteps",
            state_name="PrepareSteps",
            parameters={
                step_args_key(step): sfn.JsonPath.array(
                    *period_args(step, scripts.urls[step.script])
                )
                for step in pipeline.steps
                if step.type in ("spark", "shell")
            },
            result_path=STEP_ARGS,
        )
        without_period = sfn.Pass(
            self,
            "WithoutPeriod",
            state_name="WithoutPeriod",
            comment="Started by hand without the dpc input: steps get an empty DPC_PERIOD.",
            result=sfn.Result.from_object({"period": ""}),
            result_path="$.dpc",
        )
        without_period.next(prepare)
        chain: sfn.IChainable = (
            sfn.Choice(self, "HasPeriod", state_name="HasPeriod")
            .when(sfn.Condition.is_present("$.dpc.period"), prepare)
            .otherwise(without_period)
        )
        prepare.next(create)
        tail: sfn.INextable = create
        self.step_state_names: list[str] = []
        for step in pipeline.steps:
            if step.type not in step_tasks:
                raise ValueError(f"step {step.name}: no task builder for type {step.type!r}")
            task = step_tasks[step.type](self, step, cluster_id, scripts.urls[step.script])
            self.step_state_names.append(step_state_name(step))
            task.add_catch(terminate_after_failure, result_path="$.error")
            tail.next(task)
            tail = task
        terminate = terminate_cluster("TerminateCluster")
        terminate.add_catch(failed, result_path="$.error")
        tail.next(terminate)
        terminate.next(sfn.Succeed(self, "Done", state_name="Done"))

        # Kept when the pipeline is destroyed (its runs' history); the stack id in the name
        # lets the pipeline be deployed again beside the retained group.
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name(name)}-{stack_uuid}",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = self._role(name, self.cluster_role.role)
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            role=iam.Role.from_role_arn(self, "RoleAsBuilt", self.role.role_arn, mutable=False),
            state_machine_name=state_machine_name(name),
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=Duration.seconds(int(pipeline.timeout.total_seconds()))
            if pipeline.timeout
            else None,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            comment=pipeline.description or f"dpc pipeline {name}",
        )
        self.state_machine.node.add_dependency(self.role)
        self.state_machine.node.add_dependency(self.cluster_role)
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "elasticmapreduce:RunJobFlow (here only with the pipeline's own request tag), "
            "the X-Ray actions and the CloudWatch Logs log-delivery actions Step Functions "
            "logging needs support no resource-level permissions: they can only be granted "
            "on '*'.",
            findings=["Resource::*"],
        )
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "Clusters are created at run time, so their ids are unknown at deploy time; the "
            "grant is limited to this account and region's clusters that carry this "
            "pipeline's dpc:pipeline tag.",
            findings=[
                "Resource::arn:<AWS::Partition>:elasticmapreduce:<AWS::Region>:"
                "<AWS::AccountId>:cluster/*"
            ],
        )
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "The EMR integration may create EMR's cleanup service-linked role, whose path "
            "AWS fixes; the grant is limited to that role.",
            findings=[
                "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/aws-service-role/"
                "elasticmapreduce.amazonaws.com*/AWSServiceRoleForEMRCleanup*"
            ],
        )

    def _role(self, name: str, cluster_role: iam.IRole) -> iam.Role:
        """The state machine's role, written out: CDK's EMR tasks would grant cluster actions
        on '*', while only RunJobFlow (and X-Ray, log delivery) lack resource-level scoping.
        Cluster actions need the pipeline's own tag (a pipeline cannot touch another's
        cluster), and roles are passed to EMR and EC2 only.
        The role is handed to the state machine immutable, so nothing is added behind it."""
        arn = f"arn:{Aws.PARTITION}"
        clusters = f"{arn}:elasticmapreduce:{Aws.REGION}:{Aws.ACCOUNT_ID}:cluster/*"
        managed_rules = [
            f"{arn}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/StepFunctionsGetEventFor{r}Rule"
            for r in ("EMRRunJobFlow", "EMRAddJobFlowSteps", "EMRTerminateJobFlows")
        ]
        emr_roles = [
            f"{arn}:iam::{Aws.ACCOUNT_ID}:role/{role}"
            for role in (ids.EMR_SERVICE_ROLE_NAME, ids.EMR_AUTOSCALING_ROLE_NAME)
        ] + [cluster_role.role_arn]
        own_tag = f"elasticmapreduce:{{}}Tag/{constants.TAG_PIPELINE}"
        statements = [
            iam.PolicyStatement(
                actions=["elasticmapreduce:RunJobFlow"],
                resources=["*"],
                conditions={"StringEquals": {own_tag.format("Request"): name}},
            ),
            iam.PolicyStatement(
                actions=[
                    "elasticmapreduce:DescribeCluster",
                    "elasticmapreduce:TerminateJobFlows",
                    "elasticmapreduce:AddTags",
                    "elasticmapreduce:AddJobFlowSteps",
                    "elasticmapreduce:DescribeStep",
                    "elasticmapreduce:CancelSteps",
                ],
                resources=[clusters],
                conditions={"StringEquals": {own_tag.format("Resource"): name}},
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=emr_roles,
                conditions={
                    "StringEquals": {
                        "iam:PassedToService": [
                            "elasticmapreduce.amazonaws.com",
                            "ec2.amazonaws.com",
                        ]
                    }
                },
            ),
            iam.PolicyStatement(
                actions=["iam:CreateServiceLinkedRole"],
                resources=[
                    f"{arn}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                    "elasticmapreduce.amazonaws.com*/AWSServiceRoleForEMRCleanup*"
                ],
                conditions={
                    "StringEquals": {"iam:AWSServiceName": ["elasticmapreduce.amazonaws.com"]}
                },
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=managed_rules,
            ),
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                resources=["*"],
            ),
        ]
        return iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"dpc pipeline {name}: run its EMR cluster and steps",
            inline_policies={"Pipeline": iam.PolicyDocument(statements=statements)},
        )


class PipelineStarter(Construct):
    """The starter Lambda (dpc.lambdas.starter) between the pipeline's rules and its state
    machine: the §6 input with the run's period, and a deterministic execution name so a
    repeated delivery starts nothing. Its failures, after two retries, go to a retained,
    encrypted queue; so do the rules' undeliverable events."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", queue_name=naming.starter_dlq_name(pipeline.name)
        )
        self.function = dpc_function(
            self,
            "Function",
            handler="dpc.lambdas.starter.handler",
            description=f"dpc: starts pipeline {pipeline.name} (idempotent, with its period)",
            environment={
                constants.ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn,
                constants.ENV_PERIOD_UNIT: pipeline.period.unit,
                constants.ENV_PERIOD_OFFSET_SECONDS: str(
                    int(pipeline.period.offset.total_seconds())
                ),
            },
        )
        bound_async_retries(self.function, self.dead_letter_queue)
        state_machine.grant_start_execution(self.function)
        # start_run looks the name up first: Step Functions answers a repeated start of a
        # running execution with success, so only the lookup tells a repeat (see starter).
        executions = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:"
            f"{state_machine_name(pipeline.name)}:*"
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
        )
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "Execution names are made per run: the starter may describe this pipeline's "
            "executions only, to tell a repeated start from a new one.",
            findings=[
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:{state_machine_name(pipeline.name)}:*"
            ],
        )

    def target(self, payload: Mapping[str, object]) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            self.function,
            event=events.RuleTargetInput.from_object(payload),
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=RULE_RETRY_ATTEMPTS,
            max_event_age=RULE_MAX_EVENT_AGE,
        )


class PipelineTriggers(Construct):
    """The schedule rule (default bus) and/or the trigger rule (pipeline bus, by name), both
    through the pipeline's starter."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        starter: PipelineStarter,
    ) -> None:
        super().__init__(scope, construct_id)
        account = pipeline.ref.account
        self.schedule_rule: events.Rule | None = None
        self.trigger_rule: events.Rule | None = None
        schedule = pipeline.trigger.schedule
        if schedule is not None:
            self.schedule_rule = events.Rule(
                self,
                "Schedule",
                rule_name=naming.schedule_rule_name(pipeline.name),
                description=f"Starts dpc pipeline {pipeline.name} on its schedule",
                schedule=events.Schedule.expression(schedule.expression),
                targets=[starter.target({"kind": "schedule", "time": events.EventField.time})],
            )
        if pipeline.trigger.executions is not None:
            self.trigger_rule = events.Rule(
                self,
                "Trigger",
                rule_name=naming.trigger_rule_name(pipeline.name),
                description=f"Starts dpc pipeline {pipeline.name} when the trigger manager says so",
                event_bus=events.EventBus.from_event_bus_name(
                    self, "PipelineBus", constants.PIPELINE_BUS_NAME
                ),
                event_pattern=trigger_event_pattern(
                    pipeline.name, account, Fn.import_value(ids.EXPORT_CENTRAL_ACCOUNT)
                ),
                targets=[
                    starter.target(
                        {"kind": "trigger", "detail": events.EventField.from_path("$.detail")}
                    )
                ],
            )


def trigger_event_pattern(
    pipeline_name: str, account: str, central_account: str
) -> events.EventPattern:
    """The trigger events meant for this pipeline: its own name AND its own account (§6),
    put on a bus by the central account (EventBridge keeps the sender's account on a
    forwarded event, so another account's forged trigger never matches, even if a bus
    policy let it in)."""
    return events.EventPattern(
        source=[constants.TRIGGER_EVENT_SOURCE],
        detail_type=[constants.TRIGGER_DETAIL_TYPE],
        account=[central_account],
        detail={"pipeline": [pipeline_name], "account": [account]},
    )


class DependencyRegistration(Construct):
    """Registers the pipeline (state machine, condition, schedule, period) with the central
    registry on create/update and removes it on delete, through the account's registration
    provider."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        condition = pipeline.trigger.executions
        schedule = pipeline.trigger.schedule
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=Fn.import_value(ids.EXPORT_REGISTRATION_PROVIDER),
            resource_type="Custom::DpcPipelineRegistration",
            properties={
                "Pipeline": pipeline.name,
                "Account": pipeline.ref.account,
                "StateMachineArn": state_machine.state_machine_arn,
                "Condition": json.dumps(condition_to_json(condition)) if condition else "",
                "Schedule": schedule.expression if schedule else "",
                "Period": json.dumps(pipeline.period.to_json()),
                # "" admits every account of the organization; the registry enforces a list.
                "Dependents": ""
                if pipeline.dependents is None
                else json.dumps({"accounts": sorted(pipeline.dependents)}),
                "Expect": str(pipeline.expect) if pipeline.expect else "",
            },
        )


class PipelineNotifications(Construct):
    """Alerts for one pipeline: an SNS topic (KMS-encrypted, TLS only) with one subscription
    per e-mail address or HTTPS endpoint, the execution tracker reading the state machine's
    log group through a subscription filter, and the Slack channels registered centrally."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        state_machine: PipelineStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        notifications = pipeline.notifications
        assert notifications is not None, "only pipelines with notifications get this construct"
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=f"dpc-{pipeline.name}-notifications",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        slack_channels: list[str] = []
        for target in notifications.targets:
            for address in target.addresses:
                if target.channel == "EMAIL":
                    self.topic.add_subscription(subscriptions.EmailSubscription(address))
                elif target.channel in ("OPSGENIE", "WEBHOOK"):
                    self.topic.add_subscription(
                        subscriptions.UrlSubscription(
                            address, protocol=sns.SubscriptionProtocol.HTTPS
                        )
                    )
                else:
                    slack_channels.append(address)

        environment = {
            constants.ENV_PIPELINE_NAME: pipeline.name,
            constants.ENV_PIPELINE_STEPS: json.dumps(
                {step_state_name(step): step.name for step in pipeline.steps}
            ),
            constants.ENV_NOTIFICATION_TOPIC_ARN: self.topic.topic_arn,
            constants.ENV_NOTIFICATION_TYPE: notifications.type,
        }
        if slack_channels:
            environment[constants.ENV_SLACK_API_URL] = Fn.import_value(ids.EXPORT_SLACK_API_URL)
        self.tracker = dpc_function(
            self,
            "ExecutionTracker",
            handler="dpc.lambdas.execution_tracker.handler",
            description=f"dpc: notifications of pipeline {pipeline.name}",
            environment=environment,
        )
        self.topic.grant_publish(self.tracker)
        # CloudWatch Logs invokes the tracker asynchronously: bounded retries, then a queue.
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", queue_name=naming.tracker_dlq_name(pipeline.name)
        )
        bound_async_retries(self.tracker, self.dead_letter_queue)
        executions = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:"
            f"{state_machine_name(pipeline.name)}:*"
        )
        self.tracker.add_to_role_policy(
            iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions])
        )
        findings = [
            "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{state_machine_name(pipeline.name)}:*"
        ]
        if slack_channels:
            messages = (
                f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:"
                f"{Fn.import_value(ids.EXPORT_CENTRAL_ACCOUNT)}:*/*/POST/messages"
            )
            self.tracker.add_to_role_policy(
                iam.PolicyStatement(actions=["execute-api:Invoke"], resources=[messages])
            )
            findings.append(
                "Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
                f"{ids.EXPORT_CENTRAL_ACCOUNT}:*/*/POST/messages"
            )
            self.slack_registration = CustomResource(
                self,
                "SlackChannels",
                service_token=Fn.import_value(ids.EXPORT_REGISTRATION_PROVIDER),
                resource_type="Custom::DpcSlackChannels",
                properties={
                    "Pipeline": pipeline.name,
                    "Account": pipeline.ref.account,
                    "Channels": slack_channels,
                },
            )
        suppress(
            self.tracker,
            "AwsSolutions-IAM5",
            "Execution ids are minted at run time: the tracker may read the history of this "
            "pipeline's executions only; the central Slack API's id is unknown here, so "
            "Invoke is limited to POST /messages of the central account.",
            findings=findings,
        )
        logs.SubscriptionFilter(
            self,
            "ExecutionHistory",
            log_group=state_machine.log_group,
            destination=logs_destinations.LambdaDestination(self.tracker),
            filter_pattern=logs.FilterPattern.all_events(),
        )
        # Late and recovered alerts of this pipeline (or of a parent it waits for) come from
        # the central late-alert sweep over the route rule; the tracker publishes them to the
        # topic. Slack got them centrally already.
        self.late_alert_rule = events.Rule(
            self,
            "LateAlerts",
            rule_name=naming.late_alert_rule_name(pipeline.name),
            description=f"Late and recovered alerts of dpc pipeline {pipeline.name} → its topic",
            event_bus=events.EventBus.from_event_bus_name(
                self, "PipelineBus", constants.PIPELINE_BUS_NAME
            ),
            event_pattern=events.EventPattern(
                source=[constants.LATE_ALERT_SOURCE],
                detail_type=[constants.LATE_DETAIL_TYPE, constants.RECOVERED_DETAIL_TYPE],
                account=[Fn.import_value(ids.EXPORT_CENTRAL_ACCOUNT)],
                detail={"pipeline": [pipeline.name], "account": [pipeline.ref.account]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.tracker,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RULE_RETRY_ATTEMPTS,
                    max_event_age=RULE_MAX_EVENT_AGE,
                )
            ],
        )


class PipelineStack(Stack):
    """Everything `dpc deploy` creates for one pipeline (its account must be known)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str | None = None,
        *,
        pipeline: Pipeline,
        step_tasks: Mapping[str, StepTask] = DEFAULT_STEP_TASKS,
        **stack_options: Unpack[StackOptions],
    ) -> None:
        # The pipeline's assets under its own prefix: its cluster may read nothing else.
        stack_options.setdefault(
            "synthesizer",
            CliCredentialsStackSynthesizer(
                file_assets_bucket_name=ids.ASSETS_BUCKET_NAME,
                bucket_prefix=ids.pipeline_assets_prefix(pipeline.name),
            ),
        )
        super().__init__(scope, construct_id or pipeline_stack_name(pipeline.name), **stack_options)
        self.pipeline = pipeline
        Tags.of(self).add(constants.TAG_PIPELINE, pipeline.name)
        for key, value in pipeline.tags.items():
            Tags.of(self).add(key, value)
        self.scripts = StepScripts(self, ids.STEP_SCRIPTS, pipeline=pipeline)
        self.state_machine = PipelineStateMachine(
            self,
            ids.STATE_MACHINE,
            pipeline=pipeline,
            scripts=self.scripts,
            step_tasks=step_tasks,
        )
        machine = self.state_machine.state_machine
        Tags.of(machine).add(constants.TAG_PERIOD_UNIT, pipeline.period.unit)
        Tags.of(machine).add(
            constants.TAG_PERIOD_OFFSET_SECONDS, str(int(pipeline.period.offset.total_seconds()))
        )
        self.starter = PipelineStarter(self, ids.STARTER, pipeline=pipeline, state_machine=machine)
        self.triggers = PipelineTriggers(
            self, ids.TRIGGERS, pipeline=pipeline, starter=self.starter
        )
        self.registration = DependencyRegistration(
            self, ids.DEPENDENCY_REGISTRATION, pipeline=pipeline, state_machine=machine
        )
        self.notifications = (
            PipelineNotifications(
                self, ids.NOTIFICATIONS, pipeline=pipeline, state_machine=self.state_machine
            )
            if pipeline.notifications
            else None
        )
        self.alarms = OperatorAlarms(
            self,
            ids.OPERATOR_ALARMS,
            topic=sns.Topic.from_topic_arn(
                self, ids.OPERATOR_TOPIC, Fn.import_value(ids.EXPORT_OPERATOR_TOPIC)
            ),
        )
        self.alarms.watch_function(self.starter.function, name=f"{pipeline.name}-starter")
        self.alarms.watch_queue(
            self.starter.dead_letter_queue, name=naming.starter_dlq_name(pipeline.name)
        )
        if self.triggers.schedule_rule is not None:
            self.alarms.watch_rule(
                self.triggers.schedule_rule, rule_name=naming.schedule_rule_name(pipeline.name)
            )
        if self.triggers.trigger_rule is not None:
            self.alarms.watch_rule(
                self.triggers.trigger_rule,
                rule_name=naming.trigger_rule_name(pipeline.name),
                bus_name=constants.PIPELINE_BUS_NAME,
            )
        if self.notifications is not None:
            self.alarms.watch_function(self.notifications.tracker, name=f"{pipeline.name}-tracker")
            self.alarms.watch_queue(
                self.notifications.dead_letter_queue,
                name=naming.tracker_dlq_name(pipeline.name),
            )
            self.alarms.watch_rule(
                self.notifications.late_alert_rule,
                rule_name=naming.late_alert_rule_name(pipeline.name),
                bus_name=constants.PIPELINE_BUS_NAME,
            )
