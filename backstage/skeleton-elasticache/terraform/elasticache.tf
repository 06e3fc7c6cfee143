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
  # Changes wait for the maintenance window unless you apply with -var apply_immediately.
  apply_immediately = false
  tags              = var.tags
}
