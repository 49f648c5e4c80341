"""Reading and writing images and videos as uint8 RGB numpy arrays."""

from keyvid.io.image import IMAGE_SUFFIXES, read_image, write_image
from keyvid.io.video import (
    VIDEO_SUFFIXES,
    WRITE_SUFFIXES,
    VideoWriter,
    mp4_codec,
    open_video,
    read_video,
    read_video_fps,
    write_video,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "WRITE_SUFFIXES",
    "VideoWriter",
    "mp4_codec",
    "open_video",
    "read_image",
    "read_video",
    "read_video_fps",
    "write_image",
    "write_video",
]
