resource "aws_ecr_repository" "this" {
  name = local.name
  # The deploy workflow pushes one tag per commit SHA; a tag can never point at other bytes later.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_destroy

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

# Lambda pins a published version to the image digest, so deleting a tagged image would break rollback to
# that version. Only untagged images are expired: with immutable tags they are never what a release pushed
# (dangling layers of failed or superseded pushes). Pruning old releases is deliberate, not automatic.
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Expire untagged images; tagged release images are never expired"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = var.ecr_untagged_image_days
      }
      action = { type = "expire" }
    }]
  })
}

# Granting the pull explicitly means creating the function does not need ecr:SetRepositoryPolicy at
# deploy time, and only this function (not any Lambda in the account) may pull.
resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaPull"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      Condition = {
        StringLike = { "aws:SourceArn" = "${local.function_arn}*" }
      }
    }]
  })
}
