locals {
  # Every path is a Lambda proxy to the live alias for ANY method, so the function answers a wrong method
  # (405) and, through the {proxy+} catch-all, an unknown path (404) with its JSON errors; a method
  # API Gateway had no route for would get its own 403 "Missing Authentication Token" instead.
  # "" is the stage root, where the seed's curl POSTs.
  routes = {
    "/"         = { path = "", public = false }
    "/predict"  = { path = "predict", public = false }
    "/health"   = { path = "health", public = true }
    "/{proxy+}" = { path = "{proxy+}", public = false }
  }
  route_paths = toset([for route in local.routes : route.path if route.path != ""])
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.name
  description = "Model predictions (${local.name}): the request and answer follow the served model's signature."

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    # A replacement gets a new ID (and URL): have it serving before the old one goes.
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "this" {
  for_each = local.route_paths

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value
}

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV2_AWS_53:The function validates the request body itself and answers 400 with JSON; a gateway model would duplicate the schema.
  for_each = local.routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = each.value.path == "" ? aws_api_gateway_rest_api.this.root_resource_id : aws_api_gateway_resource.this[each.value.path].id
  http_method      = "ANY"
  authorization    = "NONE"
  api_key_required = var.enable_api_key && !each.value.public
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.routes

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_method.this[each.key].resource_id
  http_method = aws_api_gateway_method.this[each.key].http_method
  type        = "AWS_PROXY"
  # Lambda proxy integrations are always invoked with POST, whatever the client's method.
  integration_http_method = "POST"
  uri                     = aws_lambda_alias.live.invoke_arn
}

# Scoped to this API and stage: no other API (or stage) may invoke the alias.
resource "aws_lambda_permission" "api" {
  statement_id  = "AllowInvokeFromApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${local.stage_name}/*"
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A deployment is a snapshot: redeploy whenever a route, method or integration changes.
  triggers = {
    redeployment = sha1(jsonencode([
      local.routes,
      var.enable_api_key,
      [for key in sort(keys(local.routes)) : aws_api_gateway_integration.this[key].id],
      [for path in sort(tolist(local.route_paths)) : aws_api_gateway_resource.this[path].id],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_method.this, aws_api_gateway_integration.this]
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses depend on the POST body; caching would serve one prediction for another and costs per hour.
  #checkov:skip=CKV2_AWS_51:Public clients call the endpoint; there is no client certificate to verify.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL costs per month and per rule; stage throttling and the optional API key bound abuse here.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = local.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.this["api_access"].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      errorMessage       = "$context.error.message"
      apiKeyId           = "$context.identity.apiKeyId"
      xrayTraceId        = "$context.xrayTraceId"
    })
  }

  # Execution logs go to the API-Gateway-Execution-Logs_<id>/<stage> group, which must exist first to
  # get a retention.
  depends_on = [aws_cloudwatch_log_group.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:See the stage: prediction responses must not be cached.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
    metrics_enabled        = true
    # Errors only, and never request bodies: execution logs would otherwise carry every payload.
    logging_level      = "ERROR"
    data_trace_enabled = false
  }
}

resource "aws_api_gateway_usage_plan" "this" {
  count = var.enable_api_key ? 1 : 0

  name        = local.name
  description = "API-key clients of ${local.name}."

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.throttle_rate_limit
    burst_limit = var.throttle_burst_limit
  }

  dynamic "quota_settings" {
    for_each = var.api_quota_per_day == null ? [] : [var.api_quota_per_day]
    content {
      limit  = quota_settings.value
      period = "DAY"
    }
  }
}

resource "aws_api_gateway_api_key" "this" {
  count = var.enable_api_key ? 1 : 0

  name        = local.name
  description = "Client key of ${local.name}; read it with `aws apigateway get-api-key --include-value`."
}

resource "aws_api_gateway_usage_plan_key" "this" {
  count = var.enable_api_key ? 1 : 0

  key_id        = aws_api_gateway_api_key.this[0].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[0].id
}
