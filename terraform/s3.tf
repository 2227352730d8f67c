# The model registry: immutable versions under models/versions/<id>/, the pointer models/current, and
# optional training data under data/. The image carries the promoted model, so serving does not read this
# bucket unless MODEL_URI points at it.
resource "aws_s3_bucket" "models" {
  #checkov:skip=CKV_AWS_18:Access logging would need a second bucket per stack; CloudTrail data events are the account-level answer.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice for the account, not this stack; versions are rebuildable by retraining.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; promotion is an explicit workflow step.
  bucket        = local.model_bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "models" {
  bucket = aws_s3_bucket.models.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket                  = aws_s3_bucket.models.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id
  versioning_configuration {
    status = "Enabled"
  }
}

# The AWS-managed aws/s3 key: encrypted at rest with KMS without a key policy to maintain; principals of
# this account that may read the object may decrypt it through S3.
resource "aws_s3_bucket_server_side_encryption_configuration" "models" {
  bucket = aws_s3_bucket.models.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.model_noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.models]
}

resource "aws_s3_bucket_policy" "models" {
  bucket = aws_s3_bucket.models.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.model_bucket_arn, "${local.model_bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # A bucket policy cannot be attached while the public access block is still being created.
  depends_on = [aws_s3_bucket_public_access_block.models]
}
