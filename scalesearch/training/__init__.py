"""Parts of the proxy trainer (scalesearch.train): config and budget, device batches, optimizers, evaluation."""
