"""RVF: an embedded single-file vector store with copy-on-write branching.

    import numpy as np, rvf
    with rvf.Store.create("docs.rvf", dim=384, metric="cosine") as store:
        store.add(vectors, ids=ids, metadata=[{"lang": "en"}, ...])
        ids, distances = store.search(query, k=10, where={"lang": "en"})
        branch = store.branch("experiment.rvf")   # copy-on-write, O(1)

Distances: smaller is closer. "l2" is squared Euclidean, "ip" the negated inner
product, "cosine" is 1 - cos. See help(rvf.Store) and docs/python.md.
"""

from ._rvf import (
    MISSING_ID,
    AddResult,
    ClosedError,
    CorruptError,
    DimensionError,
    ExistsError,
    IncompatibleError,
    InvalidArgumentError,
    IoError,
    LineageTooDeepError,
    LockedError,
    Membership,
    NotAChildError,
    NotAStoreError,
    NotFoundError,
    ParentMismatchError,
    ParentMissingError,
    PoisonedError,
    ReadOnlyError,
    FrozenError,
    RvfError,
    Store,
    TruncatedError,
    InternalError,
    UnsupportedError,
    __version__,
)

__all__ = [
    "MISSING_ID",
    "AddResult",
    "ClosedError",
    "CorruptError",
    "DimensionError",
    "ExistsError",
    "FrozenError",
    "IncompatibleError",
    "InvalidArgumentError",
    "IoError",
    "LineageTooDeepError",
    "LockedError",
    "Membership",
    "NotAChildError",
    "NotAStoreError",
    "NotFoundError",
    "ParentMismatchError",
    "ParentMissingError",
    "PoisonedError",
    "ReadOnlyError",
    "TruncatedError",
    "InternalError",
    "RvfError",
    "Store",
    "UnsupportedError",
    "__version__",
]
