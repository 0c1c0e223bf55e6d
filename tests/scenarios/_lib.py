"""Helpers for _generate.py: dates (R1), ids, event builders, expected-state builders.

Expectations are worked out by hand from ../shared/spec/rules.md; these helpers only do the
calendar arithmetic (R1) so that it is not done wrong by hand.
"""
import datetime as dt
import json
import random
import uuid
from calendar import monthrange

AP_LINE = {"action_pack", "learning_action_pack"}
TYPES = {
    "action_pack": ["azure_credits", "cloud_services", "developer_tools", "support_and_advisory", "on_premises_software"],
    "learning_action_pack": ["azure_credits", "cloud_services", "developer_tools", "support_and_advisory"],
}
for _o in ("solutions_partner", "legacy_gold", "legacy_silver"):
    TYPES[_o] = ["azure_credits", "cloud_services", "developer_tools", "support_and_advisory", "marketing", "on_premises_software"]


def d(s):
    return dt.date.fromisoformat(s)


def add_months(s, n):
    x = d(s)
    m = x.month - 1 + n
    y, m = x.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(x.day, monthrange(y, m)[1])).isoformat()


def add_days(s, n):
    return (d(s) + dt.timedelta(days=n)).isoformat()


def ad(start):
    return add_months(start, 12)


def window(start):
    a = ad(start)
    return {"opens": add_days(a, 1), "closes": add_days(a, 30)}


def activate_by(start):
    return add_months(start, 13)


def lapse(start):
    return add_days(ad(start), 31)


def mem(offer, status, start, source=None, dates=True):
    m = {}
    if offer == "action_pack":
        m["line"] = "action_pack"
    m.update({"offer": offer, "status": status, "start": start})
    if dates:
        m.update({"anniversary": ad(start), "renewal_window": window(start), "activate_by": activate_by(start)})
    if source:
        m["source"] = source
    return m


def ben(offer, term_start, typ, status, source=None, **kw):
    b = {"offer": offer, "term_start": term_start, "type": typ, "status": status}
    b.update(kw)
    if source:
        b["source"] = source
    return b


def ben_avail(offer, start, typ, source=None):
    return ben(offer, start, typ, "available", source, provided=start, activate_by=activate_by(start),
               unlocked=None, expires=None)


def ben_red(offer, start, typ, unlocked, status="redeemed", source=None):
    return ben(offer, start, typ, status, source, unlocked=unlocked, expires=add_months(unlocked, 12))


