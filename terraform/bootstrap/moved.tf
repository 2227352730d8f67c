# module.state_bucket (state.tf) took over the state bucket's resources from this root. Without these
# blocks the next apply would destroy the bucket that holds every stack's state and create an empty one.
# They can go once every bootstrap has applied them.

moved {
  from = aws_s3_bucket.state
  to   = module.state_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.state
  to   = module.state_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.state
  to   = module.state_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.state
  to   = module.state_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.state
  to   = module.state_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.state
  to   = module.state_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.state
  to   = module.state_bucket.aws_s3_bucket_policy.this
}

# The single-stage install's plan and deploy roles (and their inline policies) are production's now, and its
# function boundary is production's boundary: moved in state, so the roles keep their names and ARNs (the GitHub
# variables stay valid) and nothing is replaced. See docs/infrastructure.md, "From one stack to two".

moved {
  from = aws_iam_role.github["plan"]
  to   = aws_iam_role.github["production-plan"]
}

moved {
  from = aws_iam_role_policy.github["plan"]
  to   = aws_iam_role_policy.github["production-plan"]
}

moved {
  from = aws_iam_role.github["deploy"]
  to   = aws_iam_role.github["production-deploy"]
}

moved {
  from = aws_iam_role_policy.github["deploy"]
  to   = aws_iam_role_policy.github["production-deploy"]
}

moved {
  from = aws_iam_policy.function_boundary
  to   = aws_iam_policy.function_boundary["production"]
}
