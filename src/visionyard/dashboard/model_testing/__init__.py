"""Model testing: images uploaded to the dashboard, classified by any checkpoint of a run, with a
saliency overlay. ``uploads`` decides which files are images it will decode; ``cache`` keeps
loaded models; ``service`` runs them off the event loop."""
