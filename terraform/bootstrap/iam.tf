locals {
  function_arns = [local.function_arn, "${local.function_arn}:*"]
  log_arns      = flatten([for arn in local.log_group_arns : [arn, "${arn}:*"]])
  # By name, as terraform/iam.tf derives it: the policies below must not wait for the boundary to exist.
  function_boundary_arn = "arn:${local.partition}:iam::${local.account_id}:policy/${local.stack_name}-function-boundary"

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
      Sid    = "ReadRepository"
      Effect = "Allow"
      # DescribeImages is the build's, not the refresh's: it is in the deploy statements.
      Action   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource"]
      Resource = [local.ecr_repository]
    },
    {
      # What the recorded refresh reads. The provider reads the tags from GetFunction (no ListTags), the code
      # signing config only of zip functions (this one is an image), and no alias list; GetFunctionConfiguration
      # is the rollout's (deploy statements).
      Sid      = "ReadFunction"
      Effect   = "Allow"
      Action   = ["lambda:GetAlias", "lambda:GetFunction", "lambda:GetPolicy", "lambda:ListVersionsByFunction"]
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
      # ListTagsForResource only: the provider no longer calls the deprecated ListTagsLogGroup.
      Sid      = "ReadLogGroups"
      Effect   = "Allow"
      Action   = ["logs:ListTagsForResource"]
      Resource = concat(local.log_arns, [local.execution_log_group_arn, "${local.execution_log_group_arn}:*"])
    },
    {
      # DescribeLogGroups has no resource-level permissions: AWS evaluates it against
      # log-group::log-stream:, so a grant on named log groups fails every refresh with AccessDenied.
      Sid      = "DescribeLogGroups"
      Effect   = "Allow"
      Action   = ["logs:DescribeLogGroups"]
      Resource = ["*"]
    },
    {
      # Refresh reads the alarms; the deploy job's canary (lambda_release) also resolves and watches them
      # with DescribeAlarms before and while traffic shifts.
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
    {
      # The stack's one dashboard (terraform/monitoring.tf), named after the stack; dashboards are global.
      Sid      = "ReadDashboard"
      Effect   = "Allow"
      Action   = ["cloudwatch:GetDashboard"]
      Resource = [local.dashboard_arn]
    },
    {
      # Query definitions have no resource-level permissions (Service Authorization Reference): a grant on
      # the log group they query would not match. Reading them lists saved queries, never log data.
      Sid      = "ReadQueryDefinitions"
      Effect   = "Allow"
      Action   = ["logs:DescribeQueryDefinitions"]
      Resource = ["*"]
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
      Sid    = "LoginToRegistry"
      Effect = "Allow"
      Action = [
        "ecr:GetAuthorizationToken", # unused offline: docker login before the image push (amazon-ecr-login)
      ]
      Resource = ["*"]
    },
    {
      Sid    = "ManageAndPushRepository"
      Effect = "Allow"
      Action = [
        "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy",
        "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:TagResource",
        "ecr:PutImageScanningConfiguration", # unused offline: an apply that changes scan on push (create sets it)
        "ecr:PutImageTagMutability",         # unused offline: an apply that changes tag mutability (create sets it)
        "ecr:UntagResource",                 # unused offline: an apply that removes a tag
        "ecr:DescribeImages",                # unused offline: the build-image action looks the tag up before and after the push
        "ecr:BatchCheckLayerAvailability",   # unused offline: docker push of the release image
        "ecr:InitiateLayerUpload",           # unused offline: docker push of the release image
        "ecr:UploadLayerPart",               # unused offline: docker push of the release image
        "ecr:CompleteLayerUpload",           # unused offline: docker push of the release image
        "ecr:PutImage",                      # unused offline: docker push of the release image
        "ecr:BatchGetImage",                 # unused offline: pulls of the pushed image (moto keeps manifests, no layers)
        "ecr:GetDownloadUrlForLayer",        # unused offline: pulls of the pushed image (moto keeps manifests, no layers)
      ]
      Resource = [local.ecr_repository]
    },
    {
      Sid    = "ManageAndRollFunction"
      Effect = "Allow"
      Action = [
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:GetFunctionConfiguration",
        "lambda:PublishVersion", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias",
        "lambda:AddPermission", "lambda:RemovePermission", "lambda:TagResource",
        "lambda:UpdateFunctionConfiguration", # unused offline: an apply that changes the function's settings (memory, timeout, logging)
        "lambda:UntagResource",               # unused offline: an apply that removes a tag
      ]
      Resource = local.function_arns
    },
    {
      # The rollout's pre-traffic check invokes the new version by number (Qualifier), never the alias.
      Sid      = "PreTrafficCheck"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = ["${local.function_arn}:*"]
    },
    {
      # The canary reads the new version's Invocations and its per-version alarms' metrics (ExecutedVersion)
      # to tell a quiet canary from one no request reached. GetMetricData has no resource-level permissions
      # (the Service Authorization Reference lists only *), so it cannot be scoped to the stack's metrics.
      Sid      = "ReadCanaryMetrics"
      Effect   = "Allow"
      Action   = ["cloudwatch:GetMetricData"]
      Resource = ["*"]
    },
    {
      # No UpdateAssumeRolePolicy: rewriting the function role's trust to name the deploy role is the first
      # step of making itself admin. The trust is set once, by CreateRole; changing it is an admin's change.
      Sid    = "ManageFunctionRole"
      Effect = "Allow"
      Action = [
        "iam:DeleteRole", "iam:TagRole", "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
        "iam:UpdateRole", "iam:UpdateRoleDescription", # unused offline: an apply that changes the role's description or session duration
        "iam:UntagRole",                               # unused offline: an apply that removes a tag
      ]
      Resource = [local.function_role_arn]
    },
    {
      # Creating the role and writing its inline policy only with the function boundary attached: whatever
      # the policy (or a recreated role's trust) says, the role can never do more than the boundary allows.
      # PutRolePermissionsBoundary (this boundary only) lets the first apply attach it to an existing role.
      Sid    = "WriteFunctionRoleWithinBoundary"
      Effect = "Allow"
      Action = [
        "iam:CreateRole",
        "iam:PutRolePermissionsBoundary", # unused offline: the first apply on a role created before the boundary existed
        "iam:PutRolePolicy",
      ]
      Resource  = [local.function_role_arn]
      Condition = { ArnEquals = { "iam:PermissionsBoundary" = local.function_boundary_arn } }
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
      # destroy-only: force_destroy empties the versioned model bucket version by version before DeleteBucket.
      Sid      = "EmptyModelBucketOnDestroy"
      Effect   = "Allow"
      Action   = ["s3:ListBucketVersions"]
      Resource = [local.model_bucket_arn]
    },
    {
      # destroy-only: the object half of force_destroy (DeleteObjects of every version and delete marker).
      # Each is deleted by VersionId, which is s3:DeleteObjectVersion only (recorded); s3:DeleteObject would
      # only add delete markers, which force_destroy never writes.
      Sid      = "DeleteModelVersionsOnDestroy"
      Effect   = "Allow"
      Action   = ["s3:DeleteObjectVersion"]
      Resource = ["${local.model_bucket_arn}/*"]
    },
    {
      # The repository is KMS-encrypted with the AWS-managed aws/ecr key: ECR creates a grant for it on
      # CreateRepository and retires it on DeleteRepository, on the caller's behalf, so only via ECR.
      Sid    = "EcrKmsGrants"
      Effect = "Allow"
      Action = [
        "kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant", # unused offline: ECR calls KMS on the caller's behalf; moto calls no KMS
      ]
      Resource = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]
      Condition = {
        StringEquals = { "kms:ViaService" = "ecr.${local.region}.amazonaws.com" }
      }
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
      # The provider tags with the *Resource APIs (not the deprecated *LogGroup ones), and never deletes a
      # retention: log_retention_days always sets one.
      Action = [
        "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:TagResource",
        "logs:UntagResource", # unused offline: an apply that removes a tag
      ]
      Resource = local.log_arns
    },
    {
      # Only this stack's execution log group: the stage in the name, the stack in the tags (CreateLogGroup
      # sends them; the provider's default_tags put them on every stack resource).
      Sid       = "CreateExecutionLogGroup"
      Effect    = "Allow"
      Action    = ["logs:CreateLogGroup", "logs:TagResource"]
      Resource  = [local.execution_log_group_arn, "${local.execution_log_group_arn}:*"]
      Condition = { StringEquals = { for key, value in local.stack_tags : "aws:RequestTag/${key}" => value } }
    },
    {
      Sid    = "ManageExecutionLogGroup"
      Effect = "Allow"
      Action = [
        "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
        "logs:UntagResource", # unused offline: an apply that removes a tag
      ]
      Resource  = [local.execution_log_group_arn, "${local.execution_log_group_arn}:*"]
      Condition = { StringEquals = { for key, value in local.stack_tags : "aws:ResourceTag/${key}" => value } }
    },
    {
      Sid    = "ManageAlarms"
      Effect = "Allow"
      Action = [
        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource",
        "cloudwatch:UntagResource", # unused offline: an apply that removes a tag
      ]
      Resource = [local.alarm_arns]
    },
    {
      Sid      = "ManageApi"
      Effect   = "Allow"
      Action   = ["apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
      Resource = local.apigateway_arns
    },
    {
      Sid      = "ManageDashboard"
      Effect   = "Allow"
      Action   = ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"]
      Resource = [local.dashboard_arn]
    },
    {
      # No resource-level permissions (see ReadQueryDefinitions), so any saved query of the account: a saved
      # query is a query string, and running it needs logs:StartQuery, which no pipeline role has.
      Sid      = "ManageQueryDefinitions"
      Effect   = "Allow"
      Action   = ["logs:PutQueryDefinition", "logs:DeleteQueryDefinition"]
      Resource = ["*"]
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
      # Unconditioned on purpose: S3 answers a GetObject of a missing key with 404 only when the caller may
      # ListBucket, and that check carries no s3:prefix, so an s3:prefix condition turns "no models/current
      # yet" into 403 and the first retrain's gate fails. The bucket holds only data/ and models/.
      Sid      = "ListTrainingDataAndModels"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [local.model_bucket_arn]
    },
    {
      # New versions, and the gate's frozen reference sets: the first gate that has a production model to
      # judge writes one under models/reference/ (once, with If-None-Match; a reference set is never rewritten).
      Sid      = "WriteModelVersions"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${local.model_bucket_arn}/models/versions/*", "${local.model_bucket_arn}/models/reference/*"]
    },
  ]

  # Every pipeline role carries this guard: none may touch the pipeline roles, the OIDC provider or the
  # function boundary, nor strip or swap a permissions boundary, whatever an Allow elsewhere says.
  no_escalation_statement = {
    Sid    = "NoPrivilegeEscalation"
    Effect = "Deny"
    Action = [
      "iam:AttachRolePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
      "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy",
      "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
    ]
    Resource = [
      "arn:${local.partition}:iam::${local.account_id}:role/${local.stack_name}-github-*",
      local.function_boundary_arn,
      # By name, not the resource's ARN: the same provider whether created here or looked up.
      "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.oidc_issuer}",
    ]
  }

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
    monitor = {
      description = "The daily model monitor of ${var.github_repository} from the ${var.monitoring_environment} environment: read-only."
      subjects    = ["${local.github_subject}:environment:${var.monitoring_environment}"]
      statements  = local.monitor_statements
    }
  }
}

locals {
  # The monitor reads which version is served and that version's baseline, then the version's metrics. It reads
  # no model file, no data and no other version's files, and writes nothing.
  monitor_statements = [
    {
      # models/current names the served version; its metadata.json holds the baseline (registry/store.py layout).
      Sid      = "ReadServedModelMetadata"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.model_bucket_arn}/models/current", "${local.model_bucket_arn}/models/versions/*/metadata.json"]
    },
    {
      # As for the train role: without ListBucket a missing models/current is a 403, not the 404 from which the
      # monitor tells "no model served yet" apart from a refused read. Listing shows key names only.
      Sid      = "TellMissingFromForbidden"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [local.model_bucket_arn]
    },
    {
      # GetMetricData has no resource-level permissions (the Service Authorization Reference lists only *), so
      # it cannot be scoped to the stack's namespace; it reads metrics, and metrics only.
      Sid      = "ReadMetrics"
      Effect   = "Allow"
      Action   = ["cloudwatch:GetMetricData"]
      Resource = ["*"]
    },
  ]
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
    Statement = concat(each.value.statements, [local.no_escalation_statement])
  })
}

# The most the function role may ever do (terraform/iam.tf attaches it): the deploy role can write that
# role's policy and create it only with this boundary, so rewriting either gains nothing beyond serving.
resource "aws_iam_policy" "function_boundary" {
  name        = "${local.stack_name}-function-boundary"
  description = "Permissions boundary of the ${local.stack_name} Lambda function role."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:ListBucket"]
        Resource = [local.model_bucket_arn, "${local.model_bucket_arn}/models/*"]
      },
      {
        Sid    = "WriteOwnLogs"
        Effect = "Allow"
        Action = [
          "logs:CreateLogStream", "logs:PutLogEvents", # unused offline: the Lambda runtime writes the handler's logs, not the handler
        ]
        Resource = ["${local.log_group_arns[0]}:*"]
      },
      {
        # X-Ray has no resource-level permissions for writing segments.
        Sid    = "WriteTraces"
        Effect = "Allow"
        Action = [
          "xray:PutTraceSegments", "xray:PutTelemetryRecords", # unused offline: Lambda's X-Ray integration sends them, not the handler
        ]
        Resource = ["*"]
      },
    ]
  })
}
