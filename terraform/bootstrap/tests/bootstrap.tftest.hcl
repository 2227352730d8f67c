# Unit tests of the bootstrap with a mocked AWS provider: who may assume which role, and what each may do.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/admin"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mocked"
    }
  }
  mock_data "aws_iam_openid_connect_provider" {
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/existing"
    }
  }
}

variables {
  github_repository = "octo-org/lambda-model"
}

run "oidc_trust" {
  assert {
    condition     = aws_iam_openid_connect_provider.github[0].url == "https://token.actions.githubusercontent.com" && aws_iam_openid_connect_provider.github[0].client_id_list == toset(["sts.amazonaws.com"])
    error_message = "The provider is GitHub's issuer with the STS audience."
  }
  assert {
    condition = alltrue([
      for role in aws_iam_role.github : jsondecode(role.assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
      && jsondecode(role.assume_role_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity"
      && keys(jsondecode(role.assume_role_policy).Statement[0].Condition) == ["StringEquals"]
      && jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    ])
    error_message = "Every role trusts only the GitHub provider, with aud == sts.amazonaws.com and exact (StringEquals) matches."
  }
  assert {
    condition = {
      for key, role in aws_iam_role.github : key => jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"]
      } == {
      staging-plan      = ["repo:octo-org/lambda-model:pull_request", "repo:octo-org/lambda-model:ref:refs/heads/main"]
      production-plan   = ["repo:octo-org/lambda-model:ref:refs/heads/main"]
      staging-deploy    = ["repo:octo-org/lambda-model:environment:staging"]
      production-deploy = ["repo:octo-org/lambda-model:environment:production"]
      train             = ["repo:octo-org/lambda-model:environment:training"]
      monitor           = ["repo:octo-org/lambda-model:environment:monitoring"]
    }
    error_message = "sub: staging's plan for pull requests and main, production's plan for main only (pull requests never read production's state), each deploy role only from its own stage's environment, train and monitor only from theirs."
  }
  assert {
    condition     = jsonencode(output.github_subjects) == jsonencode({ for key, role in aws_iam_role.github : key => jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] })
    error_message = "github_subjects lists exactly what each role trusts."
  }
  assert {
    condition = { for key, role in aws_iam_role.github : key => role.name } == {
      staging-plan      = "lambda-model-staging-github-plan"
      staging-deploy    = "lambda-model-staging-github-deploy"
      production-plan   = "lambda-model-prod-github-plan"
      production-deploy = "lambda-model-prod-github-deploy"
      train             = "lambda-model-prod-github-train"
      monitor           = "lambda-model-prod-github-monitor"
    }
    error_message = "Stage roles are named after their stack; production's, train's and monitor's keep the single-stage install's names."
  }
  assert {
    condition     = { for key, policy in aws_iam_role_policy.github : key => policy.name } == { staging-plan = "plan", staging-deploy = "deploy", production-plan = "plan", production-deploy = "deploy", train = "train", monitor = "monitor" }
    error_message = "Inline policies are named by the role's kind, so production's keep their names (no replacement on the migration)."
  }
}

run "immutable_subject_claims" {
  variables {
    github_owner_id      = "123456"
    github_repository_id = "456789"
    plan_from_main       = false
  }

  assert {
    condition = {
      for key, role in aws_iam_role.github : key => jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"]
      } == {
      staging-plan      = ["repo:octo-org@123456/lambda-model@456789:pull_request"]
      production-plan   = ["repo:octo-org@123456/lambda-model@456789:ref:refs/heads/main"]
      staging-deploy    = ["repo:octo-org@123456/lambda-model@456789:environment:staging"]
      production-deploy = ["repo:octo-org@123456/lambda-model@456789:environment:production"]
      train             = ["repo:octo-org@123456/lambda-model@456789:environment:training"]
      monitor           = ["repo:octo-org@123456/lambda-model@456789:environment:monitoring"]
    }
    error_message = "With the IDs set, only the immutable form repo:owner@ID/name@ID:... is trusted; plan_from_main = false drops main from staging's plan role (production's trusts main alone)."
  }
}

run "existing_oidc_provider" {
  variables {
    create_oidc_provider = false
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0 && output.oidc_provider_arn == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/existing"
    error_message = "With create_oidc_provider = false the account's provider is looked up and trusted."
  }
}

run "plan_roles_are_read_only_and_own_their_stage" {
  assert {
    condition = alltrue(flatten([
      for key in ["staging-plan", "production-plan"] : [
        for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement :
        s.Sid == "LockState" || s.Effect == "Deny" || alltrue([for a in s.Action : can(regex("^[a-z0-9]+:(Get|List|Describe)", a)) || a == "apigateway:GET"])
      ]
    ]))
    error_message = "The plan roles may only read (Get/List/Describe), apart from the state lock."
  }
  assert {
    condition = {
      for key in ["staging", "production"] : key => {
        for s in jsondecode(aws_iam_role_policy.github["${key}-plan"].policy).Statement : s.Sid => s.Resource if contains(["ReadState", "LockState"], s.Sid)
      }
      } == {
      staging = {
        ReadState = ["arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/staging/terraform.tfstate"]
        LockState = ["arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/staging/terraform.tfstate.tflock"]
      }
      production = {
        ReadState = ["arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/prod/terraform.tfstate"]
        LockState = ["arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/prod/terraform.tfstate.tflock"]
      }
    }
    error_message = "Each stage's plan role reads only its own state key and writes only its own .tflock."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.github["staging-plan"].policy, "models/") && !strcontains(aws_iam_role_policy.github["production-plan"].policy, "models/")
    error_message = "The plan roles cannot read model or data objects."
  }
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.github["staging-plan"].policy).Statement : [
        for r in s.Resource : !strcontains(r, "lambda-model-prod") || startswith(r, "arn:aws:s3:::lambda-model-prod-tfstate-123456789012") if s.Effect == "Allow"
      ]
    ]))
    error_message = "Staging's plan role names no production resource (the shared state bucket aside)."
  }
}

