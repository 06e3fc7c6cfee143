terraform {
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
