# REST API execution and access logs are written with a role set once per account and region, not per
# API: an account-level concern, so it lives here with the admin-applied resources.
resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name        = "${local.production_stack_name}-apigateway-cloudwatch"
  description = "Lets API Gateway write execution and access logs in ${local.region}."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

# The actions of the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy, limited to this region's
# log groups of this account (the managed policy allows every resource).
resource "aws_iam_role_policy" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name = "push-to-cloudwatch-logs"
  role = aws_iam_role.apigateway_cloudwatch[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Action = [
          "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:FilterLogEvents",
          "logs:GetLogEvents", "logs:PutLogEvents",
        ]
        Resource = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
      },
      {
        # DescribeLogGroups has no resource-level permissions: scoped to log groups it is never allowed.
        Effect   = "Allow"
        Action   = ["logs:DescribeLogGroups"]
        Resource = ["*"]
      },
    ]
  })
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy.apigateway_cloudwatch]
}
