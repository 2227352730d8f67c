# Plan-free unit tests of the stack: the AWS provider is mocked, so these run offline in seconds.
# Computed attributes that feed assertions get realistic defaults below.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/test"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = {
      id               = "a1b2c3d4e5"
      root_resource_id = "rootid0001"
      execution_arn    = "arn:aws:execute-api:eu-central-1:123456789012:a1b2c3d4e5"
    }
  }
  mock_resource "aws_lambda_alias" {
    defaults = {
      arn        = "arn:aws:lambda:eu-central-1:123456789012:function:lambda-model-prod:live"
      invoke_arn = "arn:aws:apigateway:eu-central-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-central-1:123456789012:function:lambda-model-prod:live/invocations"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/lambda-model-prod-function"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-central-1:123456789012:log-group:mocked"
    }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod"
    }
  }
}

variables {
  image_uri = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod:0123abc"
}

run "function_and_alias" {
  override_resource {
    target = aws_lambda_function.this
    values = { version = "1" }
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "lambda-model-prod" && aws_lambda_function.this.package_type == "Image"
    error_message = "The function is named <prefix>-<environment> and built from an image."
  }
  assert {
    condition     = aws_lambda_function.this.image_uri == var.image_uri
    error_message = "The function is created from the image passed in image_uri."
  }
  assert {
    condition     = aws_lambda_function.this.memory_size == 1024 && aws_lambda_function.this.timeout == 10 && aws_lambda_function.this.timeout < 29
    error_message = "Memory and timeout come from the variables; the timeout stays below API Gateway's 29 s."
  }
  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "X-Ray tracing must be active."
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_format == "JSON" && aws_lambda_function.this.logging_config[0].log_group == "/aws/lambda/lambda-model-prod"
    error_message = "The function logs JSON into its own managed log group."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ METRICS_NAMESPACE = "lambda-model-prod" })
    error_message = "Without model_uri the function keeps the image's MODEL_URI (the baked-in model); its metrics namespace is the stack's name."
  }
  assert {
    condition     = aws_lambda_alias.live.name == "live" && aws_lambda_alias.live.function_version == "1"
    error_message = "The live alias starts at the version published on create."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this["function"].retention_in_days == 30 && aws_cloudwatch_log_group.this["api_access"].retention_in_days == 30
    error_message = "Log groups get the configured retention."
  }
}

# What the workflows own must survive an apply: a different image_uri and a newly published version
# in the configuration must not move the function's image or the alias.
run "apply_does_not_revert_a_rollout" {
  variables {
    image_uri = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod:fedcba9"
  }
  override_resource {
    target = aws_lambda_function.this
    values = { version = "7" }
  }

  assert {
    condition     = aws_lambda_function.this.image_uri == "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod:0123abc"
    error_message = "image_uri is in ignore_changes: Terraform must keep the image the workflow rolled."
  }
  assert {
    condition     = aws_lambda_alias.live.function_version == "1"
    error_message = "function_version is in ignore_changes: Terraform must not move the live alias."
  }
}

run "function_role_least_privilege" {
  assert {
    condition     = jsondecode(aws_iam_role.function.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "Only Lambda assumes the function role."
  }
  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.function.policy).Statement : s.Sid => { action = s.Action, resource = s.Resource }
      } == {
      ReadModels   = { action = ["s3:GetObject"], resource = ["arn:aws:s3:::lambda-model-prod-models-123456789012/models/*"] }
      ListModels   = { action = ["s3:ListBucket"], resource = ["arn:aws:s3:::lambda-model-prod-models-123456789012"] }
      WriteOwnLogs = { action = ["logs:CreateLogStream", "logs:PutLogEvents"], resource = ["arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/lambda-model-prod:*"] }
      WriteTraces  = { action = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resource = ["*"] }
    }
    error_message = "The function reads only models/, writes only its own log group and traces."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function.policy).Statement : s.Condition if s.Sid == "ListModels"][0].StringLike["s3:prefix"] == ["models", "models/*"]
    error_message = "Listing is restricted to the models/ prefix."
  }
}

