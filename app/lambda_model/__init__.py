"""Iris species prediction: trained with scikit-learn, served with onnxruntime from AWS Lambda."""
