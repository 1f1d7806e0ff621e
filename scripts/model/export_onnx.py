#!/usr/bin/env python3
"""Writes all-MiniLM-L6-v2 (a 6-layer BERT encoder) as an ONNX graph, from its safetensors weights.

    export_onnx.py MODEL_DIR OUT.onnx

MODEL_DIR holds the sentence-transformers files (config.json, model.safetensors). The graph is
built op by op with onnx.helper from the architecture in config.json, so no PyTorch is needed:

    inputs   input_ids, attention_mask, token_type_ids   int64 [batch, seq]
    output   last_hidden_state                            float [batch, seq, hidden]

It is BertModel's forward pass without the pooler: embeddings (word + position + token type,
LayerNorm), then per layer self-attention with the additive mask HF uses ((1 - mask) * float32
min), output projection + residual + LayerNorm, GELU (erf form) feed-forward + residual +
LayerNorm. Mean pooling and L2 normalization (the model's sentence-transformers modules) are
done by the caller. Weights are float32 initializers; nothing is quantized. The output is
byte-for-byte reproducible for the same inputs and the pinned onnx version.
"""
import json
import math
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is an ONNX op from opset 17


def load_safetensors(path):
    dtypes = {"F32": np.float32, "I64": np.int64}
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] not in dtypes:
            raise SystemExit(f"export: unsupported dtype {meta['dtype']} for {name}")
        begin, end = meta["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        out[name] = arr.copy()
    return out


class Graph:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op_type, inputs, name_hint, **attrs):
        self.n += 1
        out = f"{name_hint}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def build(cfg, w):
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(cfg["layer_norm_eps"])
    layers = cfg["num_hidden_layers"]
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
        raise SystemExit("export: only BERT models with the exact (erf) GELU are supported")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit("export: only absolute position embeddings are supported")

    g = Graph()
    c = lambda name, arr: g.init(name, np.asarray(arr))  # noqa: E731

    # embeddings
    word = g.op("Gather", [c("emb.word", w["embeddings.word_embeddings.weight"]), "input_ids"], "word")
    ttype = g.op("Gather", [c("emb.type", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"], "ttype")
    # positions 0..seq-1: the first seq rows of the position table
    shape = g.op("Shape", ["input_ids"], "shape")
    seq = g.op("Slice", [shape, c("c.1", np.array([1], dtype=np.int64)), c("c.2", np.array([2], dtype=np.int64))],
               "seq")
    pos = g.op("Slice", [c("emb.pos", w["embeddings.position_embeddings.weight"]),
                         c("c.0", np.array([0], dtype=np.int64)), seq, "c.0"], "pos")
    h = g.op("Add", [g.op("Add", [word, ttype], "emb_sum"), pos], "emb_sum")
    h = g.op("LayerNormalization", [h, c("emb.ln.w", w["embeddings.LayerNorm.weight"]),
                                    c("emb.ln.b", w["embeddings.LayerNorm.bias"])], "emb_ln", axis=-1, epsilon=eps)

    # additive attention mask [batch, 1, 1, seq]: 0 where attended, float32 min where padded
    maskf = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    inv = g.op("Sub", [c("c.one_f", np.array(1.0, dtype=np.float32)), maskf], "mask_inv")
    addmask = g.op("Mul", [inv, c("c.fmin", np.array(np.finfo(np.float32).min, dtype=np.float32))], "mask_add")
    addmask = g.op("Unsqueeze", [addmask, c("c.axes12", np.array([1, 2], dtype=np.int64))], "mask4")

    split_shape = c("c.split", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = c("c.merge", np.array([0, 0, hidden], dtype=np.int64))
    scale = c("c.scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    sqrt2 = c("c.sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    half = c("c.half", np.array(0.5, dtype=np.float32))

    def dense(x, prefix, key):
        wt = c(f"{key}.w", w[f"{prefix}.weight"].T)  # [in, out]
        return g.op("Add", [g.op("MatMul", [x, wt], f"{key}_mm"), c(f"{key}.b", w[f"{prefix}.bias"])], key)

    for i in range(layers):
        p = f"encoder.layer.{i}"
        k = f"l{i}"
        q = dense(h, f"{p}.attention.self.query", f"{k}.q")
        kk = dense(h, f"{p}.attention.self.key", f"{k}.k")
        v = dense(h, f"{p}.attention.self.value", f"{k}.v")
        q = g.op("Transpose", [g.op("Reshape", [q, split_shape], f"{k}_qr")], f"{k}_qt", perm=[0, 2, 1, 3])
        kk = g.op("Transpose", [g.op("Reshape", [kk, split_shape], f"{k}_kr")], f"{k}_kt", perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [v, split_shape], f"{k}_vr")], f"{k}_vt", perm=[0, 2, 1, 3])
        scores = g.op("Mul", [g.op("MatMul", [q, kk], f"{k}_qk"), scale], f"{k}_scaled")
        probs = g.op("Softmax", [g.op("Add", [scores, addmask], f"{k}_masked")], f"{k}_probs", axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v], f"{k}_ctx")], f"{k}_ctxt", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_shape], f"{k}_ctxm")
        attn = dense(ctx, f"{p}.attention.output.dense", f"{k}.o")
        h1 = g.op("LayerNormalization", [g.op("Add", [attn, h], f"{k}_res1"),
                                         c(f"{k}.ln1.w", w[f"{p}.attention.output.LayerNorm.weight"]),
                                         c(f"{k}.ln1.b", w[f"{p}.attention.output.LayerNorm.bias"])],
                  f"{k}_ln1", axis=-1, epsilon=eps)
        inter = dense(h1, f"{p}.intermediate.dense", f"{k}.i")
        erf = g.op("Erf", [g.op("Div", [inter, sqrt2], f"{k}_gdiv")], f"{k}_erf")
        gelu = g.op("Mul", [g.op("Mul", [inter, g.op("Add", [erf, "c.one_f"], f"{k}_gadd")], f"{k}_gmul"), half],
                    f"{k}_gelu")
        out = dense(gelu, f"{p}.output.dense", f"{k}.f")
        h = g.op("LayerNormalization", [g.op("Add", [out, h1], f"{k}_res2"),
                                        c(f"{k}.ln2.w", w[f"{p}.output.LayerNorm.weight"]),
                                        c(f"{k}.ln2.b", w[f"{p}.output.LayerNorm.bias"])],
                 f"{k}_ln2", axis=-1, epsilon=eps)

    g.nodes.append(helper.make_node("Identity", [h], ["last_hidden_state"], name="output"))
    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [hidden])]
    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="serviceradar-export", producer_version="1")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: export_onnx.py MODEL_DIR OUT.onnx")
    src, out = sys.argv[1], sys.argv[2]
    with open(f"{src}/config.json") as f:
        cfg = json.load(f)
    weights = load_safetensors(f"{src}/model.safetensors")
    model = build(cfg, weights)
    onnx.save(model, out)
    print(f"export: wrote {out} ({len(model.graph.node)} nodes, opset {OPSET})")


if __name__ == "__main__":
    main()
