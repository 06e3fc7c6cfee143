# The replication group: one primary and var.replicas replicas in at least two
# availability zones, automatic failover, encrypted at rest and in transit (TLS
# required), reachable only from the app's security group. Nobody authenticates with a
# password: the app's user signs in with a short-lived IAM token (elasticache:Connect,
# iam.tf), and the `default` user every user group needs is a disabled one. No secret
# exists, so none can reach the plan or the state.

resource "aws_elasticache_subnet_group" "this" {
  name        = var.replication_group_id
  description = "Subnets of ${var.replication_group_id}"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.replication_group_id}-cache"
  description = "ElastiCache ${var.replication_group_id}: the app only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "app" {
  security_group_id            = aws_security_group.this.id
  description                  = "The app, on the TLS port"
  referenced_security_group_id = var.app_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  tags                         = var.tags
}

# The app's user: IAM authentication (its user name must equal its id).
resource "aws_elasticache_user" "app" {
  user_id       = var.user_id
  user_name     = var.user_id
  engine        = var.engine
  access_string = "on ~* +@all -@dangerous"
  tags          = var.tags

  authentication_mode {
    type = "iam"
  }
}

# Every user group holds a user named `default`, which any connection is before AUTH.
# This one is switched off (`off`, no command): nothing works without the IAM token.
resource "aws_elasticache_user" "default" {
  user_id       = var.default_user_id
  user_name     = "default"
  engine        = var.engine
  access_string = "off -@all"
  tags          = var.tags

  authentication_mode {
    type = "no-password-required"
  }
}

resource "aws_elasticache_user_group" "this" {
  user_group_id = var.replication_group_id
  engine        = var.engine
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]
  tags          = var.tags
}

data "aws_kms_key" "at_rest" {
  count  = var.kms_key_id == "" ? 0 : 1
  key_id = var.kms_key_id
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.replication_group_id
  description          = var.description
  engine               = var.engine
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = var.port
  num_cache_clusters   = 1 + var.replicas

  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_id == "" ? null : data.aws_kms_key.at_rest[0].arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  user_group_ids             = [aws_elasticache_user_group.this.user_group_id]

  snapshot_retention_limit   = var.snapshot_retention_limit
  final_snapshot_identifier  = var.snapshot_retention_limit == 0 ? null : "${var.replication_group_id}-final"
  auto_minor_version_upgrade = true
  # ElastiCache's own events (failover complete, node replaced, ...) go to the alarm topic.
  notification_topic_arn = local.alarm_topic_arn
  # Changes wait for the maintenance window unless you apply with -var apply_immediately.
  apply_immediately = false
  tags              = var.tags
}

# ------------------------------------------------------------------ alarms
# CloudWatch alarms on every node of the group (member clusters GROUP-001, -002, ...),
# for what the Kubernetes topologies' Prometheus rules watch: engine CPU, memory against
# maxmemory, replication lag (on whichever node is a replica now), evictions and
# connections. They and the group's failover events notify one SNS topic:
# var.alarm_topic_arn, or the topic made here when that is empty. docs/operations.md in
# the template says what each one means and what to do.

resource "aws_sns_topic" "alarms" {
  count             = var.alarm_topic_arn == "" ? 1 : 0
  name              = "${var.replication_group_id}-alarms"
  kms_master_key_id = "alias/aws/sns"
  tags              = var.tags
}

locals {
  alarm_topic_arn = var.alarm_topic_arn == "" ? aws_sns_topic.alarms[0].arn : var.alarm_topic_arn
  nodes           = [for i in range(1 + var.replicas) : format("%s-%03d", var.replication_group_id, i + 1)]
  # metric -> statistic, comparison, threshold, and what it means (the alarm's description).
  alarms = {
    cpu = {
      metric = "EngineCPUUtilization", statistic = "Average", threshold = var.alarm_engine_cpu_percent,
      text   = "the engine's thread is busy above the threshold: commands queue and latency grows"
    }
    memory = {
      metric = "DatabaseMemoryUsagePercentage", statistic = "Average", threshold = var.alarm_memory_percent,
      text   = "memory is near maxmemory: writes are refused or keys evicted when it is reached"
    }
    replication-lag = {
      metric = "ReplicationLag", statistic = "Maximum", threshold = var.alarm_replication_lag_seconds,
      text   = "a replica is behind the primary: reads from it are stale, a failover to it loses writes"
    }
    evictions = {
      metric = "Evictions", statistic = "Sum", threshold = 0,
      text   = "keys were evicted because maxmemory was reached"
    }
    connections = {
      metric = "CurrConnections", statistic = "Maximum", threshold = var.alarm_connections,
      text   = "connections are near the node's limit (65000): a client leaks connections"
    }
  }
  node_alarms = {
    for pair in setproduct(local.nodes, keys(local.alarms)) : "${pair[0]}/${pair[1]}" => {
      node = pair[0], alarm = local.alarms[pair[1]]
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "node" {
  for_each            = local.node_alarms
  alarm_name          = replace(each.key, "/", "-")
  alarm_description   = "${each.value.alarm.metric} of ${each.value.node}: ${each.value.alarm.text}."
  namespace           = "AWS/ElastiCache"
  metric_name         = each.value.alarm.metric
  dimensions          = { CacheClusterId = each.value.node }
  statistic           = each.value.alarm.statistic
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.alarm.threshold
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  # A node that is not a replica has no ReplicationLag; a missing point is no alarm.
  treat_missing_data = "notBreaching"
  alarm_actions      = [local.alarm_topic_arn]
  ok_actions         = [local.alarm_topic_arn]
  tags               = var.tags
}
