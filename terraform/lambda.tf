resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Reaches only S3 and CloudWatch through public AWS endpoints; a VPC would add NAT or endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_173:The only environment variables are non-secret settings (metrics namespace, model location).
  #checkov:skip=CKV_AWS_272:Lambda code signing does not apply to container images; the image is pinned by digest in an immutable repository.
  #checkov:skip=CKV_AWS_115:Reserved concurrency would be carved out of the account pool (10 in new accounts); the API stage throttle bounds load instead.
  function_name = local.function_name
  description   = "Model predictions for ${local.name}; invoked through the ${local.alias_name} alias."
  role          = aws_iam_role.function.arn
  package_type  = "Image"
  architectures = [var.architecture]
  image_uri     = coalesce(var.image_uri, "${var.image_repository_url}:unset")
  memory_size   = var.memory_size
  timeout       = var.timeout
  # Version 1 is published on create so the alias has something to point at; later versions are published
  # by the deploy workflow after update-function-code.
  publish = true

  environment {
    # Without model_uri the image's own MODEL_URI (the baked-in model) stays in effect.
    variables = merge(
      { METRICS_NAMESPACE = local.metrics_namespace },
      var.model_uri == null ? {} : { MODEL_URI = var.model_uri },
    )
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this["function"].name
    application_log_level = var.log_level
    system_log_level      = "WARN"
  }

  tracing_config {
    mode = "Active"
  }

  lifecycle {
    # The deploy workflow rolls the image (update-function-code); applying must never put an old one back.
    ignore_changes = [image_uri]
  }

  # The repository policy that lets Lambda pull for this function is the bootstrap's (registry.tf).
  depends_on = [aws_iam_role_policy.function]
}

# A warning in every plan without image_uri: harmless for an existing stack, while on the first deploy it
# explains the CreateFunction error that follows.
check "image_uri_for_first_deploy" {
  assert {
    condition     = var.image_uri != null
    error_message = "image_uri is not set. That is fine when planning an existing stack (the deployed image is kept), but the first apply needs -var image_uri=<an image already pushed to ${var.image_repository_url}>; see docs/infrastructure.md."
  }
}

resource "aws_lambda_alias" "live" {
  name             = local.alias_name
  description      = "What API Gateway invokes; moved by the deploy workflow, never by Terraform after creation."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    # update-alias during rollout and rollback owns these.
    ignore_changes = [function_version, routing_config]
  }
}
