# The stack's dashboard: a service row (AWS metrics), a model row (the handler's EMF metrics) and a logs row
# (Logs Insights on the function's JSON lines), under a header. docs/deploy.md, "Dashboard and alarms", says
# what each widget shows and what to do when an alarm fires.
#
# Metric names come from the handler's contract (handler_metrics.json) or the alarms' locals, never a list
# typed here: classes and features exist only as the contract's prefixes, found by SEARCH, so a new model
# with other classes appears without a Terraform change. tests/monitoring.tftest.hcl checks every name.

locals {
  # Logs Insights queries on the request lines of handler.py (`status`, `error`, `route`, `latency_ms`,
  # `model_version`, `request_id` at the top level). Written once: the dashboard runs them, the query
  # definitions save them.
  log_queries = {
    errors-by-code = {
      title = "Error answers by status, code and route"
      query = join(" | ", [
        "fields @timestamp, status, error, route, model_version",
        "filter status >= 400",
        "stats count(*) as answers by status, error, route",
        "sort answers desc",
      ])
    }
    slowest-requests = {
      title = "Slowest requests (handler time)"
      query = join(" | ", [
        "fields @timestamp, latency_ms, route, status, model_version, request_id",
        "filter ispresent(latency_ms)",
        "sort latency_ms desc",
        "limit 20",
      ])
    }
  }

  # What every metric widget shares; `period` is the alarms' so a graph shows what an alarm evaluates.
  graph = { region = var.aws_region, period = var.alarm_period_seconds, view = "timeSeries" }

  # A metric widget names a metric as [namespace, name, dimension, value, ..., {options}].
  api_dimension_pairs   = flatten([for name, value in local.api_dimensions : [name, value]])
  alias_dimension_pairs = flatten([for name, value in local.alias_dimensions : [name, value]])
  # Metrics Insights SCHEMA and SEARCH both need the namespace quoted: the stack's name holds hyphens.
  handler_schema = "{\"${local.metrics_namespace}\",${local.handler_metrics.dimension}}"
  confidence     = "Confidence"

  # Rows of widgets on the 24-column grid, each under a one-high title; the widgets of a row share its
  # width equally, so x, y, width and height follow from the order.
  rows = [
    { title = "Service", widgets = [
      {
        type = "metric", properties = merge(local.graph, {
          title   = "API requests and errors", stat = "Sum"
          metrics = [for metric in ["Count", "4XXError", "5XXError"] : concat(["AWS/ApiGateway", metric], local.api_dimension_pairs)]
        })
      },
      {
        type = "metric", properties = merge(local.graph, {
          title = "API latency (ms)"
          metrics = [
            for line in [["Latency", "p50"], ["Latency", "p99"], ["IntegrationLatency", "p99"]] :
            concat(["AWS/ApiGateway", line[0]], local.api_dimension_pairs, [{ stat = line[1], label = "${line[0]} ${line[1]}" }])
          ]
        })
      },
      {
        type = "alarm", properties = {
          title = "Alarms of ${local.name}"
          alarms = concat(
            [for alarm in aws_cloudwatch_metric_alarm.this : alarm.arn],
            [for alarm in aws_cloudwatch_metric_alarm.canary : alarm.arn],
            [for alarm in aws_cloudwatch_metric_alarm.model : alarm.arn],
          )
        }
      },
    ] },
    { title = "Function versions", widgets = concat([
      for metric in [
        { title = "Invocations by version", queries = { invocations = "SUM(Invocations)" } },
        { title = "Errors by version", queries = { errors = "SUM(Errors)" } },
        # Metrics Insights has no percentiles: the average and the worst; the alias-wide p99 is the API's.
        { title = "Duration by version (ms)", queries = { average = "AVG(Duration)", longest = "MAX(Duration)" } },
        ] : {
        type = "metric", properties = merge(local.graph, {
          title = metric.title
          metrics = [for id, aggregate in metric.queries : [{
            id = id, label = id, expression = "SELECT ${aggregate} ${local.per_executed_version}"
          }]]
        })
      }
      ], [{
        type = "metric", properties = merge(local.graph, {
          title = "Throttles and concurrency (live alias)"
          metrics = [
            for line in [["Throttles", "Sum"], ["ConcurrentExecutions", "Maximum"]] :
            concat(["AWS/Lambda", line[0]], local.alias_dimension_pairs, [{ stat = line[1] }])
          ]
        })
    }]) },
    { title = "Model", widgets = [
      {
        type = "metric", properties = merge(local.graph, {
          title   = "Scored records by model version"
          metrics = [[{ id = "records", label = "records", expression = "SELECT COUNT(${local.confidence}) ${local.per_model_version}" }]]
        })
      },
      {
        type = "metric", properties = merge(local.graph, {
          # Each class metric is 0/1 per record: its average is the class's share of the answers.
          title = "Class shares by model version", stacked = true
          metrics = [[{
            id         = "classes", label = "",
            expression = "SEARCH('${local.handler_schema} MetricName=${local.handler_metrics.per_class_prefix}', 'Average', ${var.alarm_period_seconds})"
          }]]
        })
      },
      {
        type = "metric", properties = merge(local.graph, {
          # SEARCH, not Metrics Insights: only SEARCH has percentiles.
          title = "Confidence p10 and p50 by model version"
          metrics = [for stat in ["p10", "p50"] : [{
            id         = stat, label = stat,
            expression = "SEARCH('${local.handler_schema} MetricName=\"${local.confidence}\"', '${stat}', ${var.alarm_period_seconds})"
          }]]
        })
      },
      {
        type = "metric", properties = merge(local.graph, {
          title = "Flagged records by model version (share)"
          metrics = [for key, alarm in local.model_rate_alarms : [{
            id = replace(key, "-", "_"), label = key, expression = "SELECT AVG(${alarm.metric}) ${local.per_model_version}"
          }]]
        })
      },
    ] },
    { title = "Logs", widgets = [
      for query in local.log_queries : {
        type = "log", properties = {
          title = query.title, region = var.aws_region, view = "table"
          query = "SOURCE '${aws_cloudwatch_log_group.this["function"].name}' | ${query.query}"
        }
      }
    ] },
  ]
  # The console of the partition the stack is in (dashboard_url).
  console_host = lookup({ aws-cn = "console.amazonaws.cn", aws-us-gov = "console.amazonaws-us-gov.com" }, local.partition, "console.aws.amazon.com")

  header_height = 2
  widget_height = 6

  dashboard_widgets = concat(
    [{
      type = "text", x = 0, y = 0, width = 24, height = local.header_height
      properties = {
        markdown = join("\n\n", [
          "# ${local.name}",
          "Managed by Terraform (terraform/monitoring.tf): edits made here are overwritten by the next apply. Model metrics are in the `${local.metrics_namespace}` namespace by `${local.handler_metrics.dimension}`; the drift check (`python -m lambda_model drift`), the daily monitor (monitor.yml) and retraining (retrain.yml) are in docs/deploy.md, sections 6 and 9.",
        ])
      }
    }],
    flatten([
      for index, row in local.rows : concat(
        [{
          type       = "text", x = 0, y = local.header_height + index * (1 + local.widget_height), width = 24, height = 1
          properties = { markdown = "## ${row.title}" }
        }],
        [for position, widget in row.widgets : merge(widget, {
          x      = position * floor(24 / length(row.widgets))
          y      = local.header_height + index * (1 + local.widget_height) + 1
          width  = floor(24 / length(row.widgets))
          height = local.widget_height
        })],
      )
    ]),
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.name
  # jsonencode normalises the body, so the plan shows no change for formatting alone.
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })

  lifecycle {
    precondition {
      condition     = contains(local.handler_metrics.per_record, local.confidence)
      error_message = "The dashboard counts records by ${local.confidence}, which handler_metrics.json no longer lists."
    }
  }
}

resource "aws_cloudwatch_query_definition" "this" {
  for_each = local.log_queries

  # The console groups saved queries by the path before the last "/".
  name            = "${local.name}/${each.key}"
  log_group_names = [aws_cloudwatch_log_group.this["function"].name]
  query_string    = each.value.query
}
