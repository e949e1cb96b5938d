"""Evaluation videos: chosen episodes, rendered every `stride` steps, with a caption, streamed to
an MP4 or GIF file.

`VideoSettings` says what to film: which evaluation contexts (by index), how many episodes of each,
every how many steps a frame is rendered, the frame size, the camera (`envs.markers.CAMERAS`) and
the frame rate. `VideoWriter` writes the frames one at a time as they are rendered, so a video
holds no more than one frame in memory whatever its length: MP4 (H.264) through imageio's ffmpeg
plugin (the imageio-ffmpeg package), GIF through Pillow, one adaptive palette per frame. The format
follows the path's extension. The file is written under a temporary name and moved onto the path
when the video is complete, so an interrupted evaluation leaves no partial video.

Every frame of an environment that draws goal markers (`set_goal_markers`, envs.markers) carries a
caption below the picture: the task, the context and the episode, and a legend of the colours
(the target, each level's goal, the map items), the colours of the trajectory plots. The picture
is rendered at the frame size less the caption's height, so nothing of the scene is hidden.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from envs import hooks, markers
from hierarchy.plots.trajectory_plot import map_items
from hierarchy.run import files

FORMATS = (".mp4", ".gif")
DEFAULT_SIZE = (720, 720)
DEFAULT_STRIDE = 2
DEFAULT_FPS = 30
_CAPTION_BACKGROUND = (25, 25, 25)
_CAPTION_TEXT = (235, 235, 235)


class VideoSettingsError(ValueError):
    """A video setting that cannot be honoured; raised before anything is evaluated or written."""


def _fail(message: str) -> None:
    raise VideoSettingsError(message)


@dataclasses.dataclass(frozen=True)
class VideoSettings:
    """What an evaluation films (the defaults: the first episode of every context, every second
    step, 720 x 720 pixels, the overview camera, 30 frames per second: a 500-step episode lasts
    8.4 s, 6 times faster than simulated time for the 0.1 s steps of the ant tasks).

    Attributes:
      path: the video file, ".mp4" or ".gif".
      contexts: indices of the evaluation contexts to film (None: all).
      episodes: episodes filmed per context, the first ones; at most the evaluation's episodes.
      stride: a frame every `stride` environment steps, from the reset's frame; the final step's
        frame always, so an episode of n steps has ceil(n / stride) + 1 frames.
      size: (width, height) of a frame in pixels; even for MP4.
      camera: one of `envs.markers.CAMERAS` ("overview": the environment's own view of the task's
        area, "follow": a camera following the robot); environments outside the `envs` package
        render with their own camera and accept only "overview".
      fps: frames per second.
      caption: the caption with the legend below the picture.
    """

    path: str
    contexts: tuple[int, ...] | None = None
    episodes: int = 1
    stride: int = DEFAULT_STRIDE
    size: tuple[int, int] = DEFAULT_SIZE
    camera: str = "overview"
    fps: int = DEFAULT_FPS
    caption: bool = True

    def __post_init__(self):
        self.check()

    @property
    def extension(self) -> str:
        return os.path.splitext(self.path)[1].lower()

    def check(self) -> None:
        """Raises VideoSettingsError for a bad setting, or for MP4 without imageio-ffmpeg."""
        if self.extension not in FORMATS:
            _fail(f"video {self.path!r}: unknown extension {self.extension or '(none)'!r}; "
                  f"write one of {', '.join(FORMATS)}")
        for name in ("episodes", "stride", "fps"):
            if getattr(self, name) < 1:
                _fail(f"video {name} must be >= 1, got {getattr(self, name)}")
        width, height = self.size
        if not all(markers.MIN_FRAME_SIZE <= v <= markers.MAX_FRAME_SIZE for v in self.size):
            _fail(f"video size must be {markers.MIN_FRAME_SIZE} to {markers.MAX_FRAME_SIZE} pixels "
                  f"wide and high, got {width}x{height}")
        if self.extension == ".mp4" and (width % 2 or height % 2):
            _fail(f"an MP4 video needs an even width and height (H.264), got {width}x{height}")
        if self.camera not in markers.CAMERAS:
            _fail(f"video camera must be one of {markers.CAMERAS}, got {self.camera!r}")
        if self.contexts is not None and (not self.contexts or min(self.contexts) < 0
                                          or len(set(self.contexts)) != len(self.contexts)):
            _fail(f"video contexts must be distinct indices >= 0, got {list(self.contexts)}")
        if self.extension == ".mp4":
            try:
                import imageio_ffmpeg  # noqa: F401
            except ImportError:
                _fail("an MP4 video needs the imageio-ffmpeg package (pinned in requirements.txt: "
                      "pip install -r requirements.txt); or write a .gif")

    def check_evaluation(self, num_contexts: int, episodes_per_context: int) -> None:
        """Raises VideoSettingsError if the evaluation has no such context or too few episodes."""
        if self.contexts is not None and max(self.contexts) >= num_contexts:
            _fail(f"video context {max(self.contexts)} does not exist: the task has "
                  f"{num_contexts} evaluation context(s), indices 0 to {num_contexts - 1}")
        if self.episodes > episodes_per_context:
            _fail(f"video episodes ({self.episodes}) exceed the evaluation's episodes per context "
                  f"({episodes_per_context})")

    def films(self, context_index: int, episode: int) -> bool:
        """Whether episode `episode` of context `context_index` is filmed."""
        chosen = self.contexts is None or context_index in self.contexts
        return chosen and episode < self.episodes


def parse_size(text: str) -> tuple[int, int]:
    """(width, height) from "WIDTHxHEIGHT" (e.g. "640x480"); VideoSettingsError otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        _fail(f"video size must be WIDTHxHEIGHT in pixels, e.g. 640x480; got {text!r}")
    return int(parts[0]), int(parts[1])


