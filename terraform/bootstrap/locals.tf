locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region

  # The stack's names (terraform/locals.tf derives the same ones); every role below is scoped to them.
  stack_name        = "${var.name_prefix}-${var.environment}"
  model_bucket_arn  = "arn:${local.partition}:s3:::${local.stack_name}-models-${local.account_id}"
  ecr_repository    = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${local.stack_name}"
  function_arn      = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.stack_name}"
  function_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${local.stack_name}-function"
  alarm_arns        = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.stack_name}-*"
  log_group_arns = [
    for name in ["/aws/lambda/${local.stack_name}", "/aws/apigateway/${local.stack_name}/access"] :
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${name}"
  ]
  # API-Gateway-Execution-Logs_<api id>/<stage>: the ID is generated, so the name fixes the stage (the stack's
  # stage_name) and iam.tf fixes the stack with the tags every stack resource carries.
  execution_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:API-Gateway-Execution-Logs_*/predict"
  stack_tags              = { Project = var.name_prefix, Environment = var.environment }
  # API Gateway resources are addressed by generated IDs, so the region's API Gateway paths are the
  # narrowest scope IAM offers.
  apigateway_arns = [
    for path in ["/restapis", "/restapis/*", "/usageplans", "/usageplans/*", "/apikeys", "/apikeys/*", "/tags/*"] :
    "arn:${local.partition}:apigateway:${local.region}::${path}"
  ]

  state_bucket     = coalesce(var.state_bucket_name, "${local.stack_name}-tfstate-${local.account_id}")
  state_bucket_arn = "arn:${local.partition}:s3:::${local.state_bucket}"
  state_key        = "${var.name_prefix}/${var.environment}/terraform.tfstate"
  # use_lockfile writes this object next to the state while a run holds the lock.
  state_lock_key = "${local.state_key}.tflock"

  # GitHub's default subject is repo:<owner>/<name>:<context>; repositories with immutable subject claims
  # append the numeric IDs: repo:<owner>@<id>/<name>@<id>:<context>. Trust exactly one of the two forms.
  github_owner   = split("/", var.github_repository)[0]
  github_name    = split("/", var.github_repository)[1]
  github_subject = var.github_owner_id == null ? "repo:${var.github_repository}" : "repo:${local.github_owner}@${var.github_owner_id}/${local.github_name}@${var.github_repository_id}"

  oidc_issuer       = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
}

locals {
  # The stack's dashboard (terraform/monitoring.tf names it after the stack); dashboard ARNs have no region.
  dashboard_arn = "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${local.stack_name}"
}
