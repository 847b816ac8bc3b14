"""`salescontrol worker vad|asr|analysis`: take jobs of one kind, one at a time,
from the database on the core or through the internal routes from another host."""