run "deploy_roles_trust_only_their_environment" {
  assert {
    condition = alltrue([
      for key, stage in { staging = "staging", production = "production" } :
      jsondecode(aws_iam_role.github["${key}-deploy"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:octo-org/lambda-model:environment:${stage}"]
    ])
    error_message = "Each deploy role trusts exactly environment:<its GitHub environment>: no branch, no pull request, not the other stage's."
  }
  assert {
    condition = !anytrue([
      for role in aws_iam_role.github : strcontains(role.assume_role_policy, "*")
    ])
    error_message = "No trust policy uses a wildcard subject."
  }
}

run "only_production_plan_reads_image_tags" {
  assert {
    condition = {
      for key in ["staging-plan", "production-plan"] : key => [
        for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement : [s.Action, s.Resource] if s.Sid == "ReadImageTags"
      ]
      } == {
      staging-plan    = []
      production-plan = [[["ecr:DescribeImages"], ["arn:aws:ecr:eu-central-1:123456789012:repository/lambda-model"]]]
    }
    error_message = "drift.yml's skew check (production's plan role, main only) may look up the live digest's tags, nothing else of the registry."
  }
}

run "production_plan_refuses_pull_requests" {
  assert {
    condition     = !strcontains(aws_iam_role.github["production-plan"].assume_role_policy, "pull_request")
    error_message = "A pull request can never assume production's plan role: production's state can hold the API key's value."
  }
}

run "shared_registry" {
  assert {
    condition     = aws_ecr_repository.images.name == "lambda-model" && aws_ecr_repository.images.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.images.image_scanning_configuration[0].scan_on_push && aws_ecr_repository.images.encryption_configuration[0].encryption_type == "KMS" && !aws_ecr_repository.images.force_delete
    error_message = "One repository named after the prefix: immutable tags (a -staged tag is final), scan on push, KMS, never force-deleted by default."
  }
  assert {
    condition     = [for rule in jsondecode(aws_ecr_lifecycle_policy.images.policy).rules : [rule.selection.tagStatus, rule.selection.countNumber]] == [["untagged", 14]]
    error_message = "Only untagged images expire (after ecr_untagged_image_days): a tagged release image is a version's rollback target."
  }
  assert {
    condition = jsondecode(aws_ecr_repository_policy.images.policy).Statement == [{
      Sid       = "LambdaPull"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      Condition = { StringLike = { "aws:SourceArn" = ["arn:aws:lambda:eu-central-1:123456789012:function:lambda-model-prod*", "arn:aws:lambda:eu-central-1:123456789012:function:lambda-model-staging*"] } }
    }]
    error_message = "Lambda may pull only for the two stages' functions (and their versions)."
  }
  assert {
    condition     = module.model_bucket.name == "lambda-model-models-123456789012" && !module.model_bucket.force_destroy && module.model_bucket.noncurrent_version_days == 90
    error_message = "One model bucket named after the prefix and account, never force-destroyed by default, old versions kept 90 days."
  }
  assert {
    condition     = output.image_repository_url == aws_ecr_repository.images.repository_url && output.model_bucket == module.model_bucket.name
    error_message = "The registry's outputs name the repository and the bucket."
  }
}

run "registry_keeps_the_single_stage_names" {
  variables {
    image_repository_name = "lambda-model-prod"
    model_bucket_name     = "lambda-model-prod-models-123456789012"
  }

  assert {
    condition     = aws_ecr_repository.images.name == "lambda-model-prod" && module.model_bucket.name == "lambda-model-prod-models-123456789012"
    error_message = "The name variables keep the imported repository's and bucket's names."
  }
  assert {
    condition = alltrue([
      for key in ["staging-deploy", "production-deploy", "train", "monitor"] :
      strcontains(aws_iam_role_policy.github[key].policy, "arn:aws:s3:::lambda-model-prod-models-123456789012")
    ])
    error_message = "The roles follow the bucket's name."
  }
}

run "staging_deploy_pushes_and_tags_production_deploy_only_reads" {
  assert {
    condition = {
      for key in ["staging", "production"] : key => sort(flatten([
        for s in jsondecode(aws_iam_role_policy.github["${key}-deploy"].policy).Statement : s.Action if s.Effect == "Allow" && contains(s.Resource, "arn:aws:ecr:eu-central-1:123456789012:repository/lambda-model")
      ]))
      } == {
      staging = sort([
        "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:PutImage", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:GetDownloadUrlForLayer",
      ])
      production = sort(["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
    }
    error_message = "On the repository staging may push and re-tag (PutImage of an existing manifest); production may only read images."
  }
  assert {
    condition = !anytrue([
      for s in jsondecode(aws_iam_role_policy.github["production-deploy"].policy).Statement :
      s.Effect == "Allow" && length(setintersection(s.Action, ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:GetAuthorizationToken"])) > 0
    ])
    error_message = "Production's deploy role cannot push, re-tag or even log in to the registry."
  }
  assert {
    condition = !anytrue(flatten([
      for key in ["staging-deploy", "production-deploy"] : [
        for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement : [
          for a in s.Action : s.Effect == "Allow" && (
            can(regex("^ecr:(Create|Delete|Set|Put(Lifecycle|ImageScanning|ImageTagMutability)|TagResource|UntagResource)", a)) ||
            can(regex("^s3:(CreateBucket|DeleteBucket|PutBucket|PutEncryption|PutLifecycle|DeleteObjectVersion)", a)) ||
            startswith(a, "kms:")
          )
        ]
      ]
    ]))
    error_message = "Neither deploy role may create, delete or configure the repository or the model bucket: the registry is the bootstrap's."
  }
  assert {
    condition = {
      for key in ["staging", "production"] : key => [
        for s in jsondecode(aws_iam_role_policy.github["${key}-deploy"].policy).Statement : s.Resource if s.Sid == "PromoteModel"
      ]
      } == {
      staging    = []
      production = [["arn:aws:s3:::lambda-model-models-123456789012/models/current"]]
    }
    error_message = "Only production's deploy role moves models/current; staging's writes no model object."
  }
  assert {
    condition = !anytrue([
      for s in jsondecode(aws_iam_role_policy.github["staging-deploy"].policy).Statement :
      s.Effect == "Allow" && contains(s.Action, "s3:PutObject") && anytrue([for r in s.Resource : strcontains(r, "models")])
    ])
    error_message = "Staging's deploy role writes no object of the model bucket."
  }
}

run "api_gateway_isolation_by_tags" {
  assert {
    condition = {
      for key in ["staging", "production"] : key => {
        for s in jsondecode(aws_iam_role_policy.github["${key}-deploy"].policy).Statement : s.Sid => s.Condition
        if anytrue([for r in s.Resource : startswith(r, "arn:aws:apigateway:")]) && s.Effect == "Allow"
      }
      } == {
      staging = {
        ReadOwnApi   = { StringEquals = { "aws:ResourceTag/Project" = "lambda-model", "aws:ResourceTag/Environment" = "staging" } }
        CreateOwnApi = { StringEquals = { "aws:RequestTag/Project" = "lambda-model", "aws:RequestTag/Environment" = "staging" } }
        ManageOwnApi = { StringEquals = { "aws:ResourceTag/Project" = "lambda-model", "aws:ResourceTag/Environment" = "staging" } }
      }
      production = {
        ReadOwnApi   = { StringEquals = { "aws:ResourceTag/Project" = "lambda-model", "aws:ResourceTag/Environment" = "prod" } }
        CreateOwnApi = { StringEquals = { "aws:RequestTag/Project" = "lambda-model", "aws:RequestTag/Environment" = "prod" } }
        ManageOwnApi = { StringEquals = { "aws:ResourceTag/Project" = "lambda-model", "aws:ResourceTag/Environment" = "prod" } }
      }
    }
    error_message = "Every API Gateway Allow is conditioned on the stage's own tags: the request's on create, the resource's otherwise."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["staging-deploy"].policy).Statement : s if s.Sid == "CreateOwnApi"][0].Resource == [
      "arn:aws:apigateway:eu-central-1::/restapis", "arn:aws:apigateway:eu-central-1::/usageplans", "arn:aws:apigateway:eu-central-1::/apikeys",
    ]
    error_message = "Creating (POST on a collection) is the one API Gateway grant on the collections."
  }
  assert {
    condition = alltrue([
      for key in ["staging-plan", "staging-deploy"] : {
        for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement : s.Sid => [s.Effect, s.Action, s.Condition]
        if contains(["DenyOtherStagesApis", "DenyTaggingAsOtherStages"], s.Sid)
        } == {
        DenyOtherStagesApis      = ["Deny", ["apigateway:*"], { StringEquals = { "aws:ResourceTag/Environment" = ["prod"] } }]
        DenyTaggingAsOtherStages = ["Deny", ["apigateway:*"], { StringEquals = { "aws:RequestTag/Environment" = ["prod"] } }]
      }
    ])
    error_message = "Staging's roles are explicitly denied every API Gateway call on a resource tagged Environment=prod, and tagging anything as prod."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.github["staging-deploy"].policy).Statement :
      !contains(["DenyOtherStagesApis", "DenyTaggingAsOtherStages"], s.Sid) || length(setsubtract(
        ["arn:aws:apigateway:eu-central-1::/restapis", "arn:aws:apigateway:eu-central-1::/restapis/*", "arn:aws:apigateway:eu-central-1::/usageplans/*", "arn:aws:apigateway:eu-central-1::/apikeys/*", "arn:aws:apigateway:eu-central-1::/tags/*"],
        s.Resource
      )) == 0
    ])
    error_message = "The Deny covers every API Gateway path the Allows name."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["production-deploy"].policy).Statement : s.Condition if s.Sid == "DenyOtherStagesApis"] == [
      { StringEquals = { "aws:ResourceTag/Environment" = ["staging"] } }
    ]
    error_message = "And production's roles are denied staging's API Gateway resources."
  }
}

