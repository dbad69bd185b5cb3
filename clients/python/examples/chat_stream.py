#!/usr/bin/env python3
"""Stream chat tokens from Chat/Complete as the model produces them (asyncio API).

    python chat_stream.py "Why is the sky blue?" --port 7443 --ca data/dev-cert.pem --email root@example.com
    (an administrator's login: password from $OVA_PASSWORD, else prompted)
Ctrl-C cancels the call (RESET), which stops the generation upstream.
"""
import argparse
import asyncio
import getpass
import os
import sys

from ova_client import AsyncChannel, OvaError
from ova_client.generated.ova.v1 import auth_ova, auth_pb2, chat_ova, chat_pb2


async def chat(args) -> int:
    async with AsyncChannel(args.host, args.port, ca=args.ca) as channel:
        password = os.environ.get("OVA_PASSWORD") or getpass.getpass(f"password for {args.email}: ")
        login = await auth_ova.AuthAsyncClient(channel).login(auth_pb2.LoginRequest(email=args.email, password=password))
        channel.metadata.append(("authorization", f"Bearer {login.access_token}"))
        client = chat_ova.ChatAsyncClient(channel)
        request = chat_pb2.ChatRequest(
            messages=[chat_pb2.ChatMessage(role=chat_pb2.CHAT_ROLE_USER, content=args.prompt)],
            conversation_id=args.conversation)
        try:
            async with await client.complete(request, timeout=args.timeout) as call:
                async for response in call:
                    if response.HasField("delta"):
                        print(response.delta.content, end="", flush=True)
                    elif response.HasField("done"):
                        done = response.done
                        print(f"\n[{chat_pb2.FinishReason.Name(done.finish_reason)}, "
                              f"{done.usage.total_tokens} tokens, {done.model}]")
        except OvaError as e:
            print(f"\nchat failed: {e}", file=sys.stderr)
            return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompt")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7443)
    ap.add_argument("--ca", default="data/dev-cert.pem")
    ap.add_argument("--email", required=True, help="administrator to log in as")
    ap.add_argument("--conversation", default="", help="server-side conversation id (keeps history)")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    try:
        return asyncio.run(chat(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
