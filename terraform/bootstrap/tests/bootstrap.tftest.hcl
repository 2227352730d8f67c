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
      plan    = ["repo:octo-org/lambda-model:pull_request", "repo:octo-org/lambda-model:ref:refs/heads/main"]
      deploy  = ["repo:octo-org/lambda-model:environment:production"]
      train   = ["repo:octo-org/lambda-model:environment:training"]
      monitor = ["repo:octo-org/lambda-model:environment:monitoring"]
    }
    error_message = "sub: plan for pull requests and main, deploy only from the production environment, train only from the training environment, monitor only from the monitoring environment."
  }
  assert {
    condition     = toset([for role in aws_iam_role.github : role.name]) == toset(["lambda-model-prod-github-plan", "lambda-model-prod-github-deploy", "lambda-model-prod-github-train", "lambda-model-prod-github-monitor"])
    error_message = "Role names derive from the stack's prefix and environment."
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
      plan    = ["repo:octo-org@123456/lambda-model@456789:pull_request"]
      deploy  = ["repo:octo-org@123456/lambda-model@456789:environment:production"]
      train   = ["repo:octo-org@123456/lambda-model@456789:environment:training"]
      monitor = ["repo:octo-org@123456/lambda-model@456789:environment:monitoring"]
    }
    error_message = "With the IDs set, only the immutable form repo:owner@ID/name@ID:... is trusted; plan_from_main = false drops main."
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

run "plan_role_is_read_only" {
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.github["plan"].policy).Statement :
      s.Sid == "LockState" || s.Effect == "Deny" || alltrue([for a in s.Action : can(regex("^[a-z0-9]+:(Get|List|Describe)", a)) || a == "apigateway:GET"])
    ])
    error_message = "The plan role may only read (Get/List/Describe), apart from the state lock."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["plan"].policy).Statement : s.Resource if s.Sid == "LockState"][0] == [
      "arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/prod/terraform.tfstate.tflock"
    ]
    error_message = "The only object the plan role may write is the state's .tflock lock file."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.github["plan"].policy, "models/")
    error_message = "The plan role cannot read model or data objects."
  }
}

run "dashboard_and_saved_queries" {
  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Sid => { action = s.Action, resource = s.Resource }
      if contains(["ReadDashboard", "ManageDashboard", "ReadQueryDefinitions", "ManageQueryDefinitions"], s.Sid)
      } == {
      ReadDashboard          = { action = ["cloudwatch:GetDashboard"], resource = ["arn:aws:cloudwatch::123456789012:dashboard/lambda-model-prod"] }
      ManageDashboard        = { action = ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"], resource = ["arn:aws:cloudwatch::123456789012:dashboard/lambda-model-prod"] }
      ReadQueryDefinitions   = { action = ["logs:DescribeQueryDefinitions"], resource = ["*"] }
      ManageQueryDefinitions = { action = ["logs:PutQueryDefinition", "logs:DeleteQueryDefinition"], resource = ["*"] }
    }
    error_message = "The deploy role manages only the stack's dashboard (by its global ARN) and the saved queries (no resource-level permissions)."
  }
  assert {
    condition = length(setintersection(
      flatten([for s in jsondecode(aws_iam_role_policy.github["plan"].policy).Statement : s.Action]),
      ["cloudwatch:GetDashboard", "logs:DescribeQueryDefinitions", "cloudwatch:PutDashboard", "logs:PutQueryDefinition"]
    )) == 2
    error_message = "The plan role's refresh reads the dashboard and the saved queries, and writes neither."
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
      "arn:aws:s3:::lambda-model-prod-models-123456789012/models/current",
      "arn:aws:s3:::lambda-model-prod-models-123456789012/models/versions/*/metadata.json",
    ]
    error_message = "The only objects the monitor reads are the pointer and the versions' metadata.json, never a model file or data."
  }
  assert {
    condition     = output.github_variables.monitoring == { AWS_MONITOR_ROLE_ARN = output.monitor_role_arn }
    error_message = "The monitor's role ARN is a variable of the monitoring environment."
  }
}