run "deploy_role_scope" {
  assert {
    condition = alltrue(flatten([
      for key, env in { staging = "staging", production = "prod" } : [
        for s in jsondecode(aws_iam_role_policy.github["${key}-deploy"].policy).Statement :
        s.Effect == "Deny" || contains(["DescribeLogGroups", "ReadQueryDefinitions", "ManageQueryDefinitions", "ReadCanaryMetrics", "LoginToRegistry"], s.Sid) || alltrue([
          for r in s.Resource : strcontains(r, "lambda-model-${env}") || startswith(r, "arn:aws:apigateway:eu-central-1::/") ||
          startswith(r, "arn:aws:logs:eu-central-1:123456789012:log-group:API-Gateway-Execution-Logs_*/predict") ||
          r == "arn:aws:ecr:eu-central-1:123456789012:repository/lambda-model" || startswith(r, "arn:aws:s3:::lambda-model-models-123456789012") ||
          startswith(r, "arn:aws:s3:::lambda-model-prod-tfstate-123456789012")
        ])
      ]
    ]))
    error_message = "Every deploy statement is scoped to its stage's names, the shared registry and the state bucket (API Gateway: by tags; execution logs: by tags), except the actions without resource-level permissions."
  }
  assert {
    condition = alltrue(flatten([
      for key in ["staging-deploy", "production-deploy"] : [
        for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement :
        contains(s.Resource, "*") == contains(["LoginToRegistry", "DescribeLogGroups", "ReadQueryDefinitions", "ManageQueryDefinitions", "ReadCanaryMetrics"], s.Sid)
      ]
    ]))
    error_message = "Only ecr:GetAuthorizationToken, logs:DescribeLogGroups, the logs query-definition actions and cloudwatch:GetMetricData (no resource-level permissions) are granted on *."
  }
  assert {
    condition = {
      for key in ["staging", "production"] : key => [
        for s in jsondecode(aws_iam_role_policy.github["${key}-deploy"].policy).Statement : s.Resource if s.Sid == "WriteState"
      ][0]
      } == {
      staging    = ["arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/staging/terraform.tfstate"]
      production = ["arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/prod/terraform.tfstate"]
    }
    error_message = "Each deploy role writes only its own stage's state object."
  }
  assert {
    condition = alltrue(flatten([
      for key in ["staging-deploy", "production-deploy"] : [
        for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement :
        s.Effect == "Deny" || !anytrue([for r in s.Resource : strcontains(r, "API-Gateway-Execution-Logs_")]) ||
        length(setintersection(keys(try(s.Condition.StringEquals, {})), ["aws:RequestTag/Environment", "aws:ResourceTag/Environment"])) == 1 ||
        alltrue([for a in s.Action : can(regex("^logs:(List|Describe)", a))])
      ]
    ]))
    error_message = "Writes to execution log groups are limited to the stage's tags: never another stack's logs."
  }
  assert {
    condition = {
      for key in ["staging", "production"] : key => [for s in jsondecode(aws_iam_role_policy.github["${key}-deploy"].policy).Statement : s if s.Sid == "WriteFunctionRoleWithinBoundary"][0].Condition
      } == {
      staging    = { ArnEquals = { "iam:PermissionsBoundary" = "arn:aws:iam::123456789012:policy/lambda-model-staging-function-boundary" } }
      production = { ArnEquals = { "iam:PermissionsBoundary" = "arn:aws:iam::123456789012:policy/lambda-model-prod-function-boundary" } }
    } && { for key, policy in aws_iam_policy.function_boundary : key => policy.name } == { staging = "lambda-model-staging-function-boundary", production = "lambda-model-prod-function-boundary" }
    error_message = "Each stage's function role can be created and its policy written only with that stage's boundary attached."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["staging-deploy"].policy).Statement : s if s.Sid == "PassFunctionRoleToLambda"][0] == {
      Sid       = "PassFunctionRoleToLambda"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = ["arn:aws:iam::123456789012:role/lambda-model-staging-function"]
      Condition = { StringEquals = { "iam:PassedToService" = "lambda.amazonaws.com" } }
    }
    error_message = "A deploy role may pass only its stage's function role, and only to Lambda."
  }
  assert {
    condition = alltrue(flatten([
      for key in ["staging-deploy", "production-deploy"] : [
        for a in ["lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:UpdateAlias", "lambda:InvokeFunction", "cloudwatch:GetMetricData"] :
        contains(flatten([for s in jsondecode(aws_iam_role_policy.github[key].policy).Statement : s.Action]), a)
      ]
    ]))
    error_message = "Both deploy roles roll out (update-function-code, publish-version, update-alias, the pre-traffic invoke, the canary's metrics)."
  }
  assert {
    condition = length(setintersection(
      flatten([for s in jsondecode(aws_iam_role_policy.github["production-deploy"].policy).Statement : s.Action if s.Effect == "Allow"]),
      ["cloudwatch:GetMetricStatistics", "iam:UpdateAssumeRolePolicy"]
    )) == 0
    error_message = "No rewriting of the function role's trust."
  }
}

