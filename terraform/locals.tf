locals {
  # Every name derives from this, so two stacks (prefix or environment differ) never collide in one account.
  name = "${var.name_prefix}-${var.environment}"

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The bootstrap's deploy and train roles are scoped to these same names; keep the two in step.
  model_bucket_name = "${local.name}-models-${local.account_id}"
  model_prefix      = "models"
  model_bucket_arn  = "arn:${local.partition}:s3:::${local.model_bucket_name}"

  function_name = local.name
  function_arn  = "arn:${local.partition}:lambda:${var.aws_region}:${local.account_id}:function:${local.function_name}"
  alias_name    = "live"

  # The seed's endpoint is https://{api_id}.execute-api.{region}.amazonaws.com/predict/
  stage_name   = "predict"
  endpoint_url = "https://${aws_api_gateway_rest_api.this.id}.execute-api.${var.aws_region}.${data.aws_partition.current.dns_suffix}/${aws_api_gateway_stage.this.stage_name}/"
}
