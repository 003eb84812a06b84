"""Public-corpus plumbing shared by the recipes: resumable verified downloads, safe extraction,
manifest preparation with bad-item reports, and lhotse interop.

* :mod:`asr.datasets.download`: :class:`Resource`, :func:`download`, :func:`extract`, :func:`fetch`.
* :mod:`asr.datasets.prepare`: :class:`Item`, :func:`prepare_split` (parallel, idempotent).
* :mod:`asr.datasets.lhotse_interop`: manifests to and from lhotse ``CutSet`` (optional ``lhotse`` extra).
"""