run "no_escalation_covers_every_stage" {
  assert {
    condition = alltrue([
      for policy in aws_iam_role_policy.github : [for s in jsondecode(policy.policy).Statement : s if s.Sid == "NoPrivilegeEscalation"][0] == {
        Sid    = "NoPrivilegeEscalation"
        Effect = "Deny"
        Action = local.no_escalation_statement.Action
        Resource = [
          "arn:aws:iam::123456789012:role/lambda-model-prod-github-*",
          "arn:aws:iam::123456789012:role/lambda-model-staging-github-*",
          "arn:aws:iam::123456789012:policy/lambda-model-prod-function-boundary",
          "arn:aws:iam::123456789012:policy/lambda-model-staging-function-boundary",
          "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        ]
      }
    ])
    error_message = "Every pipeline role carries the explicit no-escalation Deny, over every stage's roles and boundaries."
  }
  assert {
    condition     = contains(local.no_escalation_statement.Action, "iam:DeleteRolePermissionsBoundary") && contains(local.no_escalation_statement.Action, "iam:UpdateAssumeRolePolicy")
    error_message = "The Deny covers stripping a boundary and rewriting a trust."
  }
}

run "monitor_role_reads_the_served_metadata_and_metrics_only" {
  assert {
    condition = { for s in jsondecode(aws_iam_role_policy.github["monitor"].policy).Statement : s.Sid => s.Action if s.Effect == "Allow" } == {
      ReadServedModelMetadata  = ["s3:GetObject"]
      TellMissingFromForbidden = ["s3:ListBucket"]
      ReadMetrics              = ["cloudwatch:GetMetricData"]
    }
    error_message = "The monitor may read objects, list the bucket and read metrics: nothing else, and it writes nothing."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["monitor"].policy).Statement : s.Resource if s.Sid == "ReadServedModelMetadata"][0] == [
      "arn:aws:s3:::lambda-model-models-123456789012/models/current",
      "arn:aws:s3:::lambda-model-models-123456789012/models/versions/*/metadata.json",
    ]
    error_message = "The only objects the monitor reads are production's pointer and the versions' metadata.json, never a model file or data."
  }
  assert {
    condition     = output.github_variables.monitoring == { AWS_MONITOR_ROLE_ARN = output.monitor_role_arn, STACK_ENVIRONMENT = "prod" }
    error_message = "The monitor's role ARN and the stack it watches (production's) are variables of the monitoring environment."
  }
}

