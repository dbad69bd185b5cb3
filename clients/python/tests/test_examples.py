"""The scripts in clients/python/examples run against the real server."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from ova_client.generated.ova.v1 import auth_ova, auth_pb2, common_pb2, speech_ova, speech_pb2

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run_example(server, name, *args):
    env = dict(os.environ, OVA_PASSWORD=ADMIN_PASSWORD)
    return subprocess.run([sys.executable, str(EXAMPLES / name), "--port", str(server.port), "--ca", server.ca,
                           "--email", ADMIN_EMAIL, *args], env=env, capture_output=True, text=True, timeout=60)


def test_login_and_list_users(server):
    out = run_example(server, "login_list_users.py")
    assert out.returncode == 0, out.stderr
    assert f"logged in as {ADMIN_EMAIL}" in out.stdout


def test_recognize_a_wav_file_streamed_in_real_time(server, channel, tmp_path):
    login = auth_ova.AuthClient(channel).login(auth_pb2.LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD))
    bearer = [("authorization", f"Bearer {login.access_token}")]
    audio = b"".join(r.audio for r in speech_ova.SpeechClient(channel).synthesize(
        speech_pb2.SynthesizeRequest(text="open the door", language_code="en", encoding=common_pb2.AUDIO_ENCODING_WAV),
        metadata=bearer) if r.HasField("audio"))
    wav = tmp_path / "phrase.wav"
    wav.write_bytes(audio)
    out = run_example(server, "recognize_wav.py", str(wav), "--phrases", "open the door,hello world")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "open the door"


def test_chat_without_a_configured_model_says_so(server):
    out = run_example(server, "chat_stream.py", "hello")
    assert out.returncode == 1
    assert "FAILED_PRECONDITION" in out.stderr
