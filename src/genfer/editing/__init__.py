"""Latent emotion editing (Azak & Sahin): emotion directions in a StyleGAN2's W / W+ space and the code arithmetic.

Pure numpy / tensor functions, no networks:

* :mod:`.directions` fits one linear regressor per emotion on sampled codes and the recognizer's softmax
  scores (a linear SVR on all samples, the paper's choice) or InterFaceGAN's linear SVM on the extremes, and
  the figures' numbers: the dominant-emotion histogram, the cosine matrix, the neutral = sum-of-others test;
* :mod:`.arithmetic` is Eq. 1 (edit), the projection onto a regressor's level hyperplane and Eq. 2
  (neutralise), Eq. 3 (transfer) and Eq. 4 (interpolated transfer);
* :mod:`.store` is the directions file: a small safetensors file and a JSON card beside the generator.
"""