run "train_role_scope" {
  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.github["train"].policy).Statement : s.Sid => { action = s.Action, resource = s.Resource }
      } == {
      ReadTrainingDataAndModels = {
        action   = ["s3:GetObject"]
        resource = ["arn:aws:s3:::lambda-model-models-123456789012/data/*", "arn:aws:s3:::lambda-model-models-123456789012/models/*"]
      }
      ListTrainingDataAndModels = { action = ["s3:ListBucket"], resource = ["arn:aws:s3:::lambda-model-models-123456789012"] }
      WriteModelVersions = {
        action   = ["s3:PutObject"]
        resource = ["arn:aws:s3:::lambda-model-models-123456789012/models/versions/*", "arn:aws:s3:::lambda-model-models-123456789012/models/reference/*"]
      }
      NoPrivilegeEscalation = {
        action   = local.no_escalation_statement.Action
        resource = local.no_escalation_statement.Resource
      }
    }
    error_message = "The train role reads data/ and models/ of the shared bucket, and writes only new objects under models/versions/ and models/reference/."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.github["train"].policy).Statement : !contains(s.Action, "s3:ListBucket") || try(s.Condition, null) == null])
    error_message = "The train role's ListBucket is unconditioned: with an s3:prefix condition a missing models/current answers 403, not 404."
  }
}

