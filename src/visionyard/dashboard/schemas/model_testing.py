"""Model testing: images classified by a run's checkpoint, with saliency overlays."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PredictionOut(BaseModel):
    label: str
    index: int = Field(description="The class's logit index.")
    probability: float


class SaliencyOut(BaseModel):
    label: str = Field(description="The class the map explains.")
    layer: str = Field(description="The model block Grad-CAM read.")
    overlay: str = Field(
        description="The image with the map laid over it, at the image's own size: a "
        "data: URL (PNG; JPEG above 4 megapixels)."
    )


class ImageResultOut(BaseModel):
    filename: str
    width: int
    height: int
    predictions: list[PredictionOut] = Field(description="The top classes, most probable first.")
    saliency: SaliencyOut | None = Field(description="null when saliency was not asked for.")


class ModelTestOut(BaseModel):
    run_id: int
    checkpoint: str = Field(description="best, last or epoch_NNN")
    epoch: int | None
    step: int
    device: str = Field(description="Where the model ran (cpu, cuda:0...).")
    results: list[ImageResultOut] = Field(description="One per uploaded image, in upload order.")
