{% import '.portal-context.jinja' as __context with context %}# The Redis password secret.
#
# Two ways in, one result:
# - Terraform first: Terraform creates the secret and writes its value from an
#   ephemeral random password through the write-only secret_string_wo, so the
#   password is in neither the plan nor the state.
# - Hook first (`redis-scaffold secret ensure`): the hook created the secret, value
#   included, and tagged it password-origin = hook. Terraform finds it, adopts it
#   with an import block, and never writes a value of its own.
# The tag is part of the secret's desired tags, so the decision never flips.

locals {
  origin_tag = "password-origin"
}

# Secrets with this name the hook created. ListSecrets matches names by prefix,
# so only the exact name is kept below (the ARN ends in "<name>-<6 characters>").
data "aws_secretsmanager_secrets" "hook_created" {
  filter {
    name   = "name"
    values = [var.secret_name]
  }

  filter {
    name   = "tag-key"
    values = [local.origin_tag]
  }
}

data "aws_secretsmanager_secret" "hook_created" {
  for_each = toset([
    for arn in data.aws_secretsmanager_secrets.hook_created.arns : arn
    if one(regex("^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$", arn)) == var.secret_name
  ])

  arn = each.value
}

locals {
  adopt = toset([
    for arn, secret in data.aws_secretsmanager_secret.hook_created : arn
    if lookup(secret.tags, local.origin_tag, "") == "hook"
  ])
  password_origin = length(local.adopt) > 0 ? "hook" : "terraform"
}

import {
  for_each = local.adopt
  to       = aws_secretsmanager_secret.this
  id       = each.value
}

resource "aws_secretsmanager_secret" "this" {
  name                    = var.secret_name
  description             = var.description
  kms_key_id              = var.kms_key_id == "" ? null : var.kms_key_id
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = merge(var.tags, { (local.origin_tag) = local.password_origin })

  lifecycle {
    # Written by the rotation (redis-scaffold secret rotate, by hand or the scheduled
    # runner) at finishSecret: when the new password became current. Not Terraform's.
    ignore_changes = [tags["password-current-since"]]
  }
}

# Opened at plan and apply time, never stored. Letters and digits only: no
# character that would need escaping in a redis:// URL.
ephemeral "aws_secretsmanager_random_password" "this" {
  count = local.password_origin == "terraform" ? 1 : 0

  password_length     = var.password_length
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "this" {
  count = local.password_origin == "terraform" ? 1 : 0

  secret_id = aws_secretsmanager_secret.this.id
  # "<key>_previous" holds the previous password during a rotation (redis-scaffold
  # secret rotate), empty otherwise; both deliveries read it.
  secret_string_wo = jsonencode({
    (var.secret_key)             = ephemeral.aws_secretsmanager_random_password.this[0].random_password
    "${var.secret_key}_previous" = ""
  })
  # Bump to write a new password (a rotation); the value itself is never in state.
  secret_string_wo_version = 1
}
