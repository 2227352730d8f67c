# The dashboard, the saved log queries and the EMF and model alarms against what the handler emits:
# every metric they name is AWS's or in handler_metrics.json (lambda_model.serving.metrics.contract()),
# under the namespace the function is given. A name typed wrong here or in monitoring.tf/alarms.tf fails.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  image_repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model"
  model_bucket         = "lambda-model-models-123456789012"
  image_uri            = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model:0123abc"

  # The AWS metrics the stack may use, by namespace (the API Gateway, Lambda and CloudWatch Logs metric
  # references); anything outside AWS/ must be the handler's.
  aws_metrics = {
    "AWS/ApiGateway" = ["Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"]
    "AWS/Lambda"     = ["Invocations", "Errors", "Duration", "Throttles", "ConcurrentExecutions"]
    "AWS/Logs"       = ["EMFValidationErrors", "EMFParsingErrors"]
  }
  # The captures (metric, namespace) of a Metrics Insights query and (namespace, metric) of a SEARCH.
  insights_query = "^SELECT [A-Z]+\\(([A-Za-z0-9_]+)\\) FROM SCHEMA\\(\"([^\"]+)\""
  search_query   = "^SEARCH\\('\\{\"([^\"]+)\",[A-Za-z0-9_,]+\\} MetricName=\"?([A-Za-z0-9_]+)\"?'"
}

run "every_metric_is_emitted" {
  # apply, so the alarm ARNs the dashboard lists are known (mocked).

  assert {
    # Each expression of the dashboard and the query alarms is one of the two query forms, so none escapes
    # the checks below.
    condition = alltrue([
      for expression in concat(
        flatten([
          for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
            for line in try(widget.properties.metrics, []) : try(line[0].expression, [])
          ]
        ]),
        [for alarm in concat(values(aws_cloudwatch_metric_alarm.canary), values(aws_cloudwatch_metric_alarm.model)) : one(alarm.metric_query).expression],
      ) : length(regexall(var.insights_query, expression)) + length(regexall(var.search_query, expression)) == 1
    ])
    error_message = "Every dashboard and alarm expression is a Metrics Insights SELECT ... FROM SCHEMA(\"<namespace>\", ...) or a SEARCH('{\"<namespace>\",...} MetricName=...')."
  }

  assert {
    condition = alltrue([
      for used in concat(
        # The namespace and metric of every metric line, expression and plain alarm.
        flatten([
          for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
            for line in try(widget.properties.metrics, []) : concat(
              [for match in regexall(var.insights_query, try(line[0].expression, "")) : { namespace = match[1], metric = match[0] }],
              [for match in regexall(var.search_query, try(line[0].expression, "")) : { namespace = match[0], metric = match[1] }],
              [for metric in [line] : { namespace = tostring(metric[0]), metric = tostring(metric[1]) } if !can(metric[0].expression)],
            )
          ]
        ]),
        flatten([
          for alarm in concat(values(aws_cloudwatch_metric_alarm.canary), values(aws_cloudwatch_metric_alarm.model)) : [
            for match in regexall(var.insights_query, one(alarm.metric_query).expression) : { namespace = match[1], metric = match[0] }
          ]
        ]),
        [for alarm in aws_cloudwatch_metric_alarm.this : { namespace = alarm.namespace, metric = alarm.metric_name }],
      ) :
      startswith(used.namespace, "AWS/")
      ? contains(lookup(var.aws_metrics, used.namespace, []), used.metric)
      : contains(concat(
        jsondecode(file("handler_metrics.json")).per_record,
        jsondecode(file("handler_metrics.json")).per_container,
        # SEARCH names a class or feature metric by its prefix only: classes and features are the model's.
        [jsondecode(file("handler_metrics.json")).per_class_prefix, jsondecode(file("handler_metrics.json")).per_feature_prefix],
      ), used.metric)
    ])
    error_message = "A metric on the dashboard or in an alarm is neither an AWS metric nor one the handler emits (terraform/handler_metrics.json)."
  }

  assert {
    # The namespace of every handler metric is the one the function writes to, and the dimension its own.
    condition = alltrue([
      for namespace in concat(
        flatten([
          for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
            for line in try(widget.properties.metrics, []) : [
              for match in concat(regexall(var.insights_query, try(line[0].expression, "")), regexall(var.search_query, try(line[0].expression, ""))) :
              startswith(line[0].expression, "SELECT") ? match[1] : match[0]
            ]
          ]
        ]),
        [for alarm in aws_cloudwatch_metric_alarm.model : regex(var.insights_query, one(alarm.metric_query).expression)[1]],
      ) : startswith(namespace, "AWS/") || namespace == aws_lambda_function.this.environment[0].variables.METRICS_NAMESPACE
    ])
    error_message = "The dashboard and the model alarms read the handler's metrics under the function's METRICS_NAMESPACE."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.METRICS_NAMESPACE == "lambda-model-prod"
    error_message = "The metrics namespace is the stack's name, so stacks sharing an account never mix their metrics."
  }
  assert {
    condition = alltrue([
      for alarm in aws_cloudwatch_metric_alarm.model :
      strcontains(one(alarm.metric_query).expression, "GROUP BY ${jsondecode(file("handler_metrics.json")).dimension} ORDER BY AVG() DESC LIMIT 1")
    ])
    error_message = "Each model alarm watches the worst model version (GROUP BY the contract's dimension, highest average first)."
  }
}

