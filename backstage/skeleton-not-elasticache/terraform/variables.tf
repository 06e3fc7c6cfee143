{% import '.portal-context.jinja' as __context with context %}# Values come from terraform.tfvars.json, rendered by the template. The
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
