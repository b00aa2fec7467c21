"""The `refhub` command line."""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from services.common.config import SERVICES, load_settings
from services.common.logs import configure_logging


def _keys(args, settings):
    from services.common.auth import KeyStore, expires_at, parse_lifetime
    from services.common.mongo import connect

    store = KeyStore(connect(settings.effective_mongo_uri)[settings.auth_db])
    if args.keys_command == "create":
        lifetime = parse_lifetime(args.expires)
        key_id, token = store.create(args.role, args.agency, args.label, lifetime=lifetime)
        print(f"created {args.role} key {key_id}" + (f" for {args.agency}" if args.agency else "")
              + f", expires {expires_at(store.keys.find_one({'key_id': key_id})):%Y-%m-%d %H:%M} UTC")
        print("the token is shown once; store it safely:", file=sys.stderr)
        print(token)
    elif args.keys_command == "list":
        from services.common.envelope import utcnow

        now = utcnow()
        print(f"{'key':12}  {'role':12} {'agency':18} {'state':8} {'created':10}  {'expires':10}  last used")
        for key in store.list():
            state = "revoked" if key.get("revoked") else "expired" if expires_at(key) <= now else "active"
            last = key.get("last_used_at")
            print(f"{key['key_id']:12}  {key['role']:12} {key.get('agency') or '-':18} {state:8} "
                  f"{key['created_at']:%Y-%m-%d}  {expires_at(key):%Y-%m-%d}  "
                  f"{f'{last:%Y-%m-%d %H:%M} UTC' if last else 'never'}")
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


def _queues(args, settings):
    from services.common.topology import migrate_classic_queues
    from . import stack

    report = migrate_classic_queues(settings.amqp_uri, stack.event_services(), settings.retry_delays_ms)
    print(f"moved {report['moved']} messages; deleted {len(report['deleted'])} classic queues")
    for name in report["kept"]:
        print(f"kept {name}: it still has a consumer or a message (a service from before the upgrade?); "
              f"stop it and run this again")
    if report["kept"]:
        raise ValueError(f"{len(report['kept'])} old queues are still in use")


def _notifications(args, settings):
    from . import replay

    replay.retry_notification(settings, args.notification_id)
    print(f"{args.notification_id} will be sent again")


def _audit(args, settings):
    from . import records

    if args.verify:
        broken = False
        for result in records.verify(settings):
            print(f"{result.chain}: {result.entries} entries, " + ("intact" if result.intact else "TAMPERED"))
            for problem in result.problems:
                print(f"  {problem}")
            broken = broken or not result.intact
        if broken:
            raise SystemExit(1)
        return
    if not args.case:
        raise ValueError("give --case ID (the case's audit trail) or --verify (check every chain)")
    for entry in records.case_trail(settings, args.case):
        print(json.dumps(entry))


def _sar(args, settings):
    from . import records

    from nameko.exceptions import RemoteError, RpcTimeout

    try:
        document = records.export_subject_access(settings, args.reference, args.out)
    except RemoteError as exc:  # e.g. NotFound: no such reference
        raise ValueError(f"the referrals service refused: {exc.value}") from None
    except RpcTimeout:
        raise ValueError("the referrals service did not answer; is it running?") from None
    print(f"wrote {args.out} (HTML with the JSON inside, 0600)")
    for missing in document["incomplete"]:
        print(f"incomplete: {missing}", file=sys.stderr)
    if document["incomplete"]:
        raise SystemExit(3)


def _retention(args, settings):
    from . import retention

    report = retention.run(settings, dry_run=args.dry_run)
    print(json.dumps(report, indent=2, default=str))


def _library_logs_to_file(settings) -> None:
    """pika's, nameko's and our structured records go to a log file: the terminal shows refhub's lines.

    configure_logging is first-call-wins, so this must run before the service modules are imported
    (they configure logging at INFO on stderr when imported).
    """
    try:
        logs = settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stream = open(logs / "refhub-cli.log", "a", encoding="utf-8")  # noqa: SIM115 (open for the process)
    except OSError:
        stream = open(os.devnull, "w")  # noqa: SIM115
    configure_logging("INFO", stream=stream)


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
    create.add_argument("--expires", default="365d",
                        help="how long the key works: a number and h, d or w [365d]; expired keys get 401")
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

    queues = sub.add_parser("queues", help="RabbitMQ queues")
    queues_sub = queues.add_subparsers(dest="queues_command", required=True)
    queues_sub.add_parser("migrate", help="declare the quorum queues and move what the classic queues of "
                                          "an earlier install hold into them (`stack up` does this too)")

    notes = sub.add_parser("notifications", help="the delivery log")
    notes_sub = notes.add_subparsers(dest="notifications_command", required=True)
    retry = notes_sub.add_parser("retry", help="send a failed message again")
    retry.add_argument("notification_id")

    audit = sub.add_parser("audit", help="who read, changed or disclosed a case (every service's chain)")
    audit.add_argument("--case", help="the case id")
    audit.add_argument("--verify", action="store_true", help="check every hash chain; exit 1 if one was tampered with")

    sar = sub.add_parser("sar", help="subject access")
    sar_sub = sar.add_subparsers(dest="sar_command", required=True)
    export = sar_sub.add_parser("export", help="everything every service holds about the person of a referral")
    export.add_argument("--reference", required=True, help="HRW-YYYY-NNNNNN")
    export.add_argument("--out", required=True, type=Path, help="the file to write (HTML with the JSON inside)")

    retention = sub.add_parser("retention", help="erase and scrub what the retention schedule says is due")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_sub.add_parser("run", help="run today's retention now (replicas' daily run is unaffected)")
    run.add_argument("--dry-run", action="store_true", help="report what would go; change nothing")
    return parser


def main(argv=None) -> int:
    warnings.filterwarnings("ignore")
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command in ("stack", "queues"):
        _library_logs_to_file(settings)
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
    if args.command in ("audit", "sar", "retention"):
        _library_logs_to_file(settings)  # their output is a report; the services' logs go to the log file
    try:
        {"keys": _keys, "users": _users, "dead-letters": _dead_letters, "notifications": _notifications,
         "queues": _queues, "audit": _audit, "sar": _sar, "retention": _retention}[args.command](
            args, settings)
    except ValueError as exc:
        print(f"refhub: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
