"""Faces: read images, detect faces, find 5-point landmarks, align crops to named templates.

Typical use::

    from genfer.faces import FacePipeline, load_image

    pipe = FacePipeline(template="fer2013", size=48, grayscale=True)
    for aligned in pipe.process(load_image("photo.jpg")):
        aligned.face.box, aligned.face.source, aligned.crop  # (48, 48) uint8

A face with ``source == "whole-image"`` was not detected: the (roughly square) image was
assumed to be a tight face crop. Report this to users.
"""

from .align import (
    TEMPLATES,
    CropTemplate,
    align_face,
    alignment_matrix,
    box_matrix,
    crop_box,
    estimate_similarity,
    get_template,
    to_opencv_matrix,
    warp_crop,
)
from .detect import Face, FaceDetector, landmarks_from_keypoints, nms
from .io import IMAGE_EXTENSIONS, ImageReadError, list_images, load_image
from .landmarks import FaceLandmarker, landmarks_for, template_landmarks
from .pipeline import AlignedFace, FacePipeline

__all__ = [
    "IMAGE_EXTENSIONS",
    "TEMPLATES",
    "AlignedFace",
    "CropTemplate",
    "Face",
    "FaceDetector",
    "FaceLandmarker",
    "FacePipeline",
    "ImageReadError",
    "align_face",
    "alignment_matrix",
    "box_matrix",
    "crop_box",
    "estimate_similarity",
    "get_template",
    "landmarks_for",
    "landmarks_from_keypoints",
    "list_images",
    "load_image",
    "nms",
    "template_landmarks",
    "to_opencv_matrix",
    "warp_crop",
]