class Scenario:
    def __init__(self, name, why, clock="2000-01-01T00:00:00"):
        self.name, self.why = name, why
        self.rng = random.Random("pl-" + name)
        self.steps, self.queries, self.commands = [], [], []
        self.clock = dt.datetime.fromisoformat(clock)

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def ev(self, account, typ, date, data=None, rec=None, **extra):
        e = {"id": self.uid(), "account": account, "type": typ, "date": date, "recorded_at": rec}
        e.update(extra)
        e["data"] = {} if data is None else data
        return e

    def stamp(self, e):
        """Gives `e` its recorded_at when the step is written, so that recording instants follow
        the order of the files (never backwards): the business date at 09:00, or a minute after the
        previous instant for back-dated entries."""
        if e.get("recorded_at") is None:
            try:
                business = dt.datetime.fromisoformat(e["date"] + "T09:00:00")
            except (ValueError, TypeError):  # deliberately impossible dates in malformed-input scenarios
                business = self.clock
            t = max(self.clock + dt.timedelta(minutes=1), business)
            e["recorded_at"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            t = dt.datetime.fromisoformat(e["recorded_at"].replace("Z", "+00:00")).replace(tzinfo=None)
        self.clock = max(self.clock, t)
        return e

    # event builders
    def verify(self, a, date, **k):
        return self.ev(a, "business_profile_verified", date, {}, **k)

    def buy(self, a, date, offer, **k):
        return self.ev(a, "membership_purchased", date, {"offer": offer}, **k)

    def renew(self, a, date, offer, **k):
        return self.ev(a, "membership_renewed", date, {"offer": offer}, **k)

    def qualify(self, a, date, area, score=80, **k):
        return self.ev(a, "designation_qualified", date, {"solution_area": area, "score": score}, **k)

    def redeem(self, a, date, benefit, offer=None, **k):
        data = {"benefit": benefit}
        if offer:
            data["offer"] = offer
        return self.ev(a, "benefit_redeemed", date, data, **k)

    def token(self, a, date, tok, seats, product="Microsoft 365 Business Premium", offer=None, **k):
        data = {"token": tok, "product": product, "seats": seats}
        if offer:
            data["offer"] = offer
        return self.ev(a, "token_issued", date, data, **k)

    def activate_token(self, a, date, tok, tenant, seats, **k):
        return self.ev(a, "token_activated", date, {"token": tok, "tenant": tenant, "seats": seats}, **k)

    def replace(self, a, date, tok, repl, reason="wrong_tenant", **k):
        return self.ev(a, "replacement_token_issued", date, {"token": tok, "replacement": repl, "reason": reason}, **k)

    def key(self, a, date, key, activations, kind="mak", product="Windows Server 2022 Standard", offer=None, **k):
        data = {"key": key, "product": product, "activations": activations, "kind": kind}
        if offer:
            data["offer"] = offer
        return self.ev(a, "product_key_issued", date, data, **k)

    def activate_key(self, a, date, key, machine, hardware_changed=None, **k):
        data = {"key": key, "machine": machine}
        if hardware_changed is not None:
            data["hardware_changed"] = hardware_changed
        return self.ev(a, "product_key_activated", date, data, **k)

    def assign(self, a, date, sub, user, level="professional", offer=None, **k):
        data = {"subscription": sub, "level": level, "user": user}
        if offer:
            data["offer"] = offer
        return self.ev(a, "vs_subscription_assigned", date, data, **k)

    def activate_vs(self, a, date, sub, **k):
        return self.ev(a, "vs_subscription_activated", date, {"subscription": sub}, **k)

    def unassign(self, a, date, sub, **k):
        return self.ev(a, "vs_subscription_unassigned", date, {"subscription": sub}, **k)

    def merge(self, a, date, absorbed, **k):
        return self.ev(a, "accounts_merged", date, {"absorbed": absorbed}, **k)

    def void(self, a, date, event, reason="entered in error", **k):
        eid = event["id"] if isinstance(event, dict) else event
        return self.ev(a, "event_voided", date, {"event": eid, "reason": reason}, **k)

    # scenario parts
    def step(self, events, expect="accepted", rule="__unset__", line=None, note=None, added=None,
             unchanged=False, stderr_any=None, raw=None):
        fname = f"step{len(self.steps) + 1}.jsonl"
        lines = raw if raw is not None else [json.dumps(self.stamp(e)) for e in events]
        st = {"file": fname, "expect": expect}
        if expect == "accepted":
            st["added"] = len(lines) if added is None else added
            if unchanged:
                st["unchanged"] = True
        else:
            if rule != "__unset__":
                st["rule"] = rule
            if line is not None:
                st["line"] = line
            if stderr_any:
                st["stderr_any"] = stderr_any
        if note:
            st["note"] = note
        self.steps.append((st, lines))
        return fname

    def accept(self, *events, note=None):
        return self.step(list(events), note=note)

    def reject(self, rule, *events, line=1, note=None, stderr_any=None):
        return self.step(list(events), expect="rejected", rule=rule, line=line, note=note, stderr_any=stderr_any)

    def q(self, account, as_of, expect, known_at=None, after=None, note=None):
        qq = {}
        if after:
            qq["after"] = after
        qq.update({"account": account, "as_of": as_of})
        if known_at:
            qq["known_at"] = known_at
        if note:
            qq["note"] = note
        e = {"account": account, "as_of": as_of}
        if not known_at:
            e["known_at"] = None
        e.update(expect)
        qq["expect"] = e
        self.queries.append(qq)

    def write(self, root):
        import os
        import shutil
        folder = os.path.join(root, self.name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        spec = {"why": self.why, "steps": [s for s, _ in self.steps], "queries": self.queries}
        if self.commands:
            spec["commands"] = self.commands
        for st, lines in self.steps:
            with open(os.path.join(folder, st["file"]), "w") as f:
                f.write("".join(l + "\n" for l in lines))
        with open(os.path.join(folder, "expect.json"), "w") as f:
            json.dump(spec, f, indent=2)
            f.write("\n")


def ex(items):
    return {"$exact": items}
