"""Inference runtimes for the recognizers: the network graphs a model exports, ONNX export and int8
quantisation (:mod:`genfer.runtime.onnx_export`), and the backends the :class:`~genfer.api.Recognizer` runs a
network with (:mod:`genfer.runtime.backends`: PyTorch, or ONNX Runtime when the ``onnx`` extra is installed).

The shipped safetensors stay the source of truth: ONNX files are built from them on demand and cached in the
user's cache folder (:func:`genfer.runtime.onnx_export.cache_dir`), never in the package.
"""
