provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      Project     = var.name_prefix
      Environment = "shared"
      ManagedBy   = "terraform"
      Component   = "bootstrap"
    })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
