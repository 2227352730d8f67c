output "aws_region" {
  description = "Region of the state bucket and the stack (AWS_REGION of the workflows, and the backend's region)."
  value       = local.region
}

output "state_bucket" {
  description = "State bucket: -backend-config=bucket=<this> for the stack."
  value       = module.state_bucket.name
}

output "state_key" {
  description = "State object key: -backend-config=key=<this> for the stack."
  value       = local.state_key
}

output "backend_config" {
  description = "The stack's backend settings, ready for -backend-config flags."
  value = {
    bucket = module.state_bucket.name
    key    = local.state_key
    region = local.region
  }
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider the roles trust."
  value       = local.oidc_provider_arn
}

output "plan_role_arn" {
  description = "Role for pull-request plans and the drift check (read-only + state lock)."
  value       = aws_iam_role.github["plan"].arn
}

output "deploy_role_arn" {
  description = "Role for the deploy job in the production environment."
  value       = aws_iam_role.github["deploy"].arn
}

output "train_role_arn" {
  description = "Role for the retrain job in the training environment (writes models/versions/ only)."
  value       = aws_iam_role.github["train"].arn
}

output "monitor_role_arn" {
  description = "Role for the scheduled model monitor in the monitoring environment (reads the served version's metadata and its CloudWatch metrics)."
  value       = aws_iam_role.github["monitor"].arn
}

output "github_subjects" {
  description = "The exact OIDC sub claims each role trusts, for checking against a workflow's token."
  value       = { for key, role in local.roles : key => role.subjects }
}

output "github_variables" {
  description = "Every GitHub variable the workflows read, by scope (repository, or an environment's name), with its value: the stack then runs in this region under these names, which the roles are scoped to (docs/deploy.md sets them with gh variable set)."
  value = {
    repository = {
      AWS_REGION        = local.region
      TF_STATE_BUCKET   = module.state_bucket.name
      TF_STATE_KEY      = local.state_key
      AWS_PLAN_ROLE_ARN = aws_iam_role.github["plan"].arn
      STACK_NAME_PREFIX = var.name_prefix
      STACK_ENVIRONMENT = var.environment
      MODEL_BUCKET      = "${local.stack_name}-models-${local.account_id}"
    }
    (var.production_environment) = { AWS_DEPLOY_ROLE_ARN = aws_iam_role.github["deploy"].arn }
    (var.training_environment)   = { AWS_TRAIN_ROLE_ARN = aws_iam_role.github["train"].arn }
    (var.monitoring_environment) = { AWS_MONITOR_ROLE_ARN = aws_iam_role.github["monitor"].arn }
  }
}