def legend_entries(agent, env) -> list[tuple[str, tuple]]:
    """(label, RGB in [0, 1]) of what the colours of a frame mean: the target, every level's goal
    (level 0's is the target itself, drawn as a sphere above it) and the map items' kinds."""
    entries = [("target", markers.TARGET_COLOR[:3])]
    for k, level in enumerate(agent.hierarchy.levels):
        colour = markers.LEVEL_COLORS[k % len(markers.LEVEL_COLORS)][:3]
        entries.append((f"level {k} ({level.level_name}) goal", colour))
    for kind in dict.fromkeys(item.kind for item in map_items(env)):
        entries.append((kind, markers.ITEM_COLORS.get(kind, (0.5, 0.5, 0.5))))
    return entries


class Caption:
    """The strip below the picture: a title line, then the legend's entries as coloured dots with
    their labels, wrapped to the frame's width. Text in Pillow's default font, scaled to the frame."""

    def __init__(self, entries: Sequence[tuple[str, tuple]], width: int, frame_height: int):
        self.font_size = max(9, round(frame_height / 40))
        self._font = ImageFont.load_default(size=self.font_size)
        self.width, self._entries = width, list(entries)
        self._rows = self._layout()
        self.line = round(1.4 * self.font_size)
        self.height = self.line * (1 + len(self._rows)) + self.font_size // 2

    def _entry_width(self, label: str) -> float:
        return self.font_size * 1.2 + self._font.getlength(label) + self.font_size

    def _layout(self) -> list[list[tuple[str, tuple]]]:
        rows, used = [[]], 0.0
        for label, colour in self._entries:
            w = self._entry_width(label)
            if rows[-1] and used + w > self.width - self.font_size:
                rows.append([])
                used = 0.0
            rows[-1].append((label, colour))
            used += w
        return rows

    def image(self, title: str) -> np.ndarray:
        """The caption for `title`: uint8 [height, width, 3]."""
        strip = Image.new("RGB", (self.width, self.height), _CAPTION_BACKGROUND)
        draw = ImageDraw.Draw(strip)
        pad, r = self.font_size // 2, self.font_size * 0.4
        draw.text((pad, pad // 2), title, fill=_CAPTION_TEXT, font=self._font)
        for n, row in enumerate(self._rows, start=1):
            x, y = float(pad), pad // 2 + n * self.line
            for label, colour in row:
                cy = y + self.font_size * 0.6
                draw.ellipse((x, cy - r, x + 2 * r, cy + r),
                             fill=tuple(round(255 * c) for c in colour))
                draw.text((x + self.font_size * 1.2, y), label, fill=_CAPTION_TEXT, font=self._font)
                x += self._entry_width(label)
        return np.asarray(strip)


class _Mp4Stream:
    """H.264 frames piped to ffmpeg (imageio's ffmpeg plugin)."""

    def __init__(self, path: str, fps: int):
        import imageio.v2 as imageio

        self._writer = imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264",
                                          quality=8, pixelformat="yuv420p", macro_block_size=2,
                                          ffmpeg_log_level="error")

    def write(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)

    def close(self) -> None:
        self._writer.close()


class _GifStream:
    """GIF frames written as they come: each quantised to its own palette (Pillow's fast octree,
    no dithering), the file's header from the first."""

    def __init__(self, path: str, fps: int):
        self._file = open(path, "wb")
        self._duration = round(1000 / fps)
        self._started = False

    def write(self, frame: np.ndarray) -> None:
        from PIL import GifImagePlugin

        image = Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE,
                                                dither=Image.Dither.NONE)
        if not self._started:
            header, _ = GifImagePlugin.getheader(image, info={"loop": 0, "duration": self._duration})
            self._file.write(b"".join(header))
            self._started = True
        for chunk in GifImagePlugin.getdata(image, duration=self._duration, include_color_table=True):
            self._file.write(chunk)

    def close(self) -> None:
        self._file.write(b";")
        self._file.close()


