"""Commands on a collection's storage: `optimize` (merge segments, build and tune the ANN index), `import`
(precomputed vectors), `export` (vectors and metadata to Parquet) and `migrate` (an older format)."""
from __future__ import annotations

from ..errors import BadInput
from .common import check_models, collection_option

OPTIMIZE_EXAMPLES = """examples:
  mmret optimize --collection photos                        # index kind chosen by size and memory budget
  mmret optimize --collection photos --index HNSW32 --target-recall 0.98"""
IMPORT_EXAMPLES = """examples:
  mmret import vectors.npy --metadata rows.jsonl --collection C --model offline
  mmret import table.parquet --vector-column emb --collection C --model-id my-encoder-v2"""

EXPORT_EXAMPLES = """examples:
  mmret export photos.parquet --collection photos            # id, modality, path, text, metadata, vector
  mmret export photos-image.parquet --collection photos --space image"""


def add(commands) -> None:
    optimize = commands.add_parser("optimize", help="merge a collection's segments and build its ANN index",
                                   epilog=OPTIMIZE_EXAMPLES)
    collection_option(optimize)
    optimize.add_argument("--index", metavar="FACTORY",
                          help="FAISS factory string: Flat, HNSW32, IVF4096,PQ48, ... (default: chosen by size "
                               "and --memory-budget)")
    optimize.add_argument("--target-recall", type=float, default=0.95,
                          help="recall@10 against exact search that the tuned parameters must reach")
    optimize.add_argument("--memory-budget", type=float, default=4.0, metavar="GIB",
                          help="memory an index may take beside the stored vectors, for the automatic choice")
    optimize.add_argument("--space", help="only this vector space (default: all)")
    optimize.set_defaults(run=_optimize)

    import_ = commands.add_parser("import", help="store precomputed vectors (.npy or Parquet) with metadata",
                                  epilog=IMPORT_EXAMPLES)
    import_.add_argument("vectors", metavar="VECTORS", help=".npy (n, d) or .parquet with a vector column")
    collection_option(import_)
    import_.add_argument("--metadata", metavar="FILE",
                         help=".jsonl, .csv or .parquet, one row per vector; an 'id' column names the items")
    made_by = import_.add_mutually_exclusive_group()
    made_by.add_argument("--model", metavar="NAME",
                         help="the mmret model that made the vectors (to create the collection; text and image "
                              "search then work)")
    made_by.add_argument("--model-id", metavar="ID",
                         help="a name for a model mmret cannot load (vectors from elsewhere; vector search only)")
    import_.add_argument("--space", default="shared", help="vector space to fill")
    import_.add_argument("--vector-column", default="vector", help="Parquet column holding the vectors")
    import_.set_defaults(run=_import)

    export = commands.add_parser("export", help="write a collection's vectors and metadata to a Parquet file",
                                 epilog=EXPORT_EXAMPLES)
    export.add_argument("out", metavar="FILE.parquet", help="the file to write (replaced when complete)")
    collection_option(export)
    export.add_argument("--space", default="shared", help="the vector space to export")
    export.add_argument("--include-faces", action="store_true",
                        help="also the faces: the face space's vectors (--space face) and people's names (left out "
                             "by default)")
    export.set_defaults(run=_export)

    migrate = commands.add_parser("migrate", help="convert an older collection to the current format (and give it a "
                                  "keyword index)",
                                  epilog="example:\n  mmret migrate --collection photos")
    collection_option(migrate)
    migrate.set_defaults(run=_migrate)


def _optimize(args) -> int:
    from ..api import Collection

    if not 0 < args.target_recall <= 1:
        raise BadInput(f"--target-recall {args.target_recall}: must be in (0, 1]")
    collection = Collection.open(args.collection, create=False)
    reports = collection.optimize(args.index, args.target_recall, args.space, int(args.memory_budget * (1 << 30)))
    for space, report in reports.items():
        print(f"{space}: {report['vectors']} vectors, {report['factory']}, params {report['params']}, "
              f"recall@10 {report['recall@10']:.3f} for held-out queries, {report['seconds']:.1f} s")
        if report.get("filter_plan"):
            print(f"{space}: filtered searches by allowed share: {report['filter_plan']}")
    return 0


def _import(args) -> int:
    from ..api import Collection
    from ..data.vector_files import read_metadata, read_vectors
    from ..index.backend import collection_exists

    check_models([args.model])
    vectors, ids = read_vectors(args.vectors, args.vector_column)
    metadata = read_metadata(args.metadata) if args.metadata else None
    if collection_exists(args.collection):
        collection = Collection.open(args.collection, create=False)
    elif args.model:
        collection = Collection.open(args.collection, args.model)
    elif args.model_id:
        collection = Collection.create_for_vectors(args.collection, args.model_id, {args.space: vectors.shape[1]})
    else:
        raise BadInput(f"{args.collection}: no collection here; give --model NAME or --model-id ID to create one")
    count = collection.add_vectors(vectors, ids=ids, metadata=metadata, space=args.space)
    print(f"{args.collection}: imported {count} vectors; {len(collection)} items stored")
    return 0


def _export(args) -> int:
    from ..api import Collection

    if not args.out.endswith(".parquet"):
        raise BadInput(f"{args.out}: the export is a Parquet file; name it .parquet")
    count = Collection.open(args.collection, create=False).export(args.out, args.space, args.include_faces)
    print(f"{args.out}: {count} items of {args.collection} (space {args.space})")
    return 0


def _migrate(args) -> int:
    from ..index.backend import is_milvus, location, open_collection

    with open_collection(args.collection) as collection:  # opening migrates an older format once
        if not is_milvus(location(args.collection)) and not collection.has_words():
            collection.index_words()  # a collection made before the keyword index: nothing else changes
            print(f"{args.collection}: keyword index built for {len(collection)} items")
        print(f"{args.collection}: format is current (generation {collection.generation})")
    return 0
