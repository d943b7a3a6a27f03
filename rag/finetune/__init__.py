"""``rag finetune``: contrastive fine-tuning of the embedder and a trained cross-encoder reranker,
from a collection's own text (inverse cloze, titles and headings, augmentation, hard negatives).

    from rag.finetune import FinetuneOptions, finetune_collection
    report = finetune_collection(store, "docs", embedder, FinetuneOptions(apply=True))
"""

from rag.finetune.runner import DEFAULT_LOSS, FinetuneOptions, apply_models, finetune_collection, next_version

__all__ = ["DEFAULT_LOSS", "FinetuneOptions", "apply_models", "finetune_collection", "next_version"]
