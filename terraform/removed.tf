# The image repository and the model bucket moved to the bootstrap (terraform/bootstrap/registry.tf): both stages
# deploy from them, so neither stack may own them. An install from before the move still has them in this
# stack's state; these blocks make its next apply forget them instead of destroying the release images and the
# models. The bootstrap imports them first (docs/infrastructure.md, "From one stack to two"). They can go once
# every install has applied them.

removed {
  from = aws_ecr_repository.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_ecr_lifecycle_policy.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_ecr_repository_policy.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.model_bucket
  lifecycle {
    destroy = false
  }
}
