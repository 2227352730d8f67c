terraform {
  # Same floor as the stack: one Terraform for both roots.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # No backend block: an admin applies this once with local state, before the state bucket exists.
  # docs/infrastructure.md shows how to move that state into the bucket afterwards.
}
