#!/usr/bin/env python3
"""Stream a WAV file to Speech/Recognize as if it were a microphone and print the transcripts.

The first request is the RecognitionConfig, then 100 ms chunks of 16-bit mono PCM, sent at
real-time pace (--fast: as fast as flow control allows); results are printed as they arrive.

    python recognize_wav.py hello.wav --port 7443 --ca data/dev-cert.pem --email root@example.com [--interim]
    (an administrator's login: password from $OVA_PASSWORD, else prompted)
"""
import argparse
import getpass
import os
import sys
import time
import wave

from ova_client import Channel, OvaError
from ova_client.generated.ova.v1 import auth_ova, auth_pb2, common_pb2, speech_ova, speech_pb2


def requests(path: str, language: str, interim: bool, phrases, realtime: bool):
    with wave.open(path, "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            sys.exit("need a 16-bit mono WAV file")
        rate = wav.getframerate()
        yield speech_pb2.RecognizeRequest(config=speech_pb2.RecognitionConfig(
            encoding=common_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=rate, language_code=language,
            interim_results=interim, phrase_hints=phrases))
        start = time.monotonic()
        sent = 0.0
        while True:
            chunk = wav.readframes(rate // 10)  # 100 ms
            if not chunk:
                return
            if realtime:  # a microphone cannot send audio before it was spoken
                time.sleep(max(0.0, start + sent - time.monotonic()))
            yield speech_pb2.RecognizeRequest(audio=chunk)
            sent += len(chunk) / 2 / rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wav")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7443)
    ap.add_argument("--ca", default="data/dev-cert.pem")
    ap.add_argument("--email", required=True, help="administrator to log in as")
    ap.add_argument("--language", default="en")
    ap.add_argument("--interim", action="store_true", help="also print interim results")
    ap.add_argument("--phrases", default="", help="comma-separated phrase hints")
    ap.add_argument("--fast", action="store_true", help="do not pace the audio in real time")
    args = ap.parse_args()
    phrases = [p for p in args.phrases.split(",") if p]

    with Channel(args.host, args.port, ca=args.ca) as channel:
        password = os.environ.get("OVA_PASSWORD") or getpass.getpass(f"password for {args.email}: ")
        login = auth_ova.AuthClient(channel).login(auth_pb2.LoginRequest(email=args.email, password=password))
        channel.metadata.append(("authorization", f"Bearer {login.access_token}"))
        speech = speech_ova.SpeechClient(channel)
        call = speech.recognize(requests(args.wav, args.language, args.interim, phrases, not args.fast))
        try:
            for response in call:
                for result in response.results:
                    if not result.alternatives:
                        continue
                    text = result.alternatives[0].transcript
                    print(text if result.is_final else f"… {text}", flush=True)
        except OvaError as e:
            print(f"recognition failed: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
