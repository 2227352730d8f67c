locals {
  # Created here rather than on first write, so they get a retention and are removed with the stack.
  log_groups = {
    function      = "/aws/lambda/${local.function_name}"
    api_access    = "/aws/apigateway/${local.name}/access"
    api_execution = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${local.stage_name}"
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Logs hold request metadata and errors, no secrets; CloudWatch encrypts at rest, a customer key would add a key policy to maintain.
  #checkov:skip=CKV_AWS_338:Retention is a cost decision exposed as log_retention_days (default 30 days), not a fixed year.
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
}
