"""Public-corpus plumbing shared by the recipes: resumable verified downloads, safe extraction,
manifest preparation with bad-item reports, the recipes' shared main, and lhotse interop.

* :mod:`asr.datasets.download`: :class:`Resource`, :func:`fetch` (download + extract with markers), and
  re-exported :func:`download` (:mod:`~asr.datasets.http_download`) and :func:`extract`
  (:mod:`~asr.datasets.archives`).
* :mod:`asr.datasets.prepare`: :class:`Item`, :func:`prepare_split` (parallel, idempotent).
* :mod:`asr.datasets.recipe`: the ``[corpus]`` table as a dataclass, :func:`prepare_corpus`, and the one
  command-line main every recipe's ``prepare.py`` is built on.
* :mod:`asr.datasets.lhotse_interop`: manifests to and from lhotse ``CutSet`` (optional ``lhotse`` extra).
"""
