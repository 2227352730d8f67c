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

output "github_subjects" {
  description = "The exact OIDC sub claims each role trusts, for checking against a workflow's token."
  value       = { for key, role in local.roles : key => role.subjects }
}
