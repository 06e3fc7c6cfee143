# What the app's IAM role needs to sign in: elasticache:Connect on this replication
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