# The hardening itself (public access, ownership, versioning, KMS, TLS-only policy) is asserted on the
# module in modules/private-bucket/tests/; here, what this root passes in, read back from the bucket.
run "model_bucket" {
  assert {
    condition     = module.model_bucket.name == "lambda-model-prod-models-123456789012" && !module.model_bucket.force_destroy
    error_message = "The bucket name is unique per account and the bucket is not force-destroyed by default."
  }
  assert {
    condition     = module.model_bucket.noncurrent_version_days == 90
    error_message = "Overwritten model versions and pointers are kept 90 days by default."
  }
  assert {
    condition     = output.model_bucket == module.model_bucket.name
    error_message = "The model_bucket output names the module's bucket."
  }
}

run "image_repository" {
  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Tags are immutable and images are scanned on push."
  }
  assert {
    condition     = alltrue([for rule in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : rule.selection.tagStatus == "untagged"])
    error_message = "The lifecycle policy may only expire untagged images, never a release a function version uses."
  }
  assert {
    condition     = jsondecode(aws_ecr_repository_policy.this.policy).Statement[0].Condition.StringLike["aws:SourceArn"] == "arn:aws:lambda:eu-central-1:123456789012:function:lambda-model-prod*"
    error_message = "Only this function may pull from the repository."
  }
}

run "api" {
  assert {
    condition     = toset(keys(aws_api_gateway_method.this)) == toset(["/", "/predict", "/health", "/{proxy+}"])
    error_message = "The API routes the stage root, /predict, /health and a catch-all."
  }
  assert {
    condition     = aws_api_gateway_method.this["/"].resource_id == "rootid0001"
    error_message = "POST on the stage root predicts, as in the seed."
  }
  assert {
    condition     = alltrue([for method in aws_api_gateway_method.this : method.http_method == "ANY"])
    error_message = "Every route takes ANY method, so a wrong method reaches the function (405 JSON), not API Gateway's 403."
  }
  assert {
    condition = alltrue([
      for integration in aws_api_gateway_integration.this :
      integration.type == "AWS_PROXY" && integration.integration_http_method == "POST" && integration.uri == aws_lambda_alias.live.invoke_arn
    ])
    error_message = "Every route is a Lambda proxy to the live alias."
  }
  assert {
    condition     = alltrue([for method in aws_api_gateway_method.this : !method.api_key_required])
    error_message = "Without enable_api_key no route needs a key."
  }
  assert {
    condition = (
      aws_lambda_permission.api.source_arn == "arn:aws:execute-api:eu-central-1:123456789012:a1b2c3d4e5/predict/*" &&
      aws_lambda_permission.api.qualifier == "live" && aws_lambda_permission.api.principal == "apigateway.amazonaws.com"
    )
    error_message = "Only this API's stage may invoke the live alias."
  }
  assert {
    condition     = aws_api_gateway_stage.this.stage_name == "predict" && aws_api_gateway_stage.this.xray_tracing_enabled
    error_message = "The stage is named predict (the seed's URL) and traced."
  }
  assert {
    condition     = aws_api_gateway_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.this["api_access"].arn
    error_message = "Access logs go to the managed log group."
  }
  assert {
    condition = (
      aws_api_gateway_method_settings.all.method_path == "*/*" &&
      aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit == 50 &&
      aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == 100 &&
      aws_api_gateway_method_settings.all.settings[0].logging_level == "ERROR" &&
      !aws_api_gateway_method_settings.all.settings[0].data_trace_enabled
    )
    error_message = "Every method is throttled, logs errors and never logs request bodies."
  }
  assert {
    condition     = length(aws_api_gateway_usage_plan.this) == 0 && length(aws_api_gateway_api_key.this) == 0 && output.api_key_id == null
    error_message = "No key or usage plan unless enable_api_key."
  }
  assert {
    condition     = output.endpoint_url == "https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com/predict/"
    error_message = "endpoint_url is the seed's URL form: https://{api_id}.execute-api.{region}.amazonaws.com/predict/"
  }
  assert {
    condition     = output.health_url == "https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com/predict/health"
    error_message = "health_url is the stage's /health."
  }
  assert {
    condition     = output.alias_name == "live" && output.model_prefix == "models" && output.function_name == "lambda-model-prod"
    error_message = "The names the workflows rely on."
  }
}

