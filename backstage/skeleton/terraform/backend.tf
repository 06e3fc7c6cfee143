{% from '.portal-context.jinja' import service_name, state_bucket, state_region with context %}{% if state_bucket -%}
# Terraform's state, in S3: every machine that runs terraform (a laptop, a pipeline)
# sees what the others created. S3-native locking (use_lockfile, Terraform >= 1.10) keeps
# two runs from writing it at once; no DynamoDB table is needed.
terraform {
  backend "s3" {
    bucket       = "{{ state_bucket }}"
    key          = "redis/{{ service_name }}/terraform.tfstate"
    region       = "{{ state_region }}"
    encrypt      = true
    use_lockfile = true
  }
}
{% else -%}
# No state backend: Terraform keeps its state in terraform/terraform.tfstate on the
# machine that ran it, git-ignored. Another machine (a colleague, a pipeline) does not
# see what was created and would try to create it again. Answer state_bucket
# (`copier update --trust --data state_bucket=BUCKET`, then `terraform init -migrate-state`) to
# keep it in S3.
{% endif -%}
