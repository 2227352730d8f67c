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
    # CloudWatch Logs counts the EMF lines it could not parse (not JSON) or not turn into metrics (a bad
    # _aws block, too many metrics or dimensions): each one is a request whose model metrics are lost.
    # The handler writes them, so a release that breaks them fails here, before anything else sees it.
    emf-validation-errors = {
      description = "Log lines of the function carried EMF metrics CloudWatch rejected: the model metrics of those requests are lost."
      namespace   = "AWS/Logs"
      metric      = "EMFValidationErrors"
      dimensions  = local.function_log_dimensions
      statistic   = "Sum"
      threshold   = 1
    }
    emf-parsing-errors = {
      description = "Log lines of the function meant as EMF could not be parsed: the model metrics of those requests are lost."
      namespace   = "AWS/Logs"
      metric      = "EMFParsingErrors"
      dimensions  = local.function_log_dimensions
      statistic   = "Sum"
      threshold   = 1
    }
  }
  function_log_dimensions = { LogGroupName = aws_cloudwatch_log_group.this["function"].name }
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
  # The tail of every Metrics Insights query on the versions behind the alias (here and on the dashboard).
  per_executed_version = join(" ", [
    "FROM SCHEMA(\"AWS/Lambda\", ExecutedVersion, FunctionName, Resource)",
    "WHERE FunctionName = '${local.function_name}' AND Resource = '${local.alias_dimensions.Resource}'",
    "GROUP BY ExecutedVersion",
  ])

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

# Of the alarms above, those the canary watches too (canary_alarm_names): throttles and 5XX of the whole
# alias (refused or failed before a version is known), and the EMF errors: a release that breaks its own
# metrics must not reach 100 %, or nothing after it is measured.
locals {
  canary_stack_alarms = ["function-throttles", "api-5xx", "emf-validation-errors", "emf-parsing-errors"]
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
    expression  = "SELECT ${each.value.aggregate}(${each.value.metric}) ${local.per_executed_version} ORDER BY ${each.value.aggregate}() DESC LIMIT 1"
  }
}

# The model's own health, from the handler's EMF metrics: per scored record each flag is 0 or 1, so a
# version's average is the share of its records flagged. Grouped by ModelVersion and keeping the worst,
# like the canary queries: a new model's drift is not averaged away by the old one's traffic.
#
# Watch-only: they are not in canary_alarm_names. A canary serves too few records for a stable rate in its
# few minutes, and a shift in the inputs is the world changing, not the release breaking; a rollback
# would not fix it. They tell whoever watches to look at the drift check and consider a retrain.
locals {
  model_rate_alarms = {
    low-confidence = {
      metric      = "LowConfidence"
      description = "More than ${var.alarm_low_confidence_rate * 100}% of one model version's records scored below its low-confidence cut-off."
      threshold   = var.alarm_low_confidence_rate
    }
    out-of-range = {
      metric      = "OutOfRange"
      description = "More than ${var.alarm_out_of_range_rate * 100}% of one model version's records had a value outside the training range."
      threshold   = var.alarm_out_of_range_rate
    }
    imputed = {
      metric      = "Imputed"
      description = "More than ${var.alarm_imputed_rate * 100}% of one model version's records had a missing value imputed."
      threshold   = var.alarm_imputed_rate
    }
  }
  # The tail of every Metrics Insights query on the handler's metrics (here and on the dashboard); the
  # namespace holds a hyphen, so it is quoted.
  per_model_version = "FROM SCHEMA(\"${local.metrics_namespace}\", ${local.handler_metrics.dimension}) GROUP BY ${local.handler_metrics.dimension}"
}

resource "aws_cloudwatch_metric_alarm" "model" {
  for_each = local.model_rate_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = var.alarm_model_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  # No predictions is not drift.
  treat_missing_data = "notBreaching"
  alarm_actions      = var.alarm_actions
  ok_actions         = var.alarm_actions

  metric_query {
    id          = "worst_model"
    label       = "${each.value.metric} share of the worst model version"
    period      = var.alarm_period_seconds
    return_data = true
    expression  = "SELECT AVG(${each.value.metric}) ${local.per_model_version} ORDER BY AVG() DESC LIMIT 1"
  }

  lifecycle {
    # Without this, a renamed metric would leave an alarm watching nothing, never firing.
    precondition {
      condition     = contains(local.handler_metrics.per_record, each.value.metric)
      error_message = "${each.value.metric} is not a per-record metric of the handler (handler_metrics.json)."
    }
  }
}
