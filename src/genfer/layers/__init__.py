"""Reusable network blocks (StyleGAN2 layers, ...); one module per family."""
