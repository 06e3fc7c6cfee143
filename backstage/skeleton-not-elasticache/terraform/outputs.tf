{% from '.portal-context.jinja' import secret_delivery, secret_store with context %}output "secret_arn" {
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
