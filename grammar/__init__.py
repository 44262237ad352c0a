"""The rldsl grammar (``rlm.lark``), shipped inside the wheel as ``rldsl.grammar``."""
