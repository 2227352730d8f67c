output "endpoint_url" {
  description = "POST a JSON record of the model's features here for a prediction (the seed's URL: the stage root)."
  value       = local.endpoint_url
}

output "health_url" {
  description = "GET here for the health check (no API key needed)."
  value       = "${local.endpoint_url}health"
}

output "api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "Name of the API stage (the first path segment of the URL)."
  value       = aws_api_gateway_stage.this.stage_name
}

output "api_key_id" {
  description = "ID of the API key when enable_api_key is true, else null; read the value with `aws apigateway get-api-key --api-key <id> --include-value`."
  value       = one(aws_api_gateway_api_key.this[*].id)
}

output "function_name" {
  description = "Name of the Lambda function (for update-function-code and publish-version)."
  value       = aws_lambda_function.this.function_name
}

output "alias_name" {
  description = "Name of the alias API Gateway invokes (for update-alias)."
  value       = aws_lambda_alias.live.name
}

output "function_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.function.arn
}

output "model_bucket" {
  description = "Name of the model bucket (the bootstrap's shared model registry)."
  value       = var.model_bucket
}

output "model_store" {
  description = "The model registry as the CLI names it (s3://<bucket>/<prefix>)."
  value       = "s3://${var.model_bucket}/${local.model_prefix}"
}

output "model_prefix" {
  description = "Key prefix of the model registry inside the bucket: <prefix>/versions/<id>/ and the pointer <prefix>/current."
  value       = local.model_prefix
}

output "alarm_names" {
  description = "Names of the stack's metric alarms (API, function and EMF errors), e.g. for a rollout gate."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
}

output "canary_alarm_names" {
  description = "The alarms the release's canary watches (python -m lambda_release deploy --alarm): any in ALARM rolls it back."
  value = concat(
    [for alarm in aws_cloudwatch_metric_alarm.canary : alarm.alarm_name],
    [for key in local.canary_stack_alarms : aws_cloudwatch_metric_alarm.this[key].alarm_name],
  )
}

output "model_alarm_names" {
  description = "The watch-only model alarms (share of low-confidence, out-of-range and imputed records of the worst model version); not in canary_alarm_names."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.model : key => alarm.alarm_name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of the stack (service, model and log rows)."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the dashboard."
  value       = "https://${local.console_host}/cloudwatch/home?region=${var.aws_region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "log_query_names" {
  description = "Names of the saved Logs Insights queries (Logs Insights, Queries), the same the dashboard's log widgets run."
  value       = { for key, query in aws_cloudwatch_query_definition.this : key => query.name }
}
