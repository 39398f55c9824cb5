"""Record every received message (and what else books depend on) to zstd files; replay them.

``FeedHandler(recorder=Recorder("recordings/"))`` records; ``Replay(files).run()`` feeds the
recording back through the same decoders, reproducing books and ring rows exactly.
"""

from feedhandler.record.format import RecordingError
from feedhandler.record.replay import Replay, ReplayStats
from feedhandler.record.tap import Recorder

__all__ = ["Recorder", "RecordingError", "Replay", "ReplayStats"]
