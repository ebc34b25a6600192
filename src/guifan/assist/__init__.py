"""Live assist: the standard applied while the agent types and talks (docs/assist.md).

A client of the engine: ``LiveSession`` grows a conversation's check context turn by turn and asks
the rules for the hints they declare; ``FunAsrStream`` reads a streaming recognizer's messages as
partial and final turns. The web workspace serves it (``guifan.web.assist``).
"""

from guifan.assist.funasr import FunAsrError, FunAsrStream, Recognized
from guifan.assist.live import AssistError, LiveSession, Update

__all__ = ["AssistError", "FunAsrError", "FunAsrStream", "LiveSession", "Recognized", "Update"]
