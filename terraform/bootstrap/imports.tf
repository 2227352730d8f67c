# The migration from the single-stage install (docs/infrastructure.md, "From one stack to two"): its stack made
# the image repository and the model bucket; the bootstrap takes them over under their names
# (image_repository_name, model_bucket_name) in the same plan that moves the production roles (moved.tf), so
# one reviewed plan shows the imports, the moves and "0 to destroy". The stack then forgets them (its
# removed.tf). Import blocks, not `terraform import`: the CLI evaluates the outputs against the state before the
# moves, where the production roles are still under their old keys, and fails.

locals {
  # Each import's ID is the name: ECR's three by the repository's, the bucket module's seven by the bucket's.
  single_stage_registry_imports = var.import_single_stage_registry ? toset(["single-stage"]) : toset([])
}

import {
  for_each = local.single_stage_registry_imports
  to       = aws_ecr_repository.images
  id       = local.image_repository_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = aws_ecr_lifecycle_policy.images
  id       = local.image_repository_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = aws_ecr_repository_policy.images
  id       = local.image_repository_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket.this
  id       = local.model_bucket_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket_ownership_controls.this
  id       = local.model_bucket_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket_public_access_block.this
  id       = local.model_bucket_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket_versioning.this
  id       = local.model_bucket_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket_server_side_encryption_configuration.this
  id       = local.model_bucket_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket_lifecycle_configuration.this
  id       = local.model_bucket_name
}

import {
  for_each = local.single_stage_registry_imports
  to       = module.model_bucket.aws_s3_bucket_policy.this
  id       = local.model_bucket_name
}