run "monitoring_environment_is_its_own" {
  command = plan
  variables {
    monitoring_environment = "training"
  }
  expect_failures = [var.monitoring_environment]
}

run "deploy_role_scope" {
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement :
      s.Effect == "Deny" || contains(["LoginToRegistry", "DescribeLogGroups", "ReadQueryDefinitions", "ManageQueryDefinitions", "ReadCanaryMetrics"], s.Sid) || alltrue([
        for r in s.Resource : strcontains(r, "lambda-model-prod") || startswith(r, "arn:aws:apigateway:eu-central-1::/") ||
        startswith(r, "arn:aws:logs:eu-central-1:123456789012:log-group:API-Gateway-Execution-Logs_*/predict") ||
        (s.Sid == "EcrKmsGrants" && r == "arn:aws:kms:eu-central-1:123456789012:key/*")
      ])
    ])
    error_message = "Every deploy statement is scoped to the stack's names (API Gateway: this region's API paths; execution logs: this stage's), except the actions without resource-level permissions."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement :
      contains(s.Resource, "*") == contains(["LoginToRegistry", "DescribeLogGroups", "ReadQueryDefinitions", "ManageQueryDefinitions", "ReadCanaryMetrics"], s.Sid)
    ])
    error_message = "Only ecr:GetAuthorizationToken, logs:DescribeLogGroups, the logs query-definition actions and cloudwatch:GetMetricData (no resource-level permissions) are granted on *."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement :
      !contains(s.Action, "logs:DescribeLogGroups") || s.Resource == ["*"]
    ])
    error_message = "logs:DescribeLogGroups is granted on * (a grant on named log groups fails every refresh)."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement :
      s.Effect == "Deny" || !anytrue([for r in s.Resource : strcontains(r, "API-Gateway-Execution-Logs_")]) ||
      length(setintersection(keys(try(s.Condition.StringEquals, {})), ["aws:RequestTag/Project", "aws:ResourceTag/Project"])) == 1 ||
      alltrue([for a in s.Action : can(regex("^logs:(List|Describe)", a))])
    ])
    error_message = "Writes to execution log groups are limited to this stack's tags: never another API's logs."
  }
  assert {
    # The canary's evidence (the new version's invocations and per-version alarm data) is the one metric read.
    condition = [for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Action if s.Sid == "ReadCanaryMetrics"] == [["cloudwatch:GetMetricData"]] && length(setintersection(
      flatten([for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Action if s.Effect == "Allow"]),
      ["cloudwatch:GetMetricStatistics", "iam:UpdateAssumeRolePolicy"]
    )) == 0
    error_message = "The only metric read is the canary's GetMetricData, and there is no rewriting of the function role's trust."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s if s.Sid == "WriteFunctionRoleWithinBoundary"][0] == {
      Sid       = "WriteFunctionRoleWithinBoundary"
      Effect    = "Allow"
      Action    = ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"]
      Resource  = ["arn:aws:iam::123456789012:role/lambda-model-prod-function"]
      Condition = { ArnEquals = { "iam:PermissionsBoundary" = "arn:aws:iam::123456789012:policy/lambda-model-prod-function-boundary" } }
    } && aws_iam_policy.function_boundary.name == "lambda-model-prod-function-boundary"
    error_message = "The function role can be created and its policy written only with the function boundary attached."
  }
  assert {
    condition = alltrue([
      for role in aws_iam_role_policy.github : [for s in jsondecode(role.policy).Statement : s if s.Sid == "NoPrivilegeEscalation"][0].Effect == "Deny"
      && contains([for s in jsondecode(role.policy).Statement : s if s.Sid == "NoPrivilegeEscalation"][0].Action, "iam:DeleteRolePermissionsBoundary")
    ])
    error_message = "Every pipeline role carries the explicit no-escalation Deny."
  }
  assert {
    condition = alltrue([
      for a in ["kms:RetireGrant", "s3:ListBucketVersions", "s3:DeleteObjectVersion"] :
      contains(flatten([for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Action]), a)
    ])
    error_message = "Destroy needs kms:RetireGrant (KMS-encrypted ECR) and the version permissions (force_destroy of the versioned bucket)."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s if s.Sid == "PassFunctionRoleToLambda"][0] == {
      Sid       = "PassFunctionRoleToLambda"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = ["arn:aws:iam::123456789012:role/lambda-model-prod-function"]
      Condition = { StringEquals = { "iam:PassedToService" = "lambda.amazonaws.com" } }
    }
    error_message = "The deploy role may pass only the function role, and only to Lambda."
  }
  assert {
    condition = alltrue([
      for a in ["lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:UpdateAlias", "ecr:PutImage"] :
      contains(flatten([for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Action]), a)
    ])
    error_message = "The deploy role can push and roll out (update-function-code, publish-version, update-alias)."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Resource if s.Sid == "PromoteModel"][0] == [
      "arn:aws:s3:::lambda-model-prod-models-123456789012/models/current"
    ]
    error_message = "Promotion: the deploy role writes only the models/current pointer."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.github["deploy"].policy).Statement : s.Resource if s.Sid == "WriteState"][0] == [
      "arn:aws:s3:::lambda-model-prod-tfstate-123456789012/lambda-model/prod/terraform.tfstate"
    ]
    error_message = "The deploy role writes the stack's state object."
  }
}

