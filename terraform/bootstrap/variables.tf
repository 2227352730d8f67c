variable "aws_region" {
  description = "AWS region of the state bucket and of the stack the roles may deploy."
  type        = string
  default     = "eu-central-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region name, e.g. eu-central-1."
  }
}

variable "name_prefix" {
  description = "name_prefix of the stack these roles deploy; must equal the stack's variable, the roles are scoped to its names."
  type        = string
  default     = "lambda-model"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "stages" {
  description = <<-EOT
    The stacks these roles deploy, by stage key: each stage's stack environment (TF_VAR_environment, part of
    every name of its stack) and the GitHub environment its deploy job runs in (the only subject its deploy
    role trusts). production is required; staging is optional only for the first step of the migration from
    the single-stage install (docs/infrastructure.md, "From one stack to two").
  EOT
  type = map(object({
    environment        = string
    github_environment = string
  }))
  default = {
    staging    = { environment = "staging", github_environment = "staging" }
    production = { environment = "prod", github_environment = "production" }
  }

  validation {
    condition     = length(setsubtract(keys(var.stages), ["staging", "production"])) == 0 && contains(keys(var.stages), "production")
    error_message = "stages must have the key production and at most staging besides it."
  }

  validation {
    condition     = alltrue([for stage in values(var.stages) : can(regex("^[a-z][a-z0-9]{1,11}$", stage.environment))])
    error_message = "Every stage's environment must be 2-12 lowercase letters or digits, starting with a letter (the stack's environment variable)."
  }

  validation {
    condition     = alltrue([for stage in values(var.stages) : can(regex("^[A-Za-z0-9_.-]{1,255}$", stage.github_environment))])
    error_message = "Every stage's github_environment must be a GitHub environment name without spaces or colons."
  }

  # Two stages with one environment would be one stack under two sets of roles.
  validation {
    condition     = length(distinct([for stage in values(var.stages) : stage.environment])) == length(var.stages)
    error_message = "The stages' environments must differ: each stage is its own stack."
  }

  # The deploy role of a stage trusts its GitHub environment alone: a shared one would let one stage's job
  # assume the other stage's role.
  validation {
    condition     = length(distinct([for stage in values(var.stages) : stage.github_environment])) == length(var.stages)
    error_message = "The stages' github_environment values must differ: each deploy role trusts only its own."
  }
}

variable "github_repository" {
  description = "The GitHub repository whose workflows may assume the roles, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be owner/name, e.g. octo-org/lambda-model."
  }
}

variable "github_owner_id" {
  description = "Numeric ID of the repository owner. Set together with github_repository_id when the repository uses GitHub's immutable subject claims (repo:owner@ID/name@ID:...)."
  type        = string
  default     = null

  validation {
    condition     = var.github_owner_id == null || can(regex("^[0-9]+$", var.github_owner_id))
    error_message = "github_owner_id must be the owner's numeric ID (gh api users/<owner> --jq .id)."
  }
}

variable "github_repository_id" {
  description = "Numeric ID of the repository, for the immutable subject claims; see github_owner_id."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository_id == null || can(regex("^[0-9]+$", var.github_repository_id))
    error_message = "github_repository_id must be the repository's numeric ID (gh api repos/<owner>/<name> --jq .id)."
  }

  validation {
    condition     = (var.github_repository_id == null) == (var.github_owner_id == null)
    error_message = "Set both github_owner_id and github_repository_id (immutable subject claims) or neither."
  }
}

variable "training_environment" {
  description = "GitHub environment of the retrain job; the only subject the train role trusts."
  type        = string
  default     = "training"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.training_environment))
    error_message = "training_environment must be a GitHub environment name without spaces or colons."
  }

  validation {
    condition     = !contains([for stage in values(var.stages) : stage.github_environment], var.training_environment)
    error_message = "training_environment must differ from the stages' github_environment values: the train role trusts it alone."
  }
}

variable "monitoring_environment" {
  description = "GitHub environment of the scheduled model monitor; the only subject the monitor role trusts."
  type        = string
  default     = "monitoring"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.monitoring_environment))
    error_message = "monitoring_environment must be a GitHub environment name without spaces or colons."
  }

  # Its own environment: a job of another environment must not be able to assume the monitor role, nor the
  # monitor's job another role (and github_variables keys its scopes by environment name).
  validation {
    condition     = !contains(concat([for stage in values(var.stages) : stage.github_environment], [var.training_environment]), var.monitoring_environment)
    error_message = "monitoring_environment must differ from the stages' github_environment values and training_environment."
  }
}

variable "plan_from_main" {
  description = "Let workflows on the main branch (the scheduled drift check) assume staging's plan role, besides pull requests. Production's plan role trusts main alone, whatever this says."
  type        = bool
  default     = true
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false when the account already has one (it is looked up instead)."
  type        = bool
  default     = true
}

variable "manage_api_gateway_account" {
  description = "Set this region's API Gateway account setting to a CloudWatch Logs role (needed for the stage's logs). False if something else already manages it."
  type        = bool
  default     = true
}

variable "state_bucket_name" {
  description = "Name of the state bucket; null derives <name_prefix>-<production environment>-tfstate-<account id> (the single-stage install's name, kept)."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "image_repository_name" {
  description = "Name of the shared image repository both stages deploy from; null derives <name_prefix>. The migration keeps the single-stage install's <name_prefix>-<production environment>."
  type        = string
  default     = null

  validation {
    condition     = var.image_repository_name == null || can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.image_repository_name))
    error_message = "image_repository_name must be an ECR repository name: lowercase letters, digits and . _ - / separators."
  }
}

variable "model_bucket_name" {
  description = "Name of the shared model bucket (the model registry); null derives <name_prefix>-models-<account id>. The migration keeps the single-stage install's <name_prefix>-<production environment>-models-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.model_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.model_bucket_name))
    error_message = "model_bucket_name must be a valid S3 bucket name."
  }
}

variable "ecr_untagged_image_days" {
  description = "Days after which untagged images (leftovers of failed or superseded pushes) expire; tagged release images never do."
  type        = number
  default     = 14

  validation {
    condition     = var.ecr_untagged_image_days >= 1
    error_message = "ecr_untagged_image_days must be at least 1."
  }
}

variable "model_noncurrent_version_days" {
  description = "Days overwritten or deleted objects of the model bucket (the pointer's history) are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.model_noncurrent_version_days >= 1
    error_message = "model_noncurrent_version_days must be at least 1."
  }
}

variable "import_single_stage_registry" {
  description = "Only for the migration's first plan: import the single-stage stack's image repository and model bucket (named by image_repository_name and model_bucket_name) into the registry (imports.tf)."
  type        = bool
  default     = false

  validation {
    condition     = !var.import_single_stage_registry || (var.image_repository_name != null && var.model_bucket_name != null)
    error_message = "import_single_stage_registry needs image_repository_name and model_bucket_name: the names of the single-stage stack's repository and bucket."
  }
}

variable "registry_force_destroy" {
  description = "Let destroy delete the image repository and the model bucket with their images and objects. Only for throwaway installs (tests): the registry holds every release and model."
  type        = bool
  default     = false
}

variable "state_noncurrent_version_days" {
  description = "Days old state versions are kept (the way back from a bad apply)."
  type        = number
  default     = 365

  validation {
    condition     = var.state_noncurrent_version_days >= 30
    error_message = "state_noncurrent_version_days must be at least 30."
  }
}

variable "max_session_duration" {
  description = "Longest session, in seconds, a workflow may hold one of the roles."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
