"""`salescontrol demo`: demo data for the dashboard, from the synthesized shop day.

The shop day of the end-to-end tests (ten scripted coffee-shop dialogues in
clock-aligned Ogg Opus chunks, with their ground truth; tests.support.shopday)
is laid over the last days at an organisation «Демо» with two coffee shops in
Asia/Almaty, three registers and a recorder at each:

- source.py   the shop day, imported from the test tree only when the demo runs
- plan.py     the organisation and when each device recorded which part of the day
- fleet.py    points, registers and devices in the database; their last heartbeat
- audio.py    the chunks stored through the ingest's own code, each its own file
- workers.py  the real VAD worker and cutter on them, then transcription and
              analysis workers that read the script (or Whisper, with --asr)
- script.py   the script's transcripts and judgements
- extras.py   users, reviews, realistic timestamps
- load.py     the whole run and what it prints

Running it again adds nothing: the organisation is found by its name, a device's
recording sessions are the same for the same day, and only sessions after a
device's last chunk are added (a later day tops the demo up).
"""

from salescontrol.demo.load import MAX_DAYS, Report, describe, has_dialogues, load_demo
from salescontrol.demo.source import DemoUnavailable

__all__ = ["MAX_DAYS", "DemoUnavailable", "Report", "describe", "has_dialogues", "load_demo"]
