# module.model_bucket (s3.tf) took over the model bucket's resources from this root. These blocks let an
# existing deployment's plan move them in state instead of destroying and recreating the bucket. They can
# go once every deployment has applied them.

moved {
  from = aws_s3_bucket.models
  to   = module.model_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.models
  to   = module.model_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.models
  to   = module.model_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.models
  to   = module.model_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.models
  to   = module.model_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.models
  to   = module.model_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.models
  to   = module.model_bucket.aws_s3_bucket_policy.this
}
