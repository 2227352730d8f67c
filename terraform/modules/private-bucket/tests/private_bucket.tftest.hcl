# Unit tests of the module with a mocked AWS provider: the hardening every caller gets, and the settings a
# caller chooses. The roots' own tests check what each root passes in (name, force_destroy, days).

mock_provider "aws" {
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::example-private-bucket"
    }
  }
}

variables {
  name                    = "example-private-bucket"
  noncurrent_version_days = 30
}

run "hardened_by_default" {
  assert {
    condition     = aws_s3_bucket.this.bucket == "example-private-bucket" && !aws_s3_bucket.this.force_destroy
    error_message = "The bucket has the given name and is not force-destroyed by default."
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.this.bucket == aws_s3_bucket.this.id && aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs are disabled (bucket owner enforced)."
  }
  assert {
    condition = aws_s3_bucket_public_access_block.this.bucket == aws_s3_bucket.this.id && alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls, aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls, aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "All four public access blocks are on."
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.bucket == aws_s3_bucket.this.id && aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "The bucket is versioned."
  }
  assert {
    condition = (
      aws_s3_bucket_server_side_encryption_configuration.this.bucket == aws_s3_bucket.this.id &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled
    )
    error_message = "The bucket is encrypted with KMS, with a bucket key."
  }
  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.this.bucket == aws_s3_bucket.this.id &&
      length(aws_s3_bucket_lifecycle_configuration.this.rule) == 1 &&
      one(aws_s3_bucket_lifecycle_configuration.this.rule).id == "expire-noncurrent-versions" &&
      one(aws_s3_bucket_lifecycle_configuration.this.rule).status == "Enabled" &&
      one(one(aws_s3_bucket_lifecycle_configuration.this.rule).noncurrent_version_expiration).noncurrent_days == 30 &&
      one(one(aws_s3_bucket_lifecycle_configuration.this.rule).abort_incomplete_multipart_upload).days_after_initiation == 7
    )
    error_message = "One enabled rule expires noncurrent versions after the given days and aborts stale uploads after 7."
  }
  assert {
    condition = aws_s3_bucket_policy.this.bucket == aws_s3_bucket.this.id && jsondecode(aws_s3_bucket_policy.this.policy) == {
      Version = "2012-10-17"
      Statement = [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = ["arn:aws:s3:::example-private-bucket", "arn:aws:s3:::example-private-bucket/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }]
    }
    error_message = "The bucket policy denies every request that is not TLS, and says nothing else."
  }
  assert {
    condition = (
      output.id == aws_s3_bucket.this.id && output.arn == "arn:aws:s3:::example-private-bucket" &&
      output.name == "example-private-bucket" && output.force_destroy == false && output.noncurrent_version_days == 30
    )
    error_message = "The outputs describe the bucket."
  }
}

run "caller_settings" {
  variables {
    force_destroy           = true
    noncurrent_version_days = 365
    lifecycle_rule_id       = "expire-old-state-versions"
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy && output.force_destroy
    error_message = "force_destroy reaches the bucket."
  }
  assert {
    condition = (
      one(aws_s3_bucket_lifecycle_configuration.this.rule).id == "expire-old-state-versions" &&
      one(one(aws_s3_bucket_lifecycle_configuration.this.rule).noncurrent_version_expiration).noncurrent_days == 365 &&
      output.noncurrent_version_days == 365
    )
    error_message = "The lifecycle rule takes the caller's ID and days."
  }
}

run "rejects_invalid_variables" {
  command = plan

  variables {
    name                    = "Not_A_Bucket"
    noncurrent_version_days = 0
    lifecycle_rule_id       = ""
  }

  expect_failures = [var.name, var.noncurrent_version_days, var.lifecycle_rule_id]
}
