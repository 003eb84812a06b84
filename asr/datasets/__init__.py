"""Public-corpus plumbing shared by the recipes: resumable verified downloads, safe extraction,
manifest preparation with bad-item reports, what the recipes' ``prepare_<corpus>`` share, and lhotse
interop (the recipes' command line is :mod:`asr.cli.recipe`).

* :mod:`asr.datasets.download`: :class:`Resource`, :func:`fetch` (download + extract with markers), and
  re-exported :func:`download` (:mod:`~asr.datasets.http_download`) and :func:`extract`
  (:mod:`~asr.datasets.archives`).
* :mod:`asr.datasets.prepare`: :class:`Item`, :func:`prepare_split` (parallel, idempotent).
* :mod:`asr.datasets.recipe`: the ``[corpus]`` table as a dataclass, :func:`prepare_corpus`, and
  :func:`corpus_preparer`, which builds a recipe's ``prepare_<corpus>(corpus_dir, out_dir)``.
* :mod:`asr.datasets.lhotse_interop`: manifests to and from lhotse ``CutSet`` (optional ``lhotse`` extra).
"""
