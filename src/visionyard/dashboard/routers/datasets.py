"""Datasets: `/datasets`, `/datasets/browse`, `/datasets/{dataset_id}` and its analysis, samples
and thumbnails. Paths are always relative to DATASETS_DIR (or to the dataset's root)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from visionyard.dashboard.access import AdminUser, CurrentUser
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import IdPath, NameFilter, PageParams, RelPath, SafeStr
from visionyard.dashboard.schemas.datasets import (
    DatasetAnalysis,
    DatasetCreate,
    DatasetOut,
    DatasetPage,
    FolderListingOut,
    SampleOut,
    SamplePage,
)
from visionyard.dashboard.services import datasets as service
from visionyard.db.models import Dataset

router = APIRouter(tags=["datasets"])


def _out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(
        id=dataset.id,
        name=dataset.name,
        path=dataset.rel_path,
        fingerprint=dataset.fingerprint,
        analysis=DatasetAnalysis.model_validate(dataset.analysis) if dataset.analysis else None,
        analysed_at=dataset.analysed_at,
        created_at=dataset.created_at,
    )


# Declared before /datasets/{dataset_id} so "browse" is never taken for an id.
@router.get("/datasets/browse", operation_id="browseDatasets", response_model=FolderListingOut)
def browse_datasets(
    _user: AdminUser,
    state: StateDep,
    path: Annotated[RelPath, Query(description="Folder relative to DATASETS_DIR")] = "",
) -> FolderListingOut:
    listing = service.browse(state, path)
    return FolderListingOut.model_validate(listing, from_attributes=True)


@router.get("/datasets", operation_id="listDatasets", response_model=DatasetPage)
def list_datasets(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams,
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at"], Query()] = "created_at",
) -> DatasetPage:
    items, total = service.list_datasets(
        session,
        q=q,
        sort=sort,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return DatasetPage.of([_out(d) for d in items], total, page)


@router.post(
    "/datasets",
    operation_id="createDataset",
    response_model=DatasetOut,
    status_code=status.HTTP_201_CREATED,
)
def create_dataset(
    body: DatasetCreate, _user: AdminUser, session: SessionDep, state: StateDep
) -> DatasetOut:
    return _out(service.register_dataset(session, state, name=body.name, path=body.path))


@router.get("/datasets/{dataset_id}", operation_id="getDataset", response_model=DatasetOut)
def get_dataset(dataset_id: IdPath, _user: CurrentUser, session: SessionDep) -> DatasetOut:
    return _out(service.get_dataset(session, dataset_id))


@router.post(
    "/datasets/{dataset_id}/analyze", operation_id="analyzeDataset", response_model=DatasetOut
)
def analyze_dataset(
    dataset_id: IdPath, _user: AdminUser, session: SessionDep, state: StateDep
) -> DatasetOut:
    return _out(service.analyze_dataset(session, state, dataset_id))


@router.delete(
    "/datasets/{dataset_id}",
    operation_id="deleteDataset",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def delete_dataset(dataset_id: IdPath, _user: AdminUser, session: SessionDep) -> None:
    service.delete_dataset(session, dataset_id)


@router.get(
    "/datasets/{dataset_id}/samples",
    operation_id="listDatasetSamples",
    response_model=SamplePage,
)
def list_dataset_samples(
    dataset_id: IdPath,
    _user: CurrentUser,
    state: StateDep,
    page: PageParams,
    split: Annotated[Literal["train", "val", "test"], Query()] = "train",
    class_name: Annotated[SafeStr | None, Query(max_length=255)] = None,
) -> SamplePage:
    items, total = service.list_samples(
        state,
        dataset_id,
        split=split,
        class_name=class_name,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return SamplePage.of(
        [SampleOut(path=s.path, split=s.split, class_name=s.class_name) for s in items], total, page
    )


@router.get(
    "/datasets/{dataset_id}/thumbnail",
    operation_id="getDatasetThumbnail",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}},
            "description": "A JPEG (PNG when the image has transparency) thumbnail",
        }
    },
)
def get_dataset_thumbnail(
    dataset_id: IdPath,
    _user: CurrentUser,
    state: StateDep,
    path: Annotated[RelPath, Query(description="Image path relative to the dataset root")],
    size: Annotated[
        int, Query(ge=service.MIN_THUMBNAIL, le=service.MAX_THUMBNAIL, description="Longer edge")
    ] = 128,
) -> Response:
    data, media_type = service.thumbnail(state, dataset_id, path=path, size=size)
    return Response(
        content=data,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
