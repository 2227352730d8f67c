"""Least-privilege checks of the pipeline's IAM policies: an evaluator and the policies as Terraform renders them."""
