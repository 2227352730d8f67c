variable "aws_region" {
  description = "AWS region the stack is deployed to."
  type        = string
  default     = "eu-central-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region name, e.g. eu-central-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name; together with environment it lets several stacks share one account."
  type        = string
  default     = "lambda-model"

  validation {
    # The longest derived name is the model bucket: <prefix>-<env>-models-<12-digit account>, at most 63 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, part of every resource name (e.g. prod, staging)."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits, starting with a letter."
  }
}

variable "image_uri" {
  description = <<-EOT
    ECR image the function is created from, as <repository_url>:<tag> or <repository_url>@sha256:<digest>.
    Only used when the function is created: afterwards the deploy workflow owns the image (ignore_changes).
    Leave null to plan an existing stack; the first deploy must set it to an image that was already pushed.
  EOT
  type        = string
  default     = null

  validation {
    condition = var.image_uri == null || can(regex(
      "^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$",
      var.image_uri
    ))
    error_message = "image_uri must be an ECR image reference: <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>."
  }

  # The repository policy lets Lambda pull for this stack's function from the shared repository only.
  validation {
    condition     = var.image_uri == null || anytrue([for separator in [":", "@"] : startswith(coalesce(var.image_uri, "-"), "${var.image_repository_url}${separator}")])
    error_message = "image_uri must be an image of image_repository_url (the shared repository), as <image_repository_url>:<tag> or @sha256:<digest>."
  }
}

variable "image_repository_url" {
  description = "The shared image repository the bootstrap owns (its image_repository_url output; the workflows' ECR_REPOSITORY_URL): staging pushes the release image there, both stages' functions run images from it."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.image_repository_url))
    error_message = "image_repository_url must be an ECR repository URL without tag or digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>."
  }
}

variable "model_bucket" {
  description = "The shared model bucket the bootstrap owns (its model_bucket output; the workflows' MODEL_BUCKET): the model registry the function may read."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.model_bucket)) && !strcontains(var.model_bucket, "..")
    error_message = "model_bucket must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "architecture" {
  description = "Instruction set of the function; must match the platform the image was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds; below API Gateway's 29 s integration limit so the Lambda, not the gateway, reports a timeout."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout < 29 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 28 (API Gateway gives up at 29 s)."
  }
}

variable "model_uri" {
  description = "Overrides MODEL_URI in the function (e.g. s3://<bucket>/models). Null keeps the model baked into the image (/var/task/model)."
  type        = string
  default     = null

  validation {
    condition     = var.model_uri == null || can(regex("^(s3://[a-z0-9.-]+(/.*)?|/.+)$", var.model_uri))
    error_message = "model_uri must be an s3:// URI or an absolute path inside the image."
  }
}

variable "log_level" {
  description = "Application log level of the function (Lambda's JSON log format filters on it). At most INFO: each request's INFO line carries its EMF metrics and the fields the Logs Insights queries read."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO"], var.log_level)
    error_message = "log_level must be TRACE, DEBUG or INFO: at WARN or above Lambda drops the INFO request line, and with it every model metric (EMF) and the request fields of the dashboard's log queries."
  }
}

variable "log_retention_days" {
  description = "Retention of the function and API log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second the API stage accepts before answering 429."
  type        = number
  default     = 50

  validation {
    condition     = var.throttle_rate_limit > 0 && var.throttle_rate_limit <= 10000
    error_message = "throttle_rate_limit must be greater than 0 and at most 10000 (the account default)."
  }
}

variable "throttle_burst_limit" {
  description = "Burst of requests the API stage accepts above the rate limit."
  type        = number
  default     = 100

  validation {
    condition     = var.throttle_burst_limit >= 1 && var.throttle_burst_limit <= 5000 && floor(var.throttle_burst_limit) == var.throttle_burst_limit
    error_message = "throttle_burst_limit must be a whole number from 1 to 5000 (the account default)."
  }
}

variable "enable_api_key" {
  description = "Require an API key (x-api-key header) on the prediction routes, with a usage plan carrying the same throttling. /health stays open."
  type        = bool
  default     = false
}

