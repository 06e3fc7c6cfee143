{% from '.portal-context.jinja' import secret_delivery, secret_store, topology with context %}{% if topology == 'elasticache' %}{% with %}# What the app's IAM role needs to sign in: elasticache:Connect on this replication
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
{% endwith %}{% endif -%}
