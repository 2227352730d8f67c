locals {
  api_dimensions   = { ApiName = aws_api_gateway_rest_api.this.name, Stage = local.stage_name }
  alias_dimensions = { FunctionName = local.function_name, Resource = "${local.function_name}:${local.alias_name}" }

  # The deploy workflow may read these (by name) as its rollback gate, so names are stable.
  alarms = {
    api-5xx = {
      description = "The API answered 5XX: the function failed, timed out or could not be invoked."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      dimensions  = local.api_dimensions
      statistic   = "Sum"
      threshold   = var.alarm_5xx_threshold
    }
    function-errors = {
      description = "Invocations of the live alias ended in an error."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = local.alias_dimensions
      statistic   = "Sum"
      threshold   = var.alarm_errors_threshold
    }
    function-throttles = {
      description = "Invocations of the live alias were throttled (account or function concurrency exhausted)."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = local.alias_dimensions
      statistic   = "Sum"
      threshold   = var.alarm_throttles_threshold
    }
    api-p99-latency = {
      description = "p99 latency of the API is above ${var.alarm_p99_latency_ms} ms."
      namespace   = "AWS/ApiGateway"
      metric      = "Latency"
      dimensions  = local.api_dimensions
      statistic   = "p99"
      threshold   = var.alarm_p99_latency_ms
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name        = "${local.name}-${each.key}"
  alarm_description = each.value.description
  namespace         = each.value.namespace
  metric_name       = each.value.metric
  dimensions        = each.value.dimensions
  # Percentiles are "extended" statistics in CloudWatch; exactly one of the two may be set.
  statistic           = startswith(each.value.statistic, "p") ? null : each.value.statistic
  extended_statistic  = startswith(each.value.statistic, "p") ? each.value.statistic : null
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  # No traffic is not an incident.
  treat_missing_data = "notBreaching"
  alarm_actions      = var.alarm_actions
  ok_actions         = var.alarm_actions
}
