# Plan-free unit tests of the stack: the AWS provider is mocked, so these run offline in seconds.
# Computed attributes that feed assertions get realistic defaults in tests/mocks (shared by every test file).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  image_repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model"
  model_bucket         = "lambda-model-models-123456789012"
  image_uri            = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model:0123abc"
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
    image_uri = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model:fedcba9"
  }
  override_resource {
    target = aws_lambda_function.this
    values = { version = "7" }
  }

  assert {
    condition     = aws_lambda_function.this.image_uri == "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model:0123abc"
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
      ReadModels   = { action = ["s3:GetObject"], resource = ["arn:aws:s3:::lambda-model-models-123456789012/models/*"] }
      ListModels   = { action = ["s3:ListBucket"], resource = ["arn:aws:s3:::lambda-model-models-123456789012"] }
      WriteOwnLogs = { action = ["logs:CreateLogStream", "logs:PutLogEvents"], resource = ["arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/lambda-model-prod:*"] }
      WriteTraces  = { action = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resource = ["*"] }
    }
    error_message = "The function reads only models/, writes only its own log group and traces."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function.policy).Statement : lookup(s, "Condition", null) if s.Sid == "ListModels"][0] == null
    error_message = "Listing carries no s3:prefix condition: S3's 404 for a missing models/current is checked without one (tests/iam)."
  }
}

# The registry is the bootstrap's: the stack only names it, and owns neither the repository nor the bucket.
run "shared_registry" {
  assert {
    condition     = output.model_bucket == "lambda-model-models-123456789012" && output.model_store == "s3://lambda-model-models-123456789012/models"
    error_message = "The model outputs name the shared bucket the stack was given."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function.policy).Statement : s.Resource if s.Sid == "ListModels"][0] == ["arn:aws:s3:::lambda-model-models-123456789012"]
    error_message = "The function reads the shared bucket."
  }
}

# A stack with no image yet: the placeholder is in the shared repository (the function's create would fail
# with a clear error, and the check block warns).
run "no_image_yet" {
  command = plan
  # A stack of its own: the earlier runs' function already has an image.
  state_key = "no_image_yet"
  variables {
    image_uri = null
  }

  assert {
    condition     = aws_lambda_function.this.image_uri == "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model:unset"
    error_message = "Without image_uri the function names the shared repository's placeholder tag."
  }
  expect_failures = [check.image_uri_for_first_deploy]
}

run "image_from_another_repository" {
  command = plan
  variables {
    image_uri = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod:0123abc"
  }
  expect_failures = [var.image_uri]
}

run "staging_stack" {
  variables {
    environment = "staging"
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "lambda-model-staging" && aws_iam_role.function.permissions_boundary == "arn:aws:iam::123456789012:policy/lambda-model-staging-function-boundary"
    error_message = "The staging stack's names and boundary are its own (the bootstrap's per-stage boundary)."
  }
  assert {
    condition     = aws_lambda_function.this.image_uri == var.image_uri && output.model_bucket == "lambda-model-models-123456789012"
    error_message = "Both stacks run images of the one repository and read the one bucket."
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
    condition     = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset(["api-5xx", "function-errors", "function-throttles", "api-p99-latency", "emf-validation-errors", "emf-parsing-errors"])
    error_message = "Alarms cover API 5xx, function errors, throttles, p99 latency and lost EMF metrics."
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
    condition = toset(output.canary_alarm_names) == toset([
      "lambda-model-prod-canary-errors", "lambda-model-prod-canary-duration", "lambda-model-prod-function-throttles",
      "lambda-model-prod-api-5xx", "lambda-model-prod-emf-validation-errors", "lambda-model-prod-emf-parsing-errors",
    ])
    error_message = "The release watches the per-version alarms plus alias throttles, API 5xx and lost EMF metrics."
  }
}

run "api_key_enabled" {
  variables {
    enable_api_key    = true
    api_quota_per_day = 10000
    model_uri         = "s3://lambda-model-models-123456789012/models"
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
      MODEL_URI = "s3://lambda-model-models-123456789012/models", METRICS_NAMESPACE = "lambda-model-prod"
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
    log_level            = "WARN"
  }

  expect_failures = [
    var.name_prefix, var.environment, var.image_uri, var.memory_size, var.timeout, var.log_retention_days,
    var.throttle_burst_limit, var.alarm_actions, var.architecture, var.log_level,
  ]
}

run "rejects_an_invalid_registry" {
  command = plan

  variables {
    image_repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lambda-model:latest"
    model_bucket         = "Models_Bucket"
  }

  expect_failures = [var.image_repository_url, var.model_bucket]
}