variable "api_quota_per_day" {
  description = "Requests per day per API key when enable_api_key is true; null for no quota."
  type        = number
  default     = null

  validation {
    condition     = var.api_quota_per_day == null || try(var.api_quota_per_day >= 1, false)
    error_message = "api_quota_per_day must be null or a positive number."
  }
}

variable "alarm_5xx_threshold" {
  description = "API 5XX responses per alarm period that raise the 5xx alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_5xx_threshold >= 1
    error_message = "alarm_5xx_threshold must be at least 1."
  }
}

variable "alarm_errors_threshold" {
  description = "Function errors (of the live alias) per alarm period that raise the errors alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_errors_threshold >= 1
    error_message = "alarm_errors_threshold must be at least 1."
  }
}

variable "alarm_throttles_threshold" {
  description = "Throttled invocations (of the live alias) per alarm period that raise the throttles alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_throttles_threshold >= 1
    error_message = "alarm_throttles_threshold must be at least 1."
  }
}

variable "alarm_p99_latency_ms" {
  description = "p99 API latency in milliseconds above which the latency alarm is raised."
  type        = number
  default     = 1000

  validation {
    condition     = var.alarm_p99_latency_ms > 0 && var.alarm_p99_latency_ms < 29000
    error_message = "alarm_p99_latency_ms must be between 0 and 29000 (API Gateway's integration limit)."
  }
}

variable "alarm_canary_duration_ms" {
  description = "Average duration in milliseconds of any one version behind the alias that raises the canary-duration alarm."
  type        = number
  default     = 1000

  validation {
    condition     = var.alarm_canary_duration_ms > 0 && var.alarm_canary_duration_ms <= 900000
    error_message = "alarm_canary_duration_ms must be between 0 and 900000 (Lambda's 15-minute limit)."
  }
}

variable "alarm_low_confidence_rate" {
  description = "Share of scored records (0-1) below the model's low-confidence cut-off, in the worst model version, that raises the low-confidence alarm; about twice the hold-out rate."
  type        = number
  default     = 0.10

  validation {
    condition     = var.alarm_low_confidence_rate > 0 && var.alarm_low_confidence_rate <= 1
    error_message = "alarm_low_confidence_rate must be a share greater than 0 and at most 1."
  }
}

variable "alarm_out_of_range_rate" {
  description = "Share of scored records (0-1) with a value outside the training range, in the worst model version, that raises the out-of-range alarm."
  type        = number
  default     = 0.05

  validation {
    condition     = var.alarm_out_of_range_rate > 0 && var.alarm_out_of_range_rate <= 1
    error_message = "alarm_out_of_range_rate must be a share greater than 0 and at most 1."
  }
}

variable "alarm_imputed_rate" {
  description = "Share of scored records (0-1) with an imputed (missing) value, in the worst model version, that raises the imputed alarm."
  type        = number
  default     = 0.05

  validation {
    condition     = var.alarm_imputed_rate > 0 && var.alarm_imputed_rate <= 1
    error_message = "alarm_imputed_rate must be a share greater than 0 and at most 1."
  }
}

variable "alarm_model_evaluation_periods" {
  description = "Consecutive breaching periods before a model alarm (low-confidence, out-of-range, imputed) fires; longer than the service alarms' because a few records make a noisy rate."
  type        = number
  default     = 3

  validation {
    # Metrics Insights alarms look back at most 3 hours.
    condition     = var.alarm_model_evaluation_periods >= 1 && floor(var.alarm_model_evaluation_periods) == var.alarm_model_evaluation_periods && var.alarm_model_evaluation_periods * var.alarm_period_seconds <= 10800
    error_message = "alarm_model_evaluation_periods must be a whole number from 1 whose periods (times alarm_period_seconds) span at most 3 hours, the look-back of a Metrics Insights alarm."
  }
}

variable "alarm_period_seconds" {
  description = "Length of one alarm evaluation period, in seconds."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 180, 300, 600, 900, 1800, 3600], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be a multiple of 60 from the list 60, 120, 180, 300, 600, 900, 1800, 3600."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && var.alarm_evaluation_periods <= 24 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number from 1 to 24."
  }
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified when an alarm fires or recovers; empty for no notifications."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", arn))])
    error_message = "alarm_actions must contain SNS topic ARNs."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}