# The hardening itself (public access, ownership, versioning, KMS, TLS-only policy) is asserted on the
# module in ../modules/private-bucket/tests/; here, what this root passes in, read back from the bucket.
run "state_bucket_and_keys" {
  assert {
    condition     = module.state_bucket.name == "lambda-model-prod-tfstate-123456789012" && !module.state_bucket.force_destroy && module.state_bucket.noncurrent_version_days == 365
    error_message = "The state bucket keeps the single-stage install's name (production's environment), is never force-destroyed and keeps old state a year."
  }
  assert {
    condition = output.backend_config == {
      staging    = { bucket = "lambda-model-prod-tfstate-123456789012", key = "lambda-model/staging/terraform.tfstate", region = "eu-central-1" }
      production = { bucket = "lambda-model-prod-tfstate-123456789012", key = "lambda-model/prod/terraform.tfstate", region = "eu-central-1" }
    }
    error_message = "backend_config gives each stage's -backend-config values: one bucket, a key per stage."
  }
}

run "github_variables" {
  assert {
    condition     = toset(keys(output.github_variables)) == toset(["repository", "staging", "production", "training", "monitoring"])
    error_message = "Variables are set at repository level and per environment: both stages', training's and monitoring's."
  }
  assert {
    condition     = toset(keys(output.github_variables.repository)) == toset(["AWS_REGION", "TF_STATE_BUCKET", "STACK_NAME_PREFIX", "MODEL_BUCKET", "ECR_REPOSITORY_URL", "STAGES"])
    error_message = "No stage's key, environment or role at repository level: those are the stages' environments' (and STAGES')."
  }
  assert {
    condition = jsondecode(output.github_variables.repository.STAGES) == {
      staging    = { plan_role_arn = aws_iam_role.github["staging-plan"].arn, state_key = "lambda-model/staging/terraform.tfstate", stack_environment = "staging" }
      production = { plan_role_arn = aws_iam_role.github["production-plan"].arn, state_key = "lambda-model/prod/terraform.tfstate", stack_environment = "prod" }
    }
    error_message = "STAGES is one JSON string with each stage's plan role, state key and stack environment."
  }
  assert {
    condition     = output.github_variables.staging == { AWS_DEPLOY_ROLE_ARN = aws_iam_role.github["staging-deploy"].arn, STACK_ENVIRONMENT = "staging", TF_STATE_KEY = "lambda-model/staging/terraform.tfstate" } && output.github_variables.production == { AWS_DEPLOY_ROLE_ARN = aws_iam_role.github["production-deploy"].arn, STACK_ENVIRONMENT = "prod", TF_STATE_KEY = "lambda-model/prod/terraform.tfstate" }
    error_message = "Each stage's environment holds its deploy role, stack environment and state key."
  }
  assert {
    condition     = output.github_variables.training == { AWS_TRAIN_ROLE_ARN = output.train_role_arn } && output.github_variables.repository.MODEL_BUCKET == "lambda-model-models-123456789012"
    error_message = "The train role is the training environment's; the shared bucket is the repository's."
  }
  assert {
    condition     = output.role_arns == { for key, role in aws_iam_role.github : key => role.arn } && output.deploy_role_arns.staging == aws_iam_role.github["staging-deploy"].arn && output.plan_role_arns.production == aws_iam_role.github["production-plan"].arn
    error_message = "The role ARN outputs name every role by key and per stage."
  }
}

