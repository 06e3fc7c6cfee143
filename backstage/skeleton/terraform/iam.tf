{% from '.portal-context.jinja' import rotation, secret_delivery, secret_store, topology with context %}{% if topology == 'elasticache' %}{% with %}# What the app's IAM role needs to sign in: elasticache:Connect on this replication
# group and as this user, nothing else. Attach the policy to the role the app's pods
# run as (IRSA or EKS Pod Identity). The group's ARN is built from its id, so the role
# can be granted before the group exists (creating one takes a quarter of an hour).

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  replication_group_arn = "arn:${data.aws_partition.current.partition}:elasticache:${var.region}:${data.aws_caller_identity.current.account_id}:replicationgroup:${var.replication_group_id}"
}

data "aws_iam_policy_document" "connect" {
  statement {
    sid       = "ConnectAsTheAppUser"
    actions   = ["elasticache:Connect"]
    resources = [local.replication_group_arn, aws_elasticache_user.app.arn]
  }
}

resource "aws_iam_policy" "connect" {
  name        = "${var.replication_group_id}-connect-${var.region}"
  description = "Sign in to ElastiCache ${var.replication_group_id} as ${var.user_id} (IAM authentication)."
  policy      = data.aws_iam_policy_document.connect.json
  tags        = var.tags
}
{% endwith %}{% else %}{% with %}# Read access to this one secret, for the role {{ 'argocd-vault-plugin runs as' if secret_delivery == 'argocd-vault-plugin' else ('the generated SecretStore assumes (secret-reader.tf)' if not secret_store else 'the ClusterSecretStore ' ~ secret_store ~ ' uses') }}.
data "aws_iam_policy_document" "read" {
  statement {
    sid       = "ReadRedisPassword"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.this.arn]
  }

  # A customer managed key: decrypt, only through Secrets Manager, only for this secret.
  dynamic "statement" {
    for_each = var.kms_key_id == "" ? [] : [var.kms_key_id]

    content {
      sid       = "DecryptRedisPassword"
      actions   = ["kms:Decrypt"]
      resources = ["*"]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.region}.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:SecretARN"
        values   = [aws_secretsmanager_secret.this.arn]
      }
    }
  }
}

{%- if rotation %}

# The IAM role of the scheduled rotation's runner (manifest/components/redis-rotation):
# its ServiceAccount, and no other, assumes it through the cluster's OIDC provider (IRSA),
# and it may rotate this one secret and nothing else: read it, write a new version, move
# the staging labels, tag when the new password became current. It cannot create,
# delete or read any other secret, nor change the secret's policy or rotation settings.
locals {
  # The issuer without https://, as IAM names its condition keys.
  rotation_oidc_issuer = split("oidc-provider/", var.rotation_oidc_provider_arn)[1]
}

data "aws_iam_policy_document" "rotation_trust" {
  statement {
    sid     = "RotationRunnerServiceAccount"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.rotation_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.rotation_oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.rotation_oidc_issuer}:sub"
      values   = [var.rotation_service_account]
    }
  }
}

data "aws_iam_policy_document" "rotate" {
  statement {
    sid = "RotateRedisPassword"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
      "secretsmanager:TagResource",
    ]
    resources = [aws_secretsmanager_secret.this.arn]
  }

  # A customer managed key: read and write the value, only through Secrets Manager,
  # only for this secret.
  dynamic "statement" {
    for_each = var.kms_key_id == "" ? [] : [var.kms_key_id]

    content {
      sid       = "EncryptRedisPassword"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = ["*"]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.region}.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:SecretARN"
        values   = [aws_secretsmanager_secret.this.arn]
      }
    }
  }
}

resource "aws_iam_role" "rotation" {
  name                 = var.rotation_role_name
  description          = "Rotates the Redis password secret ${var.secret_name} (the scheduled runner)."
  assume_role_policy   = data.aws_iam_policy_document.rotation_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "rotation" {
  name   = "rotate-redis-password"
  role   = aws_iam_role.rotation.id
  policy = data.aws_iam_policy_document.rotate.json
}
{%- endif %}
{% endwith %}{% endif -%}
