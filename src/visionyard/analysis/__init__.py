"""Looking inside a trained model: loading any of a run's checkpoints as a classifier, testing it
on images with saliency, evaluation reports, and validated export bundles.

The dashboard imports the torch-free parts (``checkpoints``) at start and the rest only when a
model is first needed, so a dashboard that never tests a model never loads torch.
"""