# The migration's first step: production alone, under the single-stage install's names.
run "production_only" {
  variables {
    stages = { production = { environment = "prod", github_environment = "production" } }
  }

  assert {
    condition     = toset(keys(aws_iam_role.github)) == toset(["production-plan", "production-deploy", "train", "monitor"]) && toset(keys(aws_iam_policy.function_boundary)) == toset(["production"])
    error_message = "Without staging: production's roles and boundary, train and monitor."
  }
  assert {
    condition     = jsondecode(aws_ecr_repository_policy.images.policy).Statement[0].Condition.StringLike["aws:SourceArn"] == ["arn:aws:lambda:eu-central-1:123456789012:function:lambda-model-prod*"]
    error_message = "The repository policy names production's function alone."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.github["production-deploy"].policy, "DenyOtherStagesApis")
    error_message = "No other stage, no Deny of its tags."
  }
}

run "monitoring_environment_is_its_own" {
  command = plan
  variables {
    monitoring_environment = "staging"
  }
  expect_failures = [var.monitoring_environment]
}

run "training_environment_is_its_own" {
  command = plan
  variables {
    training_environment = "production"
  }
  expect_failures = [var.training_environment]
}

run "stages_need_production" {
  command = plan
  variables {
    stages = { staging = { environment = "staging", github_environment = "staging" } }
  }
  expect_failures = [var.stages]
}

