{% from '.portal-context.jinja' import topology with context %}{% if topology == 'elasticache' %}{% with %}terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100: valkey as an ElastiCache engine, IAM-authenticated ElastiCache users.
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region
}
{% endwith %}{% else %}{% with %}terraform {
  # 1.11 brings write-only arguments (secret_string_wo): the password never enters state.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 has the ephemeral aws_secretsmanager_random_password and secret_string_wo.
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region
}
{% endwith %}{% endif -%}
