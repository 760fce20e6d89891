"""`mmret serve`: the HTTP server and web page over one collection (mmret[serve]); FastAPI loads only when it runs."""
from __future__ import annotations

import argparse

from ..errors import MissingPackage
from .common import collection_option, device_option, positive_float, positive_int

EXAMPLES = """examples:
  mmret serve --collection photos                           # then open http://127.0.0.1:8000/
  mmret serve --collection photos --root ~/Pictures --api-key-file keys.txt   # uploads, adds, re-index
  mmret serve --collection photos --watch ~/Pictures        # new, changed, moved, deleted photos followed"""


def add(commands) -> None:
    serve = commands.add_parser("serve", help="serve a collection over HTTP with a search page (mmret[serve])",
                                epilog=EXAMPLES)
    collection_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind; 127.0.0.1 is this machine only")
    serve.add_argument("--port", type=positive_int, default=8000, help="port to listen on")
    serve.add_argument("--root", action="append", default=[], metavar="DIR",
                       help="a server-side folder that adds, re-indexing and media may use (repeatable)")
    serve.add_argument("--api-key-file", metavar="FILE",
                       help="keys for write endpoints, one per line (also $MMRET_API_KEYS, comma-separated)")
    serve.add_argument("--keys-for-reads", action="store_true", help="require a key for searches and media too")
    serve.add_argument("--max-upload-mb", type=positive_float, default=64, help="largest upload accepted (all files of one request together)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="allow this origin to call the API from a browser (default: none)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="also answer requests whose Host header is NAME (repeatable; '*' for any); by default "
                            "only 127.0.0.1, localhost, ::1 and --host, against DNS rebinding")
    serve.add_argument("--request-timeout", type=positive_float, default=60.0, metavar="SECONDS",
                       help="a request that takes longer is answered 504")
    serve.add_argument("--precision", default="auto", help="model precision: auto, fp32 or bf16")
    device_option(serve)
    serve.add_argument("--watch", action="append", default=[], metavar="DIR",
                       help="keep the collection in step with this folder, as mmret watch does (repeatable)")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from ..serve.run import serve
    except ImportError as error:
        raise MissingPackage(f"mmret serve needs the server packages: pip install 'mmret[serve]' ({error})") from error
    serve(args.collection, args.host, args.port, args.root, args.api_key_file, args.keys_for_reads,
          args.max_upload_mb, args.cors_origin, args.request_timeout, args.precision, args.allowed_host, args.device,
          args.watch)
    return 0