run "stages_only_staging_and_production" {
  command = plan
  variables {
    stages = {
      production = { environment = "prod", github_environment = "production" }
      qa         = { environment = "qa", github_environment = "qa" }
    }
  }
  expect_failures = [var.stages]
}

run "stages_environments_differ" {
  command = plan
  variables {
    stages = {
      staging    = { environment = "prod", github_environment = "staging" }
      production = { environment = "prod", github_environment = "production" }
    }
  }
  expect_failures = [var.stages]
}

run "stages_github_environments_differ" {
  command = plan
  variables {
    stages = {
      staging    = { environment = "staging", github_environment = "production" }
      production = { environment = "prod", github_environment = "production" }
    }
  }
  expect_failures = [var.stages]
}

run "stages_names_are_valid" {
  command = plan
  variables {
    stages = {
      staging    = { environment = "Staging-1", github_environment = "staging" }
      production = { environment = "prod", github_environment = "prod env" }
    }
  }
  expect_failures = [var.stages]
}

run "rejects_invalid_variables" {
  command = plan

  variables {
    github_repository     = "not a repository"
    github_owner_id       = "123456"
    image_repository_name = "Not A Repository"
    model_bucket_name     = "Not_A_Bucket"
  }

  expect_failures = [var.github_repository, var.github_repository_id, var.image_repository_name, var.model_bucket_name]
}

run "importing_needs_the_single_stage_names" {
  command = plan
  variables {
    import_single_stage_registry = true
  }
  expect_failures = [var.import_single_stage_registry]
}
