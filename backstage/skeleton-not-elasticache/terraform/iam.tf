{% from '.portal-context.jinja' import secret_delivery, secret_store with context %}# Read access to this one secret, for the role {{ 'argocd-vault-plugin runs as' if secret_delivery == 'argocd-vault-plugin' else ('the generated SecretStore assumes (secret-reader.tf)' if not secret_store else 'the ClusterSecretStore ' ~ secret_store ~ ' uses') }}.
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
