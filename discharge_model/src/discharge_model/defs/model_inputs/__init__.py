"""Model inputs: landing-zone data brought onto the model's grid."""
