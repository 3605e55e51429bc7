"""The ways `netspec bench` can run a network, known without importing torch (the command line lists them)."""

INFERENCE = ("eager", "optimized", "torchscript", "onnxruntime", "compile")
TRAINING = ("eager", "channels_last", "amp", "compile")
