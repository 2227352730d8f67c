locals {
  # Every name derives from this, so two stacks (prefix or environment differ) never collide in one account.
  name = "${var.name_prefix}-${var.environment}"

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The bootstrap's shared registry; its roles are scoped to these same names, keep the two in step.
  model_prefix     = "models"
  model_bucket_arn = "arn:${local.partition}:s3:::${var.model_bucket}"

  function_name = local.name
  # The handler's EMF namespace (METRICS_NAMESPACE): one per stack, so two stacks in an account never mix
  # their model metrics; the dashboard and the model alarms read it from here.
  metrics_namespace = local.name
  # Every metric name the handler can emit (tests/unit/test_monitoring.py keeps the file equal to
  # lambda_model.serving.metrics.contract()): class and feature names exist only as the two prefixes.
  handler_metrics = jsondecode(file("${path.module}/handler_metrics.json"))
  function_arn    = "arn:${local.partition}:lambda:${var.aws_region}:${local.account_id}:function:${local.function_name}"
  alias_name      = "live"

  # The seed's endpoint is https://{api_id}.execute-api.{region}.amazonaws.com/predict/
  stage_name   = "predict"
  endpoint_url = "https://${aws_api_gateway_rest_api.this.id}.execute-api.${var.aws_region}.${data.aws_partition.current.dns_suffix}/${aws_api_gateway_stage.this.stage_name}/"
}