class VideoWriter:
    """Streams the frames of the filmed episodes to `settings.path` (a context manager: the file is
    in place when it exits normally, and not written if it exits with an exception).
    `prepare(agent, env)` sets the environment's frame size and camera and builds the caption;
    `start_episode` sets the caption's title; `append` writes a frame."""

    def __init__(self, settings: VideoSettings):
        self.settings = settings
        self.frames = 0
        self._exit = ExitStack()
        self._stream = None
        self._caption = None
        self._strip = None
        self._picture_size = settings.size

    def __enter__(self) -> VideoWriter:
        os.makedirs(os.path.dirname(os.path.abspath(self.settings.path)), exist_ok=True)
        tmp = self._exit.enter_context(files.atomic_output(self.settings.path,
                                                           suffix=self.settings.extension))
        stream = (_Mp4Stream if self.settings.extension == ".mp4" else _GifStream)(
            tmp, self.settings.fps)
        self._exit.callback(stream.close)
        self._stream = stream
        return self

    def __exit__(self, *exc) -> bool:
        return self._exit.__exit__(*exc)

    def prepare(self, agent, env) -> None:
        """Frame size and camera of `env`'s renders, and the caption (for environments that draw
        goal markers, in frames where it takes at most a third of the height).

        Raises:
          VideoSettingsError: the "follow" camera for an environment that cannot follow its robot.
        """
        width, height = self.settings.size
        target = env.unwrapped
        if self.settings.caption and isinstance(target, hooks.ShowsGoalMarkers):
            caption = Caption(legend_entries(agent, env), width, height)
            if caption.height <= height // 3:    # else the frame is too small for one
                height -= caption.height + caption.height % 2   # H.264 needs even sizes
                caption.height = self.settings.size[1] - height
                self._caption = caption
        self._picture_size = (width, height)
        if isinstance(target, hooks.HasRenderOptions):
            target.set_render_options(width=width, height=height, camera=self.settings.camera)
        elif self.settings.camera != "overview":
            _fail(f"video camera {self.settings.camera!r}: {type(target).__name__} renders with "
                  "its own camera only (use 'overview')")

    def start_episode(self, title: str) -> None:
        """The caption's title for the following frames."""
        self._strip = None if self._caption is None else self._caption.image(title)

    def append(self, frame: np.ndarray) -> None:
        """Writes one rendered frame: scaled to the picture size if the environment rendered
        another, the caption below."""
        frame = np.asarray(frame, np.uint8)
        if frame.shape[1::-1] != self._picture_size:
            frame = np.asarray(Image.fromarray(frame).resize(self._picture_size, Image.BILINEAR))
        if self._strip is not None:
            frame = np.concatenate([frame, self._strip[: self.settings.size[1] - frame.shape[0]]])
        self._stream.write(frame)
        self.frames += 1
