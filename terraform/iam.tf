locals {
  # What the running function may do, and nothing more: read the model prefix (when MODEL_URI points at S3),
  # write its own log group, send traces.
  function_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.model_bucket_arn}/${local.model_prefix}/*"]
      },
      {
        # Unconditioned on purpose: S3 answers a GetObject of a missing key with 404 only when the caller may
        # ListBucket, and that check carries no s3:prefix. With an s3:prefix condition a function started
        # before the first promotion reads 403 ("forbidden") where the store means "no model yet". The
        # bucket holds only training data and models; listing reveals key names, no contents.
        Sid      = "ListModels"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.model_bucket_arn]
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:${local.log_groups.function}:*"]
      },
      {
        # X-Ray has no resource-level permissions for writing segments.
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      },
    ]
  }
}

resource "aws_iam_role" "function" {
  name        = "${local.name}-function"
  description = "Execution role of the ${local.function_name} Lambda function."
  # Created by the bootstrap; the deploy role may create this role and write its policy only with it attached.
  permissions_boundary = "arn:${local.partition}:iam::${local.account_id}:policy/${local.name}-function-boundary"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      # Only this account's Lambda service may assume it (confused-deputy guard).
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "function" {
  name   = "runtime"
  role   = aws_iam_role.function.id
  policy = jsonencode(local.function_policy)
}
