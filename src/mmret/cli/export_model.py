"""`mmret export-model`: a model's towers as an ONNX model folder (optionally int8), usable as `--model DIR`."""
from __future__ import annotations

import json

from ..errors import BadInput
from .common import check_models

EXAMPLES = """examples:
  mmret export-model offline --format onnx --out models/offline-onnx
  mmret export-model openai/clip-vit-base-patch32 --format onnx --int8 --out models/clip-int8
  mmret index ~/Pictures --collection photos --model models/offline-onnx   # then searches import no torch

Each tower is checked against its PyTorch source on a probe batch of texts and images; the command prints the
agreement (the smallest cosine between the two embeddings of a probe item) and refuses an export below 0.99."""


def add(commands) -> None:
    export = commands.add_parser("export-model", help="export a model to ONNX (optionally int8) for fast CPU/GPU use",
                                 epilog=EXAMPLES)
    export.add_argument("model", help="'offline', 'offline-lite2', a Hugging Face CLIP/SigLIP/ChineseCLIP hub id or "
                                      "model directory")
    export.add_argument("--format", choices=("onnx",), default="onnx", help="the export format")
    export.add_argument("--int8", action="store_true",
                        help="dynamic int8 quantisation of each tower whose embeddings still agree >= 0.99")
    export.add_argument("--out", required=True, metavar="DIR", help="the model folder to write")
    export.add_argument("--json", action="store_true", help="machine-readable report")
    export.set_defaults(run=_export)


def _export(args) -> int:
    from ..encoders.model_id import ModelId

    model = ModelId.parse(args.model)
    if model.pin or model.audio or model.fusion:
        raise BadInput(f"export-model {args.model!r}: name a base model (no @pin, audio paths or fusion)")
    check_models([args.model])
    from ..encoders.onnx_export import export_model

    reports = export_model(args.model, args.out, int8=args.int8)
    if args.json:
        print(json.dumps([vars(report) for report in reports], indent=1))
        return 0
    print(f"{'tower':6} {'file':16} {'MB':>7} {'int8':5} {'agreement':>9}  note")
    for r in reports:
        print(f"{r.tower:6} {r.file:16} {r.megabytes:7.2f} {r.int8!s:5} {r.agreement:9.4f}  {r.note}")
    print(f"{args.out}: use it as --model {args.out}")
    return 0
