output "id" {
  description = "ID of the bucket (its name); what the bucket's sub-resources refer to."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "ARN of the bucket; append /* for its objects."
  value       = aws_s3_bucket.this.arn
}

output "name" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.bucket
}

output "force_destroy" {
  description = "Whether `terraform destroy` may delete the bucket while it holds objects, as set on the bucket."
  value       = aws_s3_bucket.this.force_destroy
}

output "noncurrent_version_days" {
  description = "Days a noncurrent object version is kept, as set in the bucket's lifecycle rule."
  value       = one(one(aws_s3_bucket_lifecycle_configuration.this.rule).noncurrent_version_expiration).noncurrent_days
}
