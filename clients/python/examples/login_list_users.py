#!/usr/bin/env python3
"""Log in as an admin and list the users (blocking API).

    python login_list_users.py --port 7443 --ca data/dev-cert.pem --email root@example.com
    (password from $OVA_PASSWORD, else prompted)
"""
import argparse
import getpass
import os

from ova_client import Channel, OvaError
from ova_client.generated.ova.v1 import auth_ova, auth_pb2, users_ova, users_pb2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7443)
    ap.add_argument("--ca", default="data/dev-cert.pem", help="PEM certificate to trust (the server's dev cert)")
    ap.add_argument("--email", required=True)
    ap.add_argument("--inactive", action="store_true", help="include deactivated users")
    args = ap.parse_args()
    password = os.environ.get("OVA_PASSWORD") or getpass.getpass(f"password for {args.email}: ")

    with Channel(args.host, args.port, ca=args.ca) as channel:
        try:
            login = auth_ova.AuthClient(channel).login(auth_pb2.LoginRequest(email=args.email, password=password))
        except OvaError as e:
            print(f"login failed: {e}")
            return 1
        channel.metadata.append(("authorization", f"Bearer {login.access_token}"))
        users = users_ova.UsersClient(channel).list_users(
            users_pb2.ListUsersRequest(include_inactive=args.inactive), timeout=10)
        print(f"logged in as {login.admin.email}; {len(users.users)} user(s)")
        for user in users.users:
            print(f"{user.id:>6}  {user.email:<32} {user.name}{'' if user.active else '  (inactive)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
