# The IAM role that the generated SecretStore's service account assumes (IRSA): External
# Secrets Operator exchanges that account's token for it, in each namespace that imports
# the password, and reads this one secret with it. Values: secret-reader.auto.tfvars.json.

variable "oidc_provider_arn" {
  type        = string
  description = "ARN of the cluster's IAM OIDC provider, which issues the service account tokens."

  validation {
    condition     = can(regex("^arn:aws[-a-z]*:iam::[0-9]{12}:oidc-provider/.+$", var.oidc_provider_arn))
    error_message = "The oidc_provider_arn must be arn:aws:iam::ACCOUNT:oidc-provider/ISSUER."
  }
}

variable "reader_role_name" {
  type        = string
  description = "Name of the IAM role the SecretStore's service account assumes (the manifests name its ARN)."
}

variable "reader_service_accounts" {
  type        = list(string)
  description = "Service accounts allowed to assume the role, as system:serviceaccount:NAMESPACE:NAME."
}

locals {
  # The issuer without https://, as IAM names its condition keys.
  oidc_issuer = split("oidc-provider/", var.oidc_provider_arn)[1]
}

data "aws_iam_policy_document" "reader_trust" {
  statement {
    sid     = "SecretStoreServiceAccounts"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = var.reader_service_accounts
    }
  }
}

resource "aws_iam_role" "reader" {
  name                 = var.reader_role_name
  description          = "Reads the Redis password secret ${var.secret_name} for External Secrets Operator."
  assume_role_policy   = data.aws_iam_policy_document.reader_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

# Read only, this one secret: the policy of iam.tf (GetSecretValue, DescribeSecret, and
# kms:Decrypt through Secrets Manager when the secret has its own KMS key).
resource "aws_iam_role_policy" "reader" {
  name   = "read-redis-password"
  role   = aws_iam_role.reader.id
  policy = data.aws_iam_policy_document.read.json
}

output "reader_role_arn" {
  description = "ARN of the role the SecretStore's service account assumes; the manifests' eks.amazonaws.com/role-arn annotation names it."
  value       = aws_iam_role.reader.arn
}
