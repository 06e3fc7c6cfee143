{% from '.portal-context.jinja' import rotation, topology with context %}{% if topology == 'elasticache' %}{% with %}# Values come from terraform.tfvars.json, rendered by the template. The
# `redis-scaffold elasticache check` command reads the same file, so both agree.

variable "region" {
  type        = string
  description = "AWS region of the replication group."
}

variable "replication_group_id" {
  type        = string
  description = "ID of the replication group (also the name the IAM token is signed for)."
}

variable "description" {
  type        = string
  description = "Description of the replication group."
}

variable "engine" {
  type        = string
  description = "redis or valkey."

  validation {
    condition     = contains(["redis", "valkey"], var.engine)
    error_message = "The engine must be redis or valkey."
  }
}

variable "engine_version" {
  type        = string
  description = "Engine version, MAJOR.MINOR (Redis OSS 7.0+ or Valkey 7.2+: IAM authentication)."
}

variable "node_type" {
  type        = string
  description = "Node type of the primary and of every replica."
}

variable "port" {
  type        = number
  description = "Port the nodes listen on (TLS)."
}

variable "replicas" {
  type        = number
  description = "Read replicas beside the primary."

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "The replicas must be from 1 to 5 (automatic failover needs at least one)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the replication group and its security group."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the cache subnet group, in at least two availability zones."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Multi-AZ needs subnets in at least two availability zones."
  }
}

variable "app_security_group_id" {
  type        = string
  description = "Security group of the app's pods or nodes: the only source admitted."
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (ARN, key id or alias/NAME) for encryption at rest; empty uses the AWS managed key."
  default     = ""
}

variable "snapshot_retention_limit" {
  type        = number
  description = "Days automatic snapshots are kept (0: none, and no final snapshot)."
  default     = 7
}

variable "user_id" {
  type        = string
  description = "The IAM-authenticated ElastiCache user the app connects as (user name = user id)."
}

variable "default_user_id" {
  type        = string
  description = "ID of the disabled user that takes the name `default` in the user group."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic of the CloudWatch alarms and the group's events; empty makes one."
  default     = ""
}

variable "alarm_engine_cpu_percent" {
  type        = number
  description = "EngineCPUUtilization (%) above which a node alarms."
  default     = 80
}

variable "alarm_memory_percent" {
  type        = number
  description = "DatabaseMemoryUsagePercentage above which a node alarms."
  default     = 90
}

variable "alarm_replication_lag_seconds" {
  type        = number
  description = "ReplicationLag (s) above which a replica alarms."
  default     = 10
}

variable "alarm_connections" {
  type        = number
  description = "CurrConnections above which a node alarms (a node accepts 65000)."
  default     = 50000
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource (service, owner, managed-by)."
}
{% endwith %}{% else %}{% with %}# Values come from terraform.tfvars.json, rendered by the template. The
# `redis-scaffold secret ensure` hook reads the same file, so both agree.

variable "region" {
  type        = string
  description = "AWS region of the Secrets Manager secret."
}

variable "secret_name" {
  type        = string
  description = "Name of the Secrets Manager secret that holds the Redis password."
}

variable "secret_key" {
  type        = string
  description = "JSON key, inside the secret's value, that holds the password."
}

variable "description" {
  type        = string
  description = "Description of the secret."
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (ARN, key id or alias/NAME) that encrypts the secret; empty uses the AWS managed key."
  default     = ""
}

variable "recovery_window_in_days" {
  type        = number
  description = "Days a deleted secret can still be restored: 0, or 7 to 30."
  default     = 7

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "The recovery_window_in_days must be 0 or a whole number from 7 to 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of the secret (service, owner, managed-by)."
}

variable "password_length" {
  type        = number
  description = "Length of the generated password (letters and digits only: safe in redis:// URLs)."
  default     = 40

  validation {
    condition     = var.password_length >= 32 && var.password_length <= 4096
    error_message = "The password_length must be from 32 to 4096."
  }
}
{%- if rotation %}

# The rotation runner's role (rotation: yes; iam.tf).
variable "rotation_oidc_provider_arn" {
  type        = string
  description = "ARN of the cluster's IAM OIDC provider, which issues the runner's service account token."

  validation {
    condition     = can(regex("^arn:aws[-a-z]*:iam::[0-9]{12}:oidc-provider/.+$", var.rotation_oidc_provider_arn))
    error_message = "The rotation_oidc_provider_arn must be arn:aws:iam::ACCOUNT:oidc-provider/ISSUER."
  }
}

variable "rotation_role_name" {
  type        = string
  description = "Name of the IAM role the runner's service account assumes (its annotation names the ARN)."
}

variable "rotation_service_account" {
  type        = string
  description = "The runner's service account, as system:serviceaccount:NAMESPACE:NAME."
}
{%- endif %}
{% endwith %}{% endif -%}
