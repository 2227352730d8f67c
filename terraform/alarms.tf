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

# The canary's alarms: the new version's own health while the alias sends it a share of the traffic.
#
# Through an alias, Lambda publishes each invocation's metrics with the dimensions FunctionName, Resource
# (function:alias) and ExecutedVersion (the version that ran it). The version changes with every release, so
# no alarm here can name it. Instead each query groups the alias's metrics by ExecutedVersion and keeps the
# worst version (ORDER BY ... DESC LIMIT 1): a canary at 10% that errs is seen at its own rate, not diluted by
# the 90% the previous, healthy version serves. Metrics Insights has no percentiles, so the duration alarm
# watches the worst version's average; the alias-wide p99 stays with api-p99-latency above. Throttles are
# refused before any version runs, so they stay alias-wide (function-throttles), which the canary watches too.
locals {
  canary_queries = {
    canary-errors = {
      description = "One version behind the live alias (during a canary: the new one) ended invocations in an error."
      metric      = "Errors"
      aggregate   = "SUM"
      threshold   = var.alarm_errors_threshold
    }
    canary-duration = {
      description = "One version behind the live alias runs for more than ${var.alarm_canary_duration_ms} ms on average."
      metric      = "Duration"
      aggregate   = "AVG"
      threshold   = var.alarm_canary_duration_ms
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "canary" {
  for_each = local.canary_queries

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "worst_version"
    label       = "${each.value.metric} of the worst version behind ${local.alias_dimensions.Resource}"
    period      = var.alarm_period_seconds
    return_data = true
    expression = join(" ", [
      "SELECT ${each.value.aggregate}(${each.value.metric})",
      "FROM SCHEMA(\"AWS/Lambda\", ExecutedVersion, FunctionName, Resource)",
      "WHERE FunctionName = '${local.function_name}' AND Resource = '${local.alias_dimensions.Resource}'",
      "GROUP BY ExecutedVersion ORDER BY ${each.value.aggregate}() DESC LIMIT 1",
    ])
  }
}
