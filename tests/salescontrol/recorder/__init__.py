"""Tests of the recorder agent (salescontrol/recorder): real ffmpeg, real HTTP."""
