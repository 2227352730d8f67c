output "aws_region" {
  description = "Region of the state bucket, the registry and the stacks (AWS_REGION of the workflows, and the backend's region)."
  value       = local.region
}

output "state_bucket" {
  description = "State bucket of every stage: -backend-config=bucket=<this> for the stack."
  value       = module.state_bucket.name
}

output "state_keys" {
  description = "State object key per stage: -backend-config=key=<this> for that stage's stack."
  value       = { for key, stage in local.stages : key => stage.state_key }
}

output "backend_config" {
  description = "Each stage's backend settings, by stage key, ready for -backend-config flags."
  value = {
    for key, stage in local.stages : key => {
      bucket = module.state_bucket.name
      key    = stage.state_key
      region = local.region
    }
  }
}

output "image_repository_url" {
  description = "The shared image repository (TF_VAR_image_repository_url of both stacks; staging pushes <url>:<tag>)."
  value       = aws_ecr_repository.images.repository_url
}

output "image_repository_name" {
  description = "Name of the shared image repository."
  value       = aws_ecr_repository.images.name
}

output "model_bucket" {
  description = "Name of the shared model bucket, the model registry (TF_VAR_model_bucket of both stacks)."
  value       = module.model_bucket.name
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider the roles trust."
  value       = local.oidc_provider_arn
}

output "role_arns" {
  description = "ARN of every pipeline role, by key: <stage>-plan, <stage>-deploy, train, monitor."
  value       = { for key, role in aws_iam_role.github : key => role.arn }
}

output "plan_role_arns" {
  description = "Plan role per stage (staging: pull requests and main; production: main only)."
  value       = { for key in keys(local.stages) : key => aws_iam_role.github["${key}-plan"].arn }
}

output "deploy_role_arns" {
  description = "Deploy role per stage, each trusted only from its stage's GitHub environment."
  value       = { for key in keys(local.stages) : key => aws_iam_role.github["${key}-deploy"].arn }
}

output "train_role_arn" {
  description = "Role for the retrain job in the training environment (writes models/versions/ and models/reference/ only)."
  value       = aws_iam_role.github["train"].arn
}

output "monitor_role_arn" {
  description = "Role for the scheduled model monitor in the monitoring environment (reads production's served version's metadata and its CloudWatch metrics)."
  value       = aws_iam_role.github["monitor"].arn
}

output "github_subjects" {
  description = "The exact OIDC sub claims each role trusts, by role key, for checking against a workflow's token."
  value       = { for key, role in local.roles : key => role.subjects }
}

output "github_variables" {
  description = "Every GitHub variable the workflows read, by scope (repository, or an environment's name), with its value: the stacks then run in this region under these names, which the roles are scoped to (docs/deploy.md sets them with gh variable set)."
  value = merge(
    {
      repository = {
        AWS_REGION         = local.region
        TF_STATE_BUCKET    = module.state_bucket.name
        STACK_NAME_PREFIX  = var.name_prefix
        MODEL_BUCKET       = module.model_bucket.name
        ECR_REPOSITORY_URL = aws_ecr_repository.images.repository_url
        # What a job outside a stage's environment (the pull-request plan, the drift check) needs per stage;
        # one JSON string, read with fromJSON(vars.STAGES).
        STAGES = jsonencode({
          for key, stage in local.stages : key => {
            plan_role_arn     = aws_iam_role.github["${key}-plan"].arn
            state_key         = stage.state_key
            stack_environment = stage.environment
          }
        })
      }
      (var.training_environment) = { AWS_TRAIN_ROLE_ARN = aws_iam_role.github["train"].arn }
      # The monitor watches production: its namespace is production's stack name.
      (var.monitoring_environment) = {
        AWS_MONITOR_ROLE_ARN = aws_iam_role.github["monitor"].arn
        STACK_ENVIRONMENT    = var.stages.production.environment
      }
    },
    {
      for key, stage in local.stages : stage.github_environment => {
        AWS_DEPLOY_ROLE_ARN = aws_iam_role.github["${key}-deploy"].arn
        STACK_ENVIRONMENT   = stage.environment
        TF_STATE_KEY        = stage.state_key
      }
    },
  )
}
