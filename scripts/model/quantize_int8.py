#!/usr/bin/env python3
"""Writes the int8 variant of the exported graph: dynamic quantization of the weight MatMuls.

    quantize_int8.py MODEL.onnx OUT.onnx

Weights become int8 per output channel, in 7 bits (reduce_range): activations are quantized per
call to uint8, and on x86 CPUs without VNNI the uint8 x int8 products of full 8-bit weights can
saturate ONNX Runtime's 16-bit intermediate sums; 7-bit weights cannot, and measured no less exact
here. The feed-forward output projection of each
layer (the 1536 -> 384 MatMul, whose inputs are GELU outputs with a long tail) stays float32:
quantizing it costs the most fidelity for its share of the work. The attention score and context
MatMuls (activation x activation) stay float32 too. Fidelity against the float32 reference is
measured by the engine's tests and reported in docs/internals/embed.md.
"""
import sys

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: quantize_int8.py MODEL.onnx OUT.onnx")
    src, out = sys.argv[1], sys.argv[2]
    model = onnx.load(src)
    inits = {i.name for i in model.graph.initializer}
    keep_float = [n.name for n in model.graph.node
                  if n.op_type == "MatMul" and (n.input[1] not in inits or n.input[1].endswith(".f.w"))]
    quantize_dynamic(src, out, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_float)
    print(f"quantize: wrote {out} ({len(keep_float)} MatMuls kept float32)")


if __name__ == "__main__":
    main()
