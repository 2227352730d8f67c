locals {
  # Refreshing a stage's state: describe what Terraform manages, nothing that reads data. The registry is the
  # bootstrap's (registry.tf): the stack only names it, so refreshing reads neither the repository nor the bucket.
  read_stack_statements = {
    for key, stage in local.stages : key => concat([
      {
        Sid      = "ReadState"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.state_bucket_arn}/${stage.state_key}"]
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
        Resource = ["${local.state_bucket_arn}/${stage.state_lock_key}"]
      },
      {
        # What the recorded refresh reads. The provider reads the tags from GetFunction (no ListTags), the code
        # signing config only of zip functions (this one is an image), and no alias list; GetFunctionConfiguration
        # is the rollout's (deploy statements).
        Sid      = "ReadFunction"
        Effect   = "Allow"
        Action   = ["lambda:GetAlias", "lambda:GetFunction", "lambda:GetPolicy", "lambda:ListVersionsByFunction"]
        Resource = [stage.function_arn, "${stage.function_arn}:*"]
      },
      {
        Sid      = "ReadFunctionRole"
        Effect   = "Allow"
        Action   = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
        Resource = [stage.function_role_arn]
      },
      {
        # ListTagsForResource only: the provider no longer calls the deprecated ListTagsLogGroup. Tags are no
        # secret, so every stack's execution log group (one name pattern, see locals.tf) may be read.
        Sid      = "ReadLogGroups"
        Effect   = "Allow"
        Action   = ["logs:ListTagsForResource"]
        Resource = concat(local.stage_log_arns[key], [local.execution_log_group_arn, "${local.execution_log_group_arn}:*"])
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
        Resource = [stage.alarm_arns]
      },
      {
        # API Gateway ARNs carry generated IDs, not names: only the stack's tags (on the API, usage plan, key
        # and stage; inherited by an API's resources, methods, integrations and deployments) tell this stage's
        # apart. A read matters too: an API key's value is readable with GET.
        Sid       = "ReadOwnApi"
        Effect    = "Allow"
        Action    = ["apigateway:GET"]
        Resource  = local.apigateway_resource_arns
        Condition = local.on_own_resource[key]
      },
      {
        # The stack's one dashboard (terraform/monitoring.tf), named after the stack; dashboards are global.
        Sid      = "ReadDashboard"
        Effect   = "Allow"
        Action   = ["cloudwatch:GetDashboard"]
        Resource = [stage.dashboard_arn]
      },
      {
        # Query definitions have no resource-level permissions (Service Authorization Reference): a grant on
        # the log group they query would not match. Reading them lists saved queries, never log data.
        Sid      = "ReadQueryDefinitions"
        Effect   = "Allow"
        Action   = ["logs:DescribeQueryDefinitions"]
        Resource = ["*"]
      },
    ], local.other_stages_api_denials[key])
  }

  stage_log_arns = { for key, stage in local.stages : key => flatten([for arn in stage.log_group_arns : [arn, "${arn}:*"]]) }

  # The conditions of the tag-scoped statements (API Gateway, the execution log group): a call on a resource
  # that carries the stack's tags, and a create that sends them.
  on_own_resource = {
    for key, stage in local.stages : key => { StringEquals = { for tag, value in stage.stack_tags : "aws:ResourceTag/${tag}" => value } }
  }
  creating_with_own_tags = {
    for key, stage in local.stages : key => { StringEquals = { for tag, value in stage.stack_tags : "aws:RequestTag/${tag}" => value } }
  }

  # The explicit Deny behind the tag conditions: whatever another statement (or a future one) allows, no role of
  # a stage reads, changes or creates an API Gateway resource tagged with another stage's environment. Empty
  # while production is the only stage (the migration's first step).
  other_stages_api_denials = {
    for key, stage in local.stages : key => length(stage.other_environments) == 0 ? [] : [
      {
        Sid       = "DenyOtherStagesApis"
        Effect    = "Deny"
        Action    = ["apigateway:*"]
        Resource  = concat(local.apigateway_collection_arns, local.apigateway_resource_arns)
        Condition = { StringEquals = { "aws:ResourceTag/Environment" = stage.other_environments } }
      },
      {
        Sid       = "DenyTaggingAsOtherStages"
        Effect    = "Deny"
        Action    = ["apigateway:*"]
        Resource  = concat(local.apigateway_collection_arns, local.apigateway_resource_arns)
        Condition = { StringEquals = { "aws:RequestTag/Environment" = stage.other_environments } }
      },
    ]
  }

  # Only staging builds: it pushes the release image once, and adds the -staged tag to the digest it passed
  # (batch-get-image + put-image of the same manifest; immutable tags make that tag final). Production deploys
  # that digest: Lambda needs the caller to read the image (BatchGetImage, GetDownloadUrlForLayer), and the
  # release's guard looks the staged tag up (DescribeImages). Neither may create, delete or configure the
  # repository: the registry is the bootstrap's.
  repository_statements = {
    staging = [
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
        Sid    = "PushAndTagImages"
        Effect = "Allow"
        Action = [
          "ecr:DescribeImages",              # the build looks the tag up before and after the push; the staged check
          "ecr:BatchGetImage",               # the staged mark reads the manifest it puts under the -staged tag
          "ecr:PutImage",                    # the push's manifest, and the -staged tag on the same manifest
          "ecr:BatchCheckLayerAvailability", # unused offline: docker push of the release image
          "ecr:InitiateLayerUpload",         # unused offline: docker push of the release image
          "ecr:UploadLayerPart",             # unused offline: docker push of the release image
          "ecr:CompleteLayerUpload",         # unused offline: docker push of the release image
          "ecr:GetDownloadUrlForLayer",      # unused offline: pulls of the pushed image (moto keeps manifests, no layers)
        ]
        Resource = [local.image_repository_arn]
      },
    ]
    production = [
      {
        Sid    = "ReadImages"
        Effect = "Allow"
        Action = [
          "ecr:DescribeImages",         # the release's guard: the digest carries a -staged tag
          "ecr:BatchGetImage",          # unused offline: Lambda checks the caller may read the image it is given
          "ecr:GetDownloadUrlForLayer", # unused offline: Lambda checks the caller may read the image it is given
        ]
        Resource = [local.image_repository_arn]
      },
    ]
  }

  # What a plan role reads besides its stack: drift.yml's skew check runs with production's plan role (main
  # only) and reads the tags of the digest production's alias serves (lambda_release check-staged --function).
  plan_statements = {
    staging = []
    production = [
      {
        Sid      = "ReadImageTags"
        Effect   = "Allow"
        Action   = ["ecr:DescribeImages"] # drift's skew check: production's live digest carries a -staged tag
        Resource = [local.image_repository_arn]
      },
    ]
  }

  # Only production moves the pointer the served model and the next retrain's gate read; staging deploys the
  # pointer's model (or a retrain's candidate) without promoting it.
  model_pointer_statements = {
    staging = []
    production = [
      {
        Sid      = "PromoteModel"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${local.model_bucket_arn}/models/current"]
      },
    ]
  }

  # Everything `terraform apply` needs to create, change and destroy a stage's stack, plus the rollout
  # (update-function-code, publish-version, update-alias) and that stage's part of the registry.
  deploy_statements = {
    for key, stage in local.stages : key => concat([
      {
        Sid      = "WriteState"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${local.state_bucket_arn}/${stage.state_key}"]
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
        Resource = [stage.function_arn, "${stage.function_arn}:*"]
      },
      {
        # The rollout's pre-traffic check invokes the new version by number (Qualifier), never the alias.
        Sid      = "PreTrafficCheck"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = ["${stage.function_arn}:*"]
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
        Resource = [stage.function_role_arn]
      },
      {
        # Creating the role and writing its inline policy only with the stage's function boundary attached:
        # whatever the policy (or a recreated role's trust) says, the role can never do more than the boundary
        # allows. PutRolePermissionsBoundary (this boundary only) lets the first apply attach it to an existing role.
        Sid    = "WriteFunctionRoleWithinBoundary"
        Effect = "Allow"
        Action = [
          "iam:CreateRole",
          "iam:PutRolePermissionsBoundary", # unused offline: the first apply on a role created before the boundary existed
          "iam:PutRolePolicy",
        ]
        Resource  = [stage.function_role_arn]
        Condition = { ArnEquals = { "iam:PermissionsBoundary" = stage.function_boundary_arn } }
      },
      {
        Sid      = "PassFunctionRoleToLambda"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = [stage.function_role_arn]
        Condition = {
          StringEquals = { "iam:PassedToService" = "lambda.amazonaws.com" }
        }
      },
      {
        # The release reads models/current (which version is promoted) and copies a version into the image.
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.model_bucket_arn}/models/*"]
      },
      {
        # Unconditioned, as for the train role: without ListBucket a missing models/current (no promotion yet)
        # answers 403, not the 404 the release tells "nothing promoted" by. Listing shows key names only.
        Sid      = "ListModels"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.model_bucket_arn]
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
        Resource = local.stage_log_arns[key]
      },
      {
        # Only this stack's execution log group: the stage in the name, the stack in the tags (CreateLogGroup
        # sends them; the provider's default_tags put them on every stack resource).
        Sid       = "CreateExecutionLogGroup"
        Effect    = "Allow"
        Action    = ["logs:CreateLogGroup", "logs:TagResource"]
        Resource  = [local.execution_log_group_arn, "${local.execution_log_group_arn}:*"]
        Condition = local.creating_with_own_tags[key]
      },
      {
        Sid    = "ManageExecutionLogGroup"
        Effect = "Allow"
        Action = [
          "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
          "logs:UntagResource", # unused offline: an apply that removes a tag
        ]
        Resource  = [local.execution_log_group_arn, "${local.execution_log_group_arn}:*"]
        Condition = local.on_own_resource[key]
      },
      {
        Sid    = "ManageAlarms"
        Effect = "Allow"
        Action = [
          "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource",
          "cloudwatch:UntagResource", # unused offline: an apply that removes a tag
        ]
        Resource = [stage.alarm_arns]
      },
      {
        # Creating an API, usage plan or key is a POST on its collection with the tags in the request: only
        # with this stack's tags (the provider's default_tags send them on create).
        Sid       = "CreateOwnApi"
        Effect    = "Allow"
        Action    = ["apigateway:POST"]
        Resource  = local.apigateway_collection_arns
        Condition = local.creating_with_own_tags[key]
      },
      {
        # Everything else addresses an existing resource, whose tags (or its parent API's or usage plan's,
        # which API Gateway's child resources inherit for access control) must be this stack's.
        Sid       = "ManageOwnApi"
        Effect    = "Allow"
        Action    = ["apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
        Resource  = local.apigateway_resource_arns
        Condition = local.on_own_resource[key]
      },
      {
        Sid      = "ManageDashboard"
        Effect   = "Allow"
        Action   = ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"]
        Resource = [stage.dashboard_arn]
      },
      {
        # No resource-level permissions (see ReadQueryDefinitions), so any saved query of the account: a saved
        # query is a query string, and running it needs logs:StartQuery, which no pipeline role has.
        Sid      = "ManageQueryDefinitions"
        Effect   = "Allow"
        Action   = ["logs:PutQueryDefinition", "logs:DeleteQueryDefinition"]
        Resource = ["*"]
      },
    ], local.repository_statements[key], local.model_pointer_statements[key])
  }

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

  # Every pipeline role carries this guard: none may touch any stage's pipeline roles (or the train and monitor
  # roles), the OIDC provider or any stage's function boundary, nor strip or swap a permissions boundary,
  # whatever an Allow elsewhere says.
  no_escalation_statement = {
    Sid    = "NoPrivilegeEscalation"
    Effect = "Deny"
    Action = [
      "iam:AttachRolePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
      "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy",
      "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
    ]
    Resource = concat(
      [for key, stage in local.stages : "arn:${local.partition}:iam::${local.account_id}:role/${stage.stack_name}-github-*"],
      [for key, stage in local.stages : stage.function_boundary_arn],
      # By name, not the resource's ARN: the same provider whether created here or looked up.
      ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.oidc_issuer}"],
    )
  }

  # Per stage: a plan role (pull requests and main for staging; main only for production, see below) and a
  # deploy role trusted only from the stage's GitHub environment. Production's keep the single-stage install's
  # names (moved.tf), so their ARNs do not change.
  stage_roles = merge([
    for key, stage in local.stages : {
      "${key}-plan" = {
        name        = "${stage.stack_name}-github-plan"
        policy_name = "plan"
        description = "Plans and the drift check of the ${key} stack of ${var.github_repository}: read-only, plus the state lock."
        # Pull requests plan staging only: production's state can hold the API key's value, and the stages'
        # variable files differ only by a tested list (terraform/stages/), so staging's plan shows the change.
        subjects = key == "staging" ? concat(
          ["${local.github_subject}:pull_request"],
          var.plan_from_main ? ["${local.github_subject}:ref:refs/heads/main"] : [],
        ) : ["${local.github_subject}:ref:refs/heads/main"]
        statements = concat(local.read_stack_statements[key], local.plan_statements[key])
      }
      "${key}-deploy" = {
        name        = "${stage.stack_name}-github-deploy"
        policy_name = "deploy"
        description = "Releases of ${var.github_repository} to the ${key} stack, from the ${stage.github_environment} environment."
        subjects    = ["${local.github_subject}:environment:${stage.github_environment}"]
        statements  = concat(local.read_stack_statements[key], local.deploy_statements[key])
      }
    }
  ]...)

  roles = merge(local.stage_roles, {
    # The registry is shared, so are these two: their names stay the single-stage install's.
    train = {
      name        = "${local.production_stack_name}-github-train"
      policy_name = "train"
      description = "Retraining of ${var.github_repository} from the ${var.training_environment} environment: new model versions only."
      subjects    = ["${local.github_subject}:environment:${var.training_environment}"]
      statements  = local.train_statements
    }
    monitor = {
      name        = "${local.production_stack_name}-github-monitor"
      policy_name = "monitor"
      description = "The daily model monitor of ${var.github_repository} from the ${var.monitoring_environment} environment: read-only."
      subjects    = ["${local.github_subject}:environment:${var.monitoring_environment}"]
      statements  = local.monitor_statements
    }
  })
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

  name                 = each.value.name
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

  # The role's kind, not its key: production's policies keep their single-stage names (no replacement).
  name = each.value.policy_name
  role = aws_iam_role.github[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat(each.value.statements, [local.no_escalation_statement])
  })
}

# The most a stage's function role may ever do (terraform/iam.tf attaches it): the stage's deploy role can write
# that role's policy and create it only with this boundary, so rewriting either gains nothing beyond serving.
resource "aws_iam_policy" "function_boundary" {
  for_each = local.stages

  name        = "${each.value.stack_name}-function-boundary"
  description = "Permissions boundary of the ${each.value.stack_name} Lambda function role."
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
        Resource = ["${each.value.log_group_arns[0]}:*"]
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