run "dashboard" {
  assert {
    condition     = aws_cloudwatch_dashboard.this.dashboard_name == "lambda-model-prod" && output.dashboard_name == "lambda-model-prod"
    error_message = "One dashboard, named after the stack."
  }
  assert {
    condition     = output.dashboard_url == "https://console.aws.amazon.com/cloudwatch/home?region=eu-central-1#dashboards/dashboard/lambda-model-prod"
    error_message = "dashboard_url opens the dashboard in the console of the stack's partition and region."
  }
  assert {
    condition = alltrue([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets :
      widget.x >= 0 && widget.width >= 1 && widget.x + widget.width <= 24 && widget.height >= 1
    ])
    error_message = "Every widget fits the dashboard's 24-column grid."
  }
  assert {
    condition     = strcontains(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[0].properties.markdown, "Managed by Terraform")
    error_message = "The header says that the dashboard is managed by Terraform and edits are overwritten."
  }
  assert {
    condition = toset(one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.alarms if widget.type == "alarm"
      ])) == toset(concat(
      [for alarm in aws_cloudwatch_metric_alarm.this : alarm.arn],
      [for alarm in aws_cloudwatch_metric_alarm.canary : alarm.arn],
      [for alarm in aws_cloudwatch_metric_alarm.model : alarm.arn],
    ))
    error_message = "One alarm status widget lists every alarm of the stack."
  }
  assert {
    # The dashboard's log widgets and the saved queries run the same query strings on the function's logs.
    condition = toset([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.query if widget.type == "log"
      ]) == toset([
      for query in aws_cloudwatch_query_definition.this : "SOURCE '/aws/lambda/lambda-model-prod' | ${query.query_string}"
    ])
    error_message = "Each log widget runs a saved query definition, on the function's log group."
  }
  assert {
    condition = alltrue([
      for query in aws_cloudwatch_query_definition.this :
      query.log_group_names == tolist(["/aws/lambda/lambda-model-prod"]) && startswith(query.name, "lambda-model-prod/")
    ])
    error_message = "The saved queries run on the function's log group and are filed under the stack's name."
  }
  assert {
    condition = (
      strcontains(aws_cloudwatch_query_definition.this["errors-by-code"].query_string, "filter status >= 400") &&
      strcontains(aws_cloudwatch_query_definition.this["slowest-requests"].query_string, "sort latency_ms desc")
    )
    error_message = "The queries read the request line's fields: errors by status and code, requests by latency_ms."
  }
}

run "alarms_the_canary_watches" {
  assert {
    condition = alltrue([
      for key in ["emf-validation-errors", "emf-parsing-errors"] :
      aws_cloudwatch_metric_alarm.this[key].namespace == "AWS/Logs" &&
      aws_cloudwatch_metric_alarm.this[key].dimensions == tomap({ LogGroupName = "/aws/lambda/lambda-model-prod" }) &&
      aws_cloudwatch_metric_alarm.this[key].threshold == 1 &&
      contains(output.canary_alarm_names, aws_cloudwatch_metric_alarm.this[key].alarm_name)
    ])
    error_message = "Any EMF line CloudWatch rejects in the function's log group raises an alarm the canary watches."
  }
  assert {
    condition     = length(setintersection(toset(output.canary_alarm_names), toset(values(output.model_alarm_names)))) == 0
    error_message = "The model alarms are watch-only: a canary's few records make no stable rate, and a rollback does not fix drifting inputs."
  }
  assert {
    condition = {
      for key, alarm in aws_cloudwatch_metric_alarm.model : key => [alarm.threshold, alarm.treat_missing_data, alarm.evaluation_periods]
      } == {
      low-confidence = [0.10, "notBreaching", 3]
      out-of-range   = [0.05, "notBreaching", 3]
      imputed        = [0.05, "notBreaching", 3]
    }
    error_message = "The model alarms' default thresholds (0.10, 0.05, 0.05) over 3 periods; no predictions is not drift."
  }
}

run "rejects_invalid_monitoring_variables" {
  command = plan

  variables {
    # WARN would drop the INFO line that carries each request's metrics.
    log_level                      = "WARN"
    alarm_low_confidence_rate      = 1.5
    alarm_out_of_range_rate        = 0
    alarm_imputed_rate             = -0.1
    alarm_model_evaluation_periods = 48
  }

  expect_failures = [
    var.log_level, var.alarm_low_confidence_rate, var.alarm_out_of_range_rate, var.alarm_imputed_rate,
    var.alarm_model_evaluation_periods,
  ]
}
