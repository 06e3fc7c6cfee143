"""A team generates an ElastiCache repository: its files, its bad answers, its Terraform.

Story: a service team answers `topology: elasticache` with its VPC, subnets and the app's
security group. It receives Terraform for a replication group with IAM authentication
(no Kubernetes Redis, no Sentinel, no password secret), the app's env as a kustomize
Component, and a runbook that speaks of ElastiCache. Terraform is formatted and valid
offline, and applied against the AWS emulator for every resource the emulator can create;
nothing secret is in the state, because nothing secret exists.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from redis_scaffold.project import read_answers
from tests.test_manifests import kustomize, validate_strictly

NETWORK = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "app_security_group_id": "sg-0123456789abcdef0",
}
ELASTICACHE = {"topology": "elasticache", **NETWORK}
TUNED_VALKEY = ELASTICACHE | {
    "service_name": "ledger",
    "engine": "valkey",
    "customise": True,
    "cache_engine_version": "8.1",
    "cache_replicas": 4,
    "node_type": "cache.r7g.xlarge",
    "kms_key_id": "alias/ledger",
    "snapshot_retention_days": 0,
    "redis_port": 6380,
    "aws_region": "eu-west-1",
}

TF_FILES = {
    "versions.tf",
    "backend.tf",
    "variables.tf",
    "elasticache.tf",
    "iam.tf",
    "outputs.tf",
    "terraform.tfvars.json",
}


def tfvars_of(project) -> dict:
    return json.loads((project / "terraform" / "terraform.tfvars.json").read_text())


# ------------------------------------------------------------------ the repository
def test_an_elasticache_repository_has_no_kubernetes_redis_no_sentinel_and_no_secret(generate):
    repo = generate(ELASTICACHE)

    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert not [f for f in files if f.startswith("manifest/redis/")]
    assert not [f for f in files if "redis-secret" in f]
    assert not [f for f in files if "provision.yml" in f]  # it creates a secret
    assert {p.name for p in (repo / "terraform").iterdir()} == TF_FILES
    assert {p.name for p in (repo / "manifest/components/redis-env").iterdir()} == {
        "kustomization.yaml",
        "deployment-env.yaml",
        "endpoints.env",
    }

    answers = read_answers(repo)
    # Only what an ElastiCache team was asked is recorded: no namespace of Redis's own,
    # no secret delivery, no secret or Sentinel hook.
    assert set(answers) - {"_commit", "_src_path"} == {
        "service_name",
        "owner",
        "app_namespace",
        "engine",
        "topology",
        "aws_region",
        "state_bucket",
        "vpc_id",
        "subnet_ids",
        "app_security_group_id",
        "alarm_topic_arn",
        "size",
        "customise",
        "check_elasticache",
    }
    assert tfvars_of(repo) == {
        "region": "us-east-1",
        "replication_group_id": "shopping-cart-redis",
        "description": "Redis on ElastiCache for the shopping-cart service",
        "engine": "redis",
        "engine_version": "7.1",
        "node_type": "cache.t4g.small",  # size small
        "port": 6379,
        "replicas": 2,
        "vpc_id": NETWORK["vpc_id"],
        "subnet_ids": NETWORK["subnet_ids"].split(","),
        "app_security_group_id": NETWORK["app_security_group_id"],
        "kms_key_id": "",
        "snapshot_retention_limit": 7,
        "user_id": "shopping-cart-app",
        "default_user_id": "shopping-cart-default-off",
        "alarm_topic_arn": "",
        "tags": {
            "service": "shopping-cart",
            "owner": "group:default/platform-team",
            "managed-by": "terraform",
        },
    }

    readme = (repo / "README.md").read_text()
    assert readme.splitlines()[0] == "# shopping-cart-redis: Redis on ElastiCache for shopping-cart"
    assert "sentinel" not in readme.lower() and "Secrets Manager" not in readme
    assert "argocd-vault-plugin" not in readme
    assert "IAM" in readme and "make infra" in readme and "make endpoints" in readme
    for path in repo.rglob("*"):
        if path.is_file() and path.name != "README.md" and path.suffix != ".tf":
            text = re.sub(r"\$\{\{[^{}]*\}\}", "", path.read_text())  # GitHub Actions
            assert "{{" not in text and "{%" not in text, path
            assert "argocd-vault-plugin" not in text and "AVP" not in text, path
    assert "sentinel" not in (repo / "client/python/README.md").read_text().lower()

    makefile = (repo / "Makefile").read_text()
    targets = re.findall(r"^([a-z-]+):", makefile, re.M)
    assert targets == [
        "help",
        "install",
        "install-tools",
        "install-hooks",
        "infra",
        "endpoints",
        "check",
        "validate",
        "check-conflicts",
    ]
    assert "redis-scaffold elasticache check . --strict" in makefile

    entities = {e["kind"]: e for e in yaml.safe_load_all((repo / "catalog-info.yaml").read_text())}
    assert entities["Resource"]["spec"]["type"] == "elasticache-replication-group"
    assert "sentinel" not in (repo / "catalog-info.yaml").read_text().lower()
    assert "backstage.io/kubernetes-id" not in entities["Component"]["metadata"]["annotations"]

    requirements = (repo / "client/python/requirements.txt").read_text()
    assert re.search(r"^botocore>=", requirements, re.M)


def test_the_app_env_component_renders_valid_kubernetes_objects(generate):
    repo = generate(TUNED_VALKEY)
    (repo / "manifest/components/redis-env/endpoints.env").write_text(
        "REDIS_PRIMARY_HOST=master.ledger-redis.abc123.euw1.cache.amazonaws.com\n"
        "REDIS_READER_HOST=replica.ledger-redis.abc123.euw1.cache.amazonaws.com\n"
    )

    objects = kustomize(repo / "manifest/examples/app")

    validate_strictly(objects, "manifest/examples/app")
    assert sorted(o["kind"] for o in objects) == ["ConfigMap", "Deployment"]
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert config["metadata"]["name"].startswith("ledger-redis-endpoints-")  # hashed: rolls the app
    assert config["data"]["REDIS_PRIMARY_HOST"].startswith("master.ledger-redis.")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name in ("REDIS_PRIMARY_HOST", "REDIS_READER_HOST"):
        ref = env[name]["valueFrom"]["configMapKeyRef"]
        assert ref == {"name": config["metadata"]["name"], "key": name}
    assert {n: e.get("value") for n, e in env.items() if "value" in e} == {
        "REDIS_PORT": "6380",
        "REDIS_TLS": "true",
        "REDIS_USER": "ledger-app",
        "REDIS_CACHE_NAME": "ledger-redis",
        "REDIS_AWS_REGION": "eu-west-1",
        "LOG_LEVEL": "info",
    }
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]


# A bad answer is refused before anything is written, naming the field and the rule.
BAD_ELASTICACHE_ANSWERS = [
    ("node_type", "cache.x9.large", "current family"),
    ("node_type", "cache.t4g.large", "one of its sizes"),
    ("node_type", "r7g.large", "cache.FAMILY.SIZE"),
    ("cache_engine_version", "6.2", "redis version ElastiCache offers with IAM authentication"),
    ("cache_engine_version", "7.2", "7.0, 7.1"),
    ("cache_replicas", 0, "from 1 to 5"),
    ("cache_replicas", 6, "from 1 to 5"),
    ("snapshot_retention_days", 36, "from 0 to 35"),
]
BAD_NETWORK = [
    ("vpc_id", "vpc-123", "VPC id"),
    ("subnet_ids", "subnet-0123456789abcdef0", "at least two subnet ids"),
    ("subnet_ids", "subnet-0123456789abcdef0, subnet-0123456789abcdef1", "without spaces"),
    ("app_security_group_id", "sg-xyz", "security group id"),
    ("app_security_group_id", "", "security group id"),
]


@pytest.mark.parametrize(
    "field,value,rule",
    BAD_ELASTICACHE_ANSWERS + BAD_NETWORK,
    ids=[f"{f}={v!r}" for f, v, _ in BAD_ELASTICACHE_ANSWERS + BAD_NETWORK],
)
def test_bad_elasticache_answers_are_refused_before_anything_is_written(
    generate, tmp_path, field, value, rule
):
    with pytest.raises(ValueError) as excinfo:
        generate(ELASTICACHE | {"customise": True, field: value}, name="refused")
    message = str(excinfo.value)
    assert f"'{field}'" in message and rule in message
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())


def test_the_engine_version_follows_the_engine(generate):
    assert (
        tfvars_of(generate(ELASTICACHE | {"engine": "valkey"}, name="v"))["engine_version"] == "8.1"
    )
    with pytest.raises(ValueError, match="valkey version ElastiCache offers"):
        generate(
            ELASTICACHE | {"engine": "valkey", "customise": True, "cache_engine_version": "7.1"}
        )


# ------------------------------------------------------------------------- terraform
# The default answers' configuration is formatted, valid and planned in the test below
# (a plan validates first); this one checks the tuned Valkey variant without a plan.
def test_generated_terraform_is_formatted_and_valid(generate, terraform):
    project = generate(TUNED_VALKEY)
    tf = terraform(project)
    tf("fmt", "-check", "-diff", "-recursive")
    tf.init()
    assert "The configuration is valid" in tf("validate").stdout


# What moto 5 can create through the provider. It has no CreateUserGroup, and the
# provider's read of a replication group asks for its member cache clusters, which moto
# does not make: those two are planned (and checked) but not applied.
EMULATED = [
    "aws_elasticache_subnet_group.this",
    "aws_security_group.this",
    "aws_vpc_security_group_ingress_rule.app",
    "aws_elasticache_user.app",
    "aws_elasticache_user.default",
    "aws_iam_policy.connect",
    "aws_sns_topic.alarms[0]",
]
# The CloudWatch alarms: each metric on each of the 3 nodes (GROUP-001 to -003).
NODES = [f"shopping-cart-redis-00{i}" for i in (1, 2, 3)]
ALARM_METRICS = {
    "cpu": "EngineCPUUtilization",
    "memory": "DatabaseMemoryUsagePercentage",
    "replication-lag": "ReplicationLag",
    "evictions": "Evictions",
    "connections": "CurrConnections",
}
ALARMS = [f'aws_cloudwatch_metric_alarm.node["{n}/{a}"]' for n in NODES for a in ALARM_METRICS]


def planned_values(tf) -> dict[str, dict]:
    shown = json.loads(tf("show", "-json", "tfplan").stdout)
    return {
        r["address"]: r["values"]
        for r in shown["planned_values"]["root_module"]["resources"]
        if r["mode"] == "managed"
    }


def plan_after_unknown(tf) -> dict[str, dict]:
    """address -> the attributes whose planned value is known only after apply."""
    shown = json.loads(tf("show", "-json", "tfplan").stdout)
    return {c["address"]: c["change"]["after_unknown"] for c in shown["resource_changes"]}


def test_terraform_applies_the_users_network_and_policy_and_holds_no_secret(
    generate, terraform, aws_env
):
    ec2 = aws_env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    app_sg = ec2.create_security_group(GroupName="app", Description="app pods", VpcId=vpc)[
        "GroupId"
    ]
    project = generate(
        {
            "topology": "elasticache",
            "vpc_id": vpc,
            "subnet_ids": ",".join(subnets),
            "app_security_group_id": app_sg,
            "state_bucket": "acme-terraform-state",  # the state the whole group is in
        }
    )
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket="acme-terraform-state")
    tf = terraform(project)
    tf("fmt", "-check", "-diff", "-recursive")
    tf.use_emulator(aws_env.endpoint)
    tf.init_with_emulated_s3(aws_env.endpoint)

    # The whole configuration plans (a plan validates it first); the replication group
    # is what the issue asks for.
    plan = tf.plan()
    assert set(plan.changes) == {
        *EMULATED,
        *ALARMS,
        "aws_elasticache_user_group.this",
        "aws_elasticache_replication_group.this",
    }
    assert {action for action, _ in plan.changes.values()} == {"create"}
    planned = planned_values(tf)
    group = planned["aws_elasticache_replication_group.this"]
    assert {
        k: group[k]
        for k in (
            "engine",
            "engine_version",
            "node_type",
            "num_cache_clusters",
            "automatic_failover_enabled",
            "multi_az_enabled",
            "at_rest_encryption_enabled",
            "transit_encryption_enabled",
            "transit_encryption_mode",
            "port",
            "snapshot_retention_limit",
            "final_snapshot_identifier",
        )
    } == {
        "engine": "redis",
        "engine_version": "7.1",
        "node_type": "cache.t4g.small",
        "num_cache_clusters": 3,
        "automatic_failover_enabled": True,
        "multi_az_enabled": True,
        "at_rest_encryption_enabled": "true",  # a string in the provider's schema
        "transit_encryption_enabled": True,
        "transit_encryption_mode": "required",
        "port": 6379,
        "snapshot_retention_limit": 7,
        "final_snapshot_identifier": "shopping-cart-redis-final",
    }
    assert group.get("auth_token") is None
    user_group = planned["aws_elasticache_user_group.this"]
    assert sorted(user_group["user_ids"]) == ["shopping-cart-app", "shopping-cart-default-off"]

    targets = [*EMULATED, "aws_cloudwatch_metric_alarm.node"]
    applied = tf("apply", "-input=false", "-auto-approve", *[f"-target={a}" for a in targets])
    assert f"Apply complete! Resources: {len(EMULATED) + len(ALARMS)} added" in applied.stdout
    # The state went to the bucket, under the service's key (no password in it: below).
    state = s3.get_object(
        Bucket="acme-terraform-state", Key="redis/shopping-cart/terraform.tfstate"
    )
    state_text = state["Body"].read().decode()
    assert "aws_elasticache_user" in state_text
    assert not (project / "terraform/terraform.tfstate").exists()

    cache = aws_env.client("elasticache")
    users = {u["UserId"]: u for u in cache.describe_users()["Users"]}
    app, default = users["shopping-cart-app"], users["shopping-cart-default-off"]
    assert app["UserName"] == "shopping-cart-app"  # IAM needs user name == user id
    assert app["Authentication"]["Type"] == "iam"
    assert app["AccessString"] == "on ~* +@all -@dangerous"
    assert default["UserName"] == "default"
    assert default["AccessString"] == "off -@all"
    # The API reports no-password (moto: the mode's own name); either way no password.
    assert default["Authentication"]["Type"] in {"no-password", "no-password-required"}
    (subnet_group,) = cache.describe_cache_subnet_groups(
        CacheSubnetGroupName="shopping-cart-redis"
    )["CacheSubnetGroups"]
    assert sorted(s["SubnetIdentifier"] for s in subnet_group["Subnets"]) == sorted(subnets)

    (sg,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["shopping-cart-redis-cache"]}]
    )["SecurityGroups"]
    assert sg["VpcId"] == vpc
    (ingress,) = sg["IpPermissions"]
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 6379, 6379)
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [app_sg]
    assert ingress["IpRanges"] == [] and ingress.get("Ipv6Ranges", []) == []

    iam = aws_env.client("iam")
    arn = tf("output", "-raw", "connect_policy_arn").stdout
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "elasticache:Connect"
    assert sorted(statement["Resource"]) == [
        "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shopping-cart-redis",
        app["ARN"],
    ]

    # The alarms (issue 23): every metric on every node, notifying the topic Terraform
    # made (alarm_topic_arn was empty), which the group's own events also go to.
    topic = tf("output", "-raw", "alarm_topic_arn").stdout
    assert aws_env.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    alarms = aws_env.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert sorted((a["Dimensions"][0]["Value"], a["MetricName"]) for a in alarms) == sorted(
        (n, m) for n in NODES for m in ALARM_METRICS.values()
    )
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/ElastiCache"
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert (
        "notification_topic_arn" in plan_after_unknown(tf)["aws_elasticache_replication_group.this"]
    )

    # No password exists: none in the state, the plan or the outputs. The users carry no
    # password (IAM, and a disabled default), the group no auth_token.
    state = json.loads(state_text)
    for resource in state["resources"]:
        for instance in resource["instances"]:
            attributes = instance["attributes"]
            assert not attributes.get("passwords"), resource["type"]
            assert not attributes.get("auth_token"), resource["type"]
