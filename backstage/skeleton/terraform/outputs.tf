{% from '.portal-context.jinja' import rotation, secret_delivery, secret_store, topology with context %}{% if topology == 'elasticache' %}{% with %}output "replication_group_id" {
  description = "ID of the replication group (the name the IAM token is signed for)."
  value       = var.replication_group_id
}

output "primary_endpoint_address" {
  description = "Writes: the primary endpoint, which follows the primary across a failover."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint_address" {
  description = "Reads: the reader endpoint, spread over the replicas."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "Port of both endpoints (TLS)."
  value       = aws_elasticache_replication_group.this.port
}

output "user_id" {
  description = "The user the app signs in as, with an IAM token."
  value       = aws_elasticache_user.app.user_id
}

output "connect_policy_arn" {
  description = "IAM policy allowing elasticache:Connect as that user; attach it to the app's role."
  value       = aws_iam_policy.connect.arn
}

output "connect_policy_json" {
  description = "The same policy document, for a role managed elsewhere."
  value       = data.aws_iam_policy_document.connect.json
}

output "alarm_topic_arn" {
  description = "SNS topic of the CloudWatch alarms and of the group's events: subscribe the on-call to it."
  value       = local.alarm_topic_arn
}
{% endwith %}{% else %}{% with %}output "secret_arn" {
  description = "ARN of the Secrets Manager secret that holds the Redis password."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the secret (the {{ 'argocd-vault-plugin path' if secret_delivery == 'argocd-vault-plugin' else 'ExternalSecret remoteRef key' }})."
  value       = aws_secretsmanager_secret.this.name
}

output "password_origin" {
  description = "Who wrote the password: terraform, or hook (the secret was adopted)."
  value       = local.password_origin
}

output "read_policy_json" {
  description = "IAM policy granting read access to this secret; attach it to the {{ 'argocd-vault-plugin role' if secret_delivery == 'argocd-vault-plugin' else ('role of the platform ClusterSecretStore ' ~ secret_store if secret_store else 'reader role (secret-reader.tf does)') }}."
  value       = data.aws_iam_policy_document.read.json
}
{%- if rotation %}

output "rotation_role_arn" {
  description = "ARN of the role the rotation runner's service account assumes; its eks.amazonaws.com/role-arn annotation names it."
  value       = aws_iam_role.rotation.arn
}
{%- endif %}
{% endwith %}{% endif -%}