run "alarms" {
  variables {
    alarm_actions = ["arn:aws:sns:eu-central-1:123456789012:oncall"]
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset(["api-5xx", "function-errors", "function-throttles", "api-p99-latency"])
    error_message = "Alarms cover API 5xx, function errors, throttles and p99 latency."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["api-p99-latency"].extended_statistic == "p99" &&
      aws_cloudwatch_metric_alarm.this["api-p99-latency"].statistic == null &&
      aws_cloudwatch_metric_alarm.this["api-p99-latency"].threshold == 1000
    )
    error_message = "The latency alarm uses the p99 extended statistic."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["function-errors"].dimensions == tomap({ FunctionName = "lambda-model-prod", Resource = "lambda-model-prod:live" })
    error_message = "Function alarms watch the live alias."
  }
  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_actions == toset(var.alarm_actions) && alarm.ok_actions == toset(var.alarm_actions)])
    error_message = "Alarms notify alarm_actions."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.canary)) == toset(["canary-errors", "canary-duration"])
    error_message = "The canary watches each version's errors and duration."
  }
  assert {
    condition = alltrue([
      for alarm in aws_cloudwatch_metric_alarm.canary :
      strcontains(one(alarm.metric_query).expression, "GROUP BY ExecutedVersion") &&
      strcontains(one(alarm.metric_query).expression, "Resource = 'lambda-model-prod:live'")
    ])
    error_message = "Canary alarms measure each version behind the live alias (ExecutedVersion), not the alias as a whole."
  }
  assert {
    condition     = toset(output.canary_alarm_names) == toset(["lambda-model-prod-canary-errors", "lambda-model-prod-canary-duration", "lambda-model-prod-function-throttles", "lambda-model-prod-api-5xx"])
    error_message = "The release watches the per-version alarms plus alias throttles and API 5xx."
  }
}

run "api_key_enabled" {
  variables {
    enable_api_key    = true
    api_quota_per_day = 10000
    model_uri         = "s3://lambda-model-prod-models-123456789012/models"
  }

  assert {
    condition     = alltrue([for key, method in aws_api_gateway_method.this : method.api_key_required == (key != "/health")])
    error_message = "With enable_api_key every route but /health requires the key."
  }
  assert {
    condition = (
      aws_api_gateway_usage_plan.this[0].throttle_settings[0].rate_limit == 50 &&
      aws_api_gateway_usage_plan.this[0].throttle_settings[0].burst_limit == 100 &&
      aws_api_gateway_usage_plan.this[0].quota_settings[0].limit == 10000
    )
    error_message = "The usage plan carries the stage throttling and the quota."
  }
  assert {
    condition     = output.api_key_id != null && aws_api_gateway_usage_plan_key.this[0].key_type == "API_KEY"
    error_message = "The key is created, attached to the plan and its ID is an output."
  }
  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      MODEL_URI = "s3://lambda-model-prod-models-123456789012/models", METRICS_NAMESPACE = "lambda-model-prod"
    })
    error_message = "model_uri overrides MODEL_URI, next to the metrics namespace."
  }
}

run "rejects_invalid_variables" {
  command = plan

  variables {
    name_prefix          = "Lambda_Model"
    environment          = "Prod!"
    image_uri            = "docker.io/library/python:3.12"
    memory_size          = 64
    timeout              = 29
    log_retention_days   = 42
    throttle_burst_limit = 0
    alarm_actions        = ["not-an-arn"]
    architecture         = "sparc"
  }

  expect_failures = [
    var.name_prefix, var.environment, var.image_uri, var.memory_size, var.timeout, var.log_retention_days,
    var.throttle_burst_limit, var.alarm_actions, var.architecture,
  ]
}
