"""Transforms to and from JSON, exactly (Python floats round-trip doubles), composites nested."""

from __future__ import annotations

from typing import Any

import SimpleITK as sitk

_ENUMS = {
    "IdentityTransform": sitk.sitkIdentity,
    "TranslationTransform": sitk.sitkTranslation,
    "ScaleTransform": sitk.sitkScale,
    "ScaleLogarithmicTransform": sitk.sitkScaleLogarithmic,
    "Euler2DTransform": sitk.sitkEuler,
    "Euler3DTransform": sitk.sitkEuler,
    "Similarity2DTransform": sitk.sitkSimilarity,
    "Similarity3DTransform": sitk.sitkSimilarity,
    "QuaternionRigidTransform": sitk.sitkQuaternionRigid,
    "VersorTransform": sitk.sitkVersor,
    "VersorRigid3DTransform": sitk.sitkVersorRigid,
    "ScaleSkewVersor3DTransform": sitk.sitkScaleSkewVersor,
    "ScaleVersor3DTransform": sitk.sitkScaleVersor,
    "AffineTransform": sitk.sitkAffine,
}


def _concrete(transform: sitk.Transform) -> Any:
    """The transform as its concrete class (GetNthTransform, GetOrder...). Any: SimpleITK's stubs type
    Downcast as returning the base class."""
    return transform.Downcast() if type(transform) is sitk.Transform else transform


def transform_to_dict(transform: sitk.Transform) -> dict[str, Any]:
    concrete = _concrete(transform)
    name = concrete.GetName()
    if name == "CompositeTransform":
        return {
            "type": name,
            "dimension": concrete.GetDimension(),
            "transforms": [
                transform_to_dict(concrete.GetNthTransform(i)) for i in range(concrete.GetNumberOfTransforms())
            ],
        }
    out = {
        "type": name,
        "dimension": concrete.GetDimension(),
        "parameters": list(concrete.GetParameters()),
        "fixed_parameters": list(concrete.GetFixedParameters()),
    }
    if name == "BSplineTransform":
        out["order"] = concrete.GetOrder()
    return out


def transform_from_dict(data: dict[str, Any]) -> sitk.Transform:
    """Rebuild a transform written by :func:`transform_to_dict`, bit for bit."""
    name, dim = data["type"], int(data["dimension"])
    if name == "CompositeTransform":
        parts = [transform_from_dict(d) for d in data["transforms"]]
        return sitk.CompositeTransform(parts) if parts else sitk.CompositeTransform(dim)
    transform: sitk.Transform
    if name == "BSplineTransform":
        transform = sitk.BSplineTransform(dim, int(data.get("order", 3)))
    elif name == "DisplacementFieldTransform":
        transform = sitk.DisplacementFieldTransform(dim)
    elif name in _ENUMS:
        transform = sitk.Transform(dim, _ENUMS[name]).Downcast()
    else:
        raise ValueError(f"cannot rebuild a transform of type {name!r}")
    transform.SetFixedParameters([float(x) for x in data["fixed_parameters"]])
    transform.SetParameters([float(x) for x in data["parameters"]])
    return transform


def is_deformable(transform: sitk.Transform) -> bool:
    concrete = _concrete(transform)
    name = concrete.GetName()
    if name == "CompositeTransform":
        return any(is_deformable(concrete.GetNthTransform(i)) for i in range(concrete.GetNumberOfTransforms()))
    return name in ("BSplineTransform", "DisplacementFieldTransform")
