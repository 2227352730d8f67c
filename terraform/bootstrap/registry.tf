# The registry both stages deploy from: one image repository and one model bucket. Staging pushes a release
# image once and production deploys that same digest, so neither stack owns them (a stack's destroy must not
# take the other stage's images or the models with it) and neither deploy role may create, delete or
# configure them (iam.tf). An existing single-stage install imports its stack's repository and bucket here,
# keeping their names through image_repository_name and model_bucket_name (docs/infrastructure.md).

resource "aws_ecr_repository" "images" {
  name = local.image_repository_name
  # One tag per release; a tag can never point at other bytes later, so the -staged tag staging adds to a digest
  # it passed is final, and production can trust it.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.registry_force_destroy

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
resource "aws_ecr_lifecycle_policy" "images" {
  repository = aws_ecr_repository.images.name
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

# Granting the pull explicitly means creating a function does not need ecr:SetRepositoryPolicy at deploy time,
# and only the stages' functions (not any Lambda in the account) may pull.
resource "aws_ecr_repository_policy" "images" {
  repository = aws_ecr_repository.images.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaPull"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      Condition = {
        # The function and its versions (function:<name>:<version>) of every stage.
        StringLike = { "aws:SourceArn" = [for key in sort(keys(local.stages)) : "${local.stages[key].function_arn}*"] }
      }
    }]
  })
}

# The model registry: immutable versions under models/versions/<id>/, the pointer models/current (production's:
# only its deploy role moves it), the gate's reference sets under models/reference/ and optional training data
# under data/. The hardening (no public access, versioning, KMS, TLS only) is the module's.
module "model_bucket" {
  source = "../modules/private-bucket"

  name                    = local.model_bucket_name
  force_destroy           = var.registry_force_destroy
  noncurrent_version_days = var.model_noncurrent_version_days
  lifecycle_rule_id       = "expire-noncurrent-versions"
}