run "train_role_scope" {
  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.github["train"].policy).Statement : s.Sid => { action = s.Action, resource = s.Resource }
      } == {
      ReadTrainingDataAndModels = {
        action   = ["s3:GetObject"]
        resource = ["arn:aws:s3:::lambda-model-prod-models-123456789012/data/*", "arn:aws:s3:::lambda-model-prod-models-123456789012/models/*"]
      }
      ListTrainingDataAndModels = { action = ["s3:ListBucket"], resource = ["arn:aws:s3:::lambda-model-prod-models-123456789012"] }
      WriteModelVersions = {
        action   = ["s3:PutObject"]
        resource = ["arn:aws:s3:::lambda-model-prod-models-123456789012/models/versions/*", "arn:aws:s3:::lambda-model-prod-models-123456789012/models/reference/*"]
      }
      NoPrivilegeEscalation = {
        action   = local.no_escalation_statement.Action
        resource = local.no_escalation_statement.Resource
      }
    }
    error_message = "The train role reads data/ and models/, and writes only new objects under models/versions/ and models/reference/."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.github["train"].policy).Statement : !contains(s.Action, "s3:ListBucket") || try(s.Condition, null) == null])
    error_message = "The train role's ListBucket is unconditioned: with an s3:prefix condition a missing models/current answers 403, not 404."
  }
}

# The hardening itself (public access, ownership, versioning, KMS, TLS-only policy) is asserted on the
# module in ../modules/private-bucket/tests/; here, what this root passes in, read back from the bucket.
run "state_bucket" {
  assert {
    condition     = module.state_bucket.name == "lambda-model-prod-tfstate-123456789012" && !module.state_bucket.force_destroy
    error_message = "The state bucket is named per account and never force-destroyed."
  }
  assert {
    condition     = module.state_bucket.noncurrent_version_days == 365
    error_message = "Old state versions are kept a year by default."
  }
  assert {
    condition     = output.backend_config == { bucket = "lambda-model-prod-tfstate-123456789012", key = "lambda-model/prod/terraform.tfstate", region = "eu-central-1" }
    error_message = "backend_config gives the stack's -backend-config values."
  }
}

run "rejects_invalid_variables" {
  command = plan

  variables {
    github_repository      = "not a repository"
    github_owner_id        = "123456"
    production_environment = "prod env"
  }

  expect_failures = [var.github_repository, var.github_repository_id, var.production_environment]
}
