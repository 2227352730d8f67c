terraform {
  # 1.10 brings S3-native state locking (use_lockfile) and the mock providers the tests rely on.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # Partial configuration: bucket, key and region come from `-backend-config` (the bootstrap outputs),
  # so one copy of this code can serve several stacks.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
