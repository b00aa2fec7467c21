"""The `refhub` command line."""
from __future__ import annotations

import argparse
import json
import sys
import warnings

from services.common.config import SERVICES, load_settings


def _keys(args, settings):
    from services.common.auth import KeyStore
    from services.common.mongo import connect

    store = KeyStore(connect(settings.effective_mongo_uri)[settings.auth_db])
    if args.keys_command == "create":
        key_id, token = store.create(args.role, args.agency, args.label)
        print(f"created {args.role} key {key_id}" + (f" for {args.agency}" if args.agency else ""))
        print("the token is shown once; store it safely:", file=sys.stderr)
        print(token)
    elif args.keys_command == "list":
        for key in store.list():
            print(f"{key['key_id']}  {key['role']:12} {key.get('agency') or '-':18} "
                  f"{'revoked' if key.get('revoked') else 'active'}  {key['created_at']:%Y-%m-%d}")
    elif args.keys_command == "revoke":
        if not store.revoke(args.key_id):
            raise SystemExit(f"refhub: no active key {args.key_id}")
        print(f"revoked {args.key_id}")


def _users(args, settings):
    """People's accounts for the portal; a new or reset account's set-password link is the last line."""
    from services.common.mongo import connect
    from services.common.people import AccountError, PeopleStore, set_password_url

    store = PeopleStore(connect(settings.effective_mongo_uri)[settings.auth_db])
    store.ensure_indexes()
    try:
        if args.users_command == "list":
            for person in store.list():
                state = "active" if person.get("active") else "disabled"
                if person.get("active") and not person.get("password_set_at"):
                    state += ", no password yet"
                print(f"{person['email']:40} {person['role']:12} {person.get('agency') or '-':18} {state}")
            return
        if args.users_command == "disable":
            store.disable(args.email)
            print(f"disabled {args.email}; their sessions and links no longer work")
            return
        if args.users_command == "create":
            person, token = store.create(args.email, args.role, args.agency, args.name)
            print(f"created {person['role']} account for {person['email']}"
                  + (f" ({person['agency']})" if person.get("agency") else ""))
        else:
            person, token = store.reset(args.email)
            print(f"new link for {person['email']}; older links no longer work")
    except AccountError as exc:
        raise ValueError(str(exc)) from None
    print("send them this link; it works once, for 72 hours:", file=sys.stderr)
    print(set_password_url(settings.portal_public_url, token))


def _dead_letters(args, settings):
    from . import replay

    if args.dl_command == "list":
        for row in replay.list_dead_letters(settings, args.service):
            print(json.dumps(row, default=str))
    else:
        replay.replay(settings, args.service, args.dead_letter_id)
        print(f"replayed {args.dead_letter_id}")


def _notifications(args, settings):
    from . import replay

    replay.retry_notification(settings, args.notification_id)
    print(f"{args.notification_id} will be sent again")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refhub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser("stack", help="run the whole system locally without Docker")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("--infra-only", action="store_true",
                       help="only RabbitMQ and the database (what the tests need)")

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key; the token is the last line printed")
    create.add_argument("--role", required=True, choices=["partner", "coordinator", "fire_officer", "admin"])
    create.add_argument("--agency", help="the partner agency this key submits for (partner keys)")
    create.add_argument("--label", help="who holds the key, for your records")
    keys_sub.add_parser("list")
    revoke = keys_sub.add_parser("revoke")
    revoke.add_argument("key_id")

    users = sub.add_parser("users", help="people's accounts for the web portal")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    user_create = users_sub.add_parser("create", help="create an account; the set-password link is the last line")
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--role", required=True, choices=["partner", "coordinator", "fire_officer", "admin"])
    user_create.add_argument("--agency", help="the partner agency the person works for (partners)")
    user_create.add_argument("--name", help="their name, as shown on pages")
    users_sub.add_parser("list")
    for verb, text in (("disable", "stop an account working (and sign it out)"),
                       ("reset", "a new set-password link (older ones stop working)")):
        users_sub.add_parser(verb, help=text).add_argument("email")

    dl = sub.add_parser("dead-letters", help="events a handler could not process after every retry")
    dl_sub = dl.add_subparsers(dest="dl_command", required=True)
    dl_list = dl_sub.add_parser("list")
    dl_list.add_argument("--service", choices=SERVICES)
    dl_replay = dl_sub.add_parser("replay")
    dl_replay.add_argument("dead_letter_id")
    dl_replay.add_argument("--service", choices=SERVICES, required=True)

    notes = sub.add_parser("notifications", help="the delivery log")
    notes_sub = notes.add_subparsers(dest="notifications_command", required=True)
    retry = notes_sub.add_parser("retry", help="send a failed message again")
    retry.add_argument("notification_id")
    return parser


def main(argv=None) -> int:
    warnings.filterwarnings("ignore")
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "stack":
        from . import stack
        try:
            if args.action == "up":
                stack.up(settings, infra_only=args.infra_only)
            elif args.action == "down":
                stack.down(settings)
            else:
                return 0 if stack.status(settings) else 1
        except stack.StackError as exc:
            print(f"refhub: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        {"keys": _keys, "users": _users, "dead-letters": _dead_letters, "notifications": _notifications}[args.command](
            args, settings)
    except ValueError as exc:
        print(f"refhub: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
