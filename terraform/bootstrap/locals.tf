locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region

  # Names the single-stage install derived from its one environment (the state bucket, the API Gateway
  # logging role, the train and monitor roles): production's stack name keeps them, so the migration renames
  # nothing that already exists.
  production_stack_name = "${var.name_prefix}-${var.stages.production.environment}"

  # The shared registry (registry.tf): one repository and one model bucket both stages read; production
  # deploys the very digest staging pushed and tested.
  image_repository_name = coalesce(var.image_repository_name, var.name_prefix)
  image_repository_arn  = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${local.image_repository_name}"
  model_bucket_name     = coalesce(var.model_bucket_name, "${var.name_prefix}-models-${local.account_id}")
  model_bucket_arn      = "arn:${local.partition}:s3:::${local.model_bucket_name}"

  state_bucket     = coalesce(var.state_bucket_name, "${local.production_stack_name}-tfstate-${local.account_id}")
  state_bucket_arn = "arn:${local.partition}:s3:::${local.state_bucket}"

  # Each stage's stack names (terraform/locals.tf derives the same ones from name_prefix and environment);
  # every stage role below is scoped to its own stage's.
  stages = {
    for key, stage in var.stages : key => {
      environment        = stage.environment
      github_environment = stage.github_environment
      stack_name         = "${var.name_prefix}-${stage.environment}"
      function_arn       = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name_prefix}-${stage.environment}"
      function_role_arn  = "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-${stage.environment}-function"
      # By name, as terraform/iam.tf derives it: the policies must not wait for the boundary to exist.
      function_boundary_arn = "arn:${local.partition}:iam::${local.account_id}:policy/${var.name_prefix}-${stage.environment}-function-boundary"
      alarm_arns            = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name_prefix}-${stage.environment}-*"
      log_group_arns = [
        for name in ["/aws/lambda/${var.name_prefix}-${stage.environment}", "/aws/apigateway/${var.name_prefix}-${stage.environment}/access"] :
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${name}"
      ]
      # The stack's dashboard (terraform/monitoring.tf names it after the stack); dashboard ARNs have no region.
      dashboard_arn = "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.name_prefix}-${stage.environment}"
      # The tags the stack's provider puts on every resource (default_tags); API Gateway and the execution log
      # group are told apart by them alone (iam.tf).
      stack_tags     = { Project = var.name_prefix, Environment = stage.environment }
      state_key      = "${var.name_prefix}/${stage.environment}/terraform.tfstate"
      state_lock_key = "${var.name_prefix}/${stage.environment}/terraform.tfstate.tflock"
      # Every other stage's environment: its API Gateway resources are explicitly denied to this stage's roles.
      other_environments = [for other_key, other in var.stages : other.environment if other_key != key]
    }
  }

  # API-Gateway-Execution-Logs_<api id>/<stage>: the ID is generated, so the name fixes the API stage (the
  # stack's stage_name, the same in every stack) and iam.tf tells the stacks apart by their tags.
  execution_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:API-Gateway-Execution-Logs_*/predict"
  # API Gateway resources are addressed by generated IDs, not names: creating is a POST on a collection (the
  # request carries the tags), everything else addresses a resource under one (its tags, or its parent API's).
  apigateway_collection_arns = [for path in ["/restapis", "/usageplans", "/apikeys"] : "arn:${local.partition}:apigateway:${local.region}::${path}"]
  apigateway_resource_arns   = [for path in ["/restapis/*", "/usageplans/*", "/apikeys/*", "/tags/*"] : "arn:${local.partition}:apigateway:${local.region}::${path}"]

  # GitHub's default subject is repo:<owner>/<name>:<context>; repositories with immutable subject claims
  # append the numeric IDs: repo:<owner>@<id>/<name>@<id>:<context>. Trust exactly one of the two forms.
  github_owner   = split("/", var.github_repository)[0]
  github_name    = split("/", var.github_repository)[1]
  github_subject = var.github_owner_id == null ? "repo:${var.github_repository}" : "repo:${local.github_owner}@${var.github_owner_id}/${local.github_name}@${var.github_repository_id}"

  oidc_issuer       = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
}
