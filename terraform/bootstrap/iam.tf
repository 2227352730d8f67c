locals {
  function_arns = [local.function_arn, "${local.function_arn}:*"]
  log_arns      = flatten([for arn in local.log_group_arns : [arn, "${arn}:*"]])

  # Refreshing the stack's state: describe what Terraform manages, nothing that reads data.
  read_stack_statements = [
    {
      Sid      = "ReadState"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.state_bucket_arn}/${local.state_key}"]
    },
    {
      Sid      = "ListState"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [local.state_bucket_arn]
    },
    {
      # use_lockfile: acquiring the lock is creating <key>.tflock, releasing it is deleting it.
      Sid      = "LockState"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      Resource = ["${local.state_bucket_arn}/${local.state_lock_key}"]
    },
    {
      Sid      = "ReadRepository"
      Effect   = "Allow"
      Action   = ["ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource"]
      Resource = [local.ecr_repository]
    },
    {
      Sid    = "ReadFunction"
      Effect = "Allow"
      Action = [
        "lambda:GetAlias", "lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionConfiguration",
        "lambda:GetPolicy", "lambda:ListAliases", "lambda:ListTags", "lambda:ListVersionsByFunction",
      ]
      Resource = local.function_arns
    },
    {
      Sid      = "ReadFunctionRole"
      Effect   = "Allow"
      Action   = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
      Resource = [local.function_role_arn]
    },
    {
      # Bucket configuration only; the bucket's objects are not readable with this statement.
      Sid    = "ReadModelBucket"
      Effect = "Allow"
      Action = [
        "s3:GetAccelerateConfiguration", "s3:GetBucket*", "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration", "s3:ListBucket",
      ]
      Resource = [local.model_bucket_arn]
    },
    {
      Sid      = "ReadLogGroups"
      Effect   = "Allow"
      Action   = ["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"]
      Resource = local.log_arns
    },
    {
      Sid      = "ReadAlarms"
      Effect   = "Allow"
      Action   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
      Resource = [local.alarm_arns]
    },
    {
      Sid      = "ReadApi"
      Effect   = "Allow"
      Action   = ["apigateway:GET"]
      Resource = local.apigateway_arns
    },
  ]

  # Everything `terraform apply` needs to create, change and destroy the stack, plus the rollout
  # (push, update-function-code, publish-version, update-alias) and the model promotion.
  deploy_statements = [
    {
      Sid      = "WriteState"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${local.state_bucket_arn}/${local.state_key}"]
    },
    {
      # GetAuthorizationToken has no resource-level permissions.
      Sid      = "LoginToRegistry"
      Effect   = "Allow"
      Action   = ["ecr:GetAuthorizationToken"]
      Resource = ["*"]
    },
    {
      Sid    = "ManageAndPushRepository"
      Effect = "Allow"
      Action = [
        "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability",
        "ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy",
        "ecr:TagResource", "ecr:UntagResource",
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
      ]
      Resource = [local.ecr_repository]
    },
    {
      Sid    = "ManageAndRollFunction"
      Effect = "Allow"
      Action = [
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
        "lambda:PublishVersion", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias",
        "lambda:AddPermission", "lambda:RemovePermission", "lambda:TagResource", "lambda:UntagResource",
        "lambda:InvokeFunction",
      ]
      Resource = local.function_arns
    },
    {
      Sid    = "ManageFunctionRole"
      Effect = "Allow"
      Action = [
        "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
        "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
      ]
      Resource = [local.function_role_arn]
    },
    {
      Sid      = "PassFunctionRoleToLambda"
      Effect   = "Allow"
      Action   = ["iam:PassRole"]
      Resource = [local.function_role_arn]
      Condition = {
        StringEquals = { "iam:PassedToService" = "lambda.amazonaws.com" }
      }
    },
    {
      Sid    = "ManageModelBucket"
      Effect = "Allow"
      Action = [
        "s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
        "s3:PutBucketPublicAccessBlock", "s3:PutBucketTagging", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
      ]
      Resource = [local.model_bucket_arn]
    },
    {
      # The deploy job copies the promoted version into the image and moves the pointer.
      Sid      = "ReadModels"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.model_bucket_arn}/models/*"]
    },
    {
      Sid      = "PromoteModel"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${local.model_bucket_arn}/models/current"]
    },
    {
      Sid    = "ManageLogGroups"
      Effect = "Allow"
      Action = [
        "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
        "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup", "logs:UntagLogGroup",
      ]
      Resource = local.log_arns
    },
    {
      Sid      = "ManageAlarms"
      Effect   = "Allow"
      Action   = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"]
      Resource = [local.alarm_arns]
    },
    {
      # The rollout gate reads the new version's metrics; metric reads have no resource-level permissions.
      Sid      = "ReadMetrics"
      Effect   = "Allow"
      Action   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"]
      Resource = ["*"]
    },
    {
      Sid      = "ManageApi"
      Effect   = "Allow"
      Action   = ["apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
      Resource = local.apigateway_arns
    },
  ]

  # Retraining adds a version to the registry; it cannot move models/current (promotion is the deploy
  # job's) nor touch the infrastructure.
  train_statements = [
    {
      Sid      = "ReadTrainingDataAndModels"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.model_bucket_arn}/data/*", "${local.model_bucket_arn}/models/*"]
    },
    {
      Sid      = "ListTrainingDataAndModels"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [local.model_bucket_arn]
      Condition = {
        StringLike = { "s3:prefix" = ["data", "data/*", "models", "models/*"] }
      }
    },
    {
      Sid      = "WriteModelVersions"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${local.model_bucket_arn}/models/versions/*"]
    },
  ]

  roles = {
    plan = {
      description = "Pull-request plans and the drift check of ${var.github_repository}: read-only, plus the state lock."
      subjects    = concat(["${local.github_subject}:pull_request"], var.plan_from_main ? ["${local.github_subject}:ref:refs/heads/main"] : [])
      statements  = local.read_stack_statements
    }
    deploy = {
      description = "Deploys of ${var.github_repository} from the ${var.production_environment} environment."
      subjects    = ["${local.github_subject}:environment:${var.production_environment}"]
      statements  = concat(local.read_stack_statements, local.deploy_statements)
    }
    train = {
      description = "Retraining of ${var.github_repository} from the ${var.training_environment} environment: new model versions only."
      subjects    = ["${local.github_subject}:environment:${var.training_environment}"]
      statements  = local.train_statements
    }
  }
}

resource "aws_iam_role" "github" {
  for_each = local.roles

  name                 = "${local.stack_name}-github-${each.key}"
  description          = each.value.description
  max_session_duration = var.max_session_duration
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        # Exact matches, no wildcards: a token from another repository, branch or environment is refused.
        StringEquals = {
          "${local.oidc_issuer}:aud" = "sts.amazonaws.com"
          "${local.oidc_issuer}:sub" = each.value.subjects
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "github" {
  for_each = local.roles

  name = each.key
  role = aws_iam_role.github[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = each.value.statements
  })
}
