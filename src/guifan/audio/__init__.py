"""The audio front end: call recordings in, timed `Conversation`s with voice measurements out.

    for item in read_recording(Path("call.wav"), "call.wav", AudioOptions(agent_channel=1)):
        ...  # a Conversation (or an InputError naming the file)

A reader like the others (it imports only the model and errors); numpy, soundfile, webrtcvad and
pyworld come with ``pip install 'guifan[audio]'``, speech recognizers with their own extras
(``guifan.audio.asr``).
"""

from guifan.audio.frontend import AudioOptions, analyse, read_recording

__all__ = ["AudioOptions", "analyse", "read_recording"]
